"""polyviz web app: builds the Dash app, registers the pages, exposes ``server`` for gunicorn.

    python app.py                # development server on http://127.0.0.1:8050
    gunicorn app:server          # production (see the Dockerfile for the arguments)

Configuration is by environment variable; see the README's "Configuration" section.
"""

from __future__ import annotations

import logging
import os

import dash
import torch
from dash import Dash, dcc, html, set_props
from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from services import cache, jobs

# One torch thread for the whole process, set once here at start (every gunicorn worker and
# the Celery worker import this module; background-job processes fork from them and inherit
# it). The models are tiny, so a second thread only adds contention, and the setting is
# process-wide: saving and restoring it around requests would race between threads.
torch.set_num_threads(1)

DEBUG = os.environ.get("POLYVIZ_DEBUG") == "1"
MAX_REQUEST_BYTES = int(os.environ.get("POLYVIZ_MAX_REQUEST_BYTES", str(2 * 1024 * 1024)))

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
log = logging.getLogger("polyviz")

ERROR_BANNER = "app-error"


def callback_error(error: Exception):
    """Any exception inside a callback: log it with its traceback, tell the user in words,
    and leave the page as it was (returning None sends no update)."""
    if cache.is_service_outage(error):
        log.error("service unavailable in a callback: %s: %s", type(error).__name__, error)
        message = ("The job and cache service (Redis) cannot be reached right now, so this needs to wait. "
                   "Pages that need no job or cache keep working; try again in a moment.")
    else:
        log.exception("callback failed: %s", error)
        message = (f"Something went wrong while computing this view ({type(error).__name__}). "
                   "It has been logged; the page still works, try other settings.")
    set_props(ERROR_BANNER, {"children": message})
    return None


app = Dash(
    __name__,
    use_pages=True,
    pages_folder="",  # pages are registered below from layouts/, not discovered from a folder
    title="polyviz",
    update_title=None,
    compress=True,  # gzip: base64 figure arrays shrink by about a quarter on the wire
    suppress_callback_exceptions=True,
    health_endpoint="health",
    on_error=callback_error,
    background_callback_manager=jobs.background_manager(),
    meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
)
server = app.server
server.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
cache.cache.init_app(server, config=cache.cache_config())

# Layout and callback modules register after the app exists (dash.register_page needs it).
from layouts import home, sphere, stretch_fold, train  # noqa: E402
import callbacks.sphere  # noqa: E402,F401
import callbacks.stretch_fold  # noqa: E402,F401
import callbacks.sweep  # noqa: E402,F401
import callbacks.train  # noqa: E402,F401
import callbacks.userdata  # noqa: E402,F401
import callbacks.exports  # noqa: E402,F401

# (layout module, its URL entry, name, title); the sphere page's entry reads a trained model
# from the cache, so it lives with that page's callbacks.
PAGES = [
    (home, home.layout, "Home", "polyviz — the geometry of LayerNorm and ReLU polytopes"),
    (stretch_fold, stretch_fold.layout, "Stretch & fold", "Stretch & fold — polyviz"),
    (sphere, callbacks.sphere.layout, "Polytopes on the sphere", "Polytopes on the LayerNorm sphere — polyviz"),
    (train, train.layout, "Toy classifiers", "Toy classifiers — polyviz"),
]
for order, (module, layout, name, title) in enumerate(PAGES):
    dash.register_page(module.__name__, path=module.PATH, name=name, title=title, order=order, layout=layout)


def not_found_layout(**_query):
    return html.Div([html.H2("Page not found"), html.P(["Nothing lives here. ", dcc.Link("Back to the start", href="/")])],
                    className="page")


dash.register_page("not_found_404", path="/404", layout=not_found_layout, title="Not found — polyviz")

# Dash answers every unknown GET with the app shell (200) and its router shows the page
# above in the browser; the status says so too, for crawlers, link checkers and monitors.
CATCH_ALL_ENDPOINT = app.config.routes_pathname_prefix + "<path:path>"


def is_page_path(path: str) -> bool:
    """True when a registered page (not the not-found one) lives at `path`, as Dash's router matches it."""
    wanted = (app.strip_relative_path(path) or "").strip("/")
    return any(wanted == page["path"].strip("/") for page in dash.page_registry.values()
               if page["module"] != "not_found_404")


@server.after_request
def unknown_paths_are_404(response):
    if request.endpoint == CATCH_ALL_ENDPOINT and response.status_code == 200 and not is_page_path(request.path):
        response.status_code = 404
    return response


def navbar() -> html.Header:
    links = [dcc.Link(name, href=module.PATH, className="nav-link") for module, _, name, _ in PAGES[1:]]
    return html.Header(
        [dcc.Link([html.Span("poly", className="logo-a"), html.Span("viz", className="logo-b")], href="/",
                  className="logo"),
         html.Nav(links, className="nav")],
        className="topbar",
    )


if DEBUG:  # under gunicorn too, not only `python app.py`
    app.enable_dev_tools(debug=True, dev_tools_hot_reload=False)

app.layout = html.Div(
    [navbar(), html.Div(id=ERROR_BANNER, className="error-box", role="alert"),
     html.Main(dash.page_container, className="main")],
    className="shell",
)


@server.errorhandler(Exception)
def unexpected_error(error):
    """Requests that fail outside a callback: a malformed callback request is the
    client's error (400, in words); anything else is logged and answered without a
    traceback."""
    if isinstance(error, HTTPException):
        return error
    if request.path.endswith("/_dash-update-component"):
        log.warning("malformed callback request: %s: %s", type(error).__name__, error)
        return jsonify(error="malformed callback request", detail=type(error).__name__), 400
    log.exception("request failed: %s", request.path)
    return jsonify(error="internal error; it has been logged"), 500


# Lets the scale-out test see which gunicorn worker answered; off unless asked for.
WORKER_HEADER = os.environ.get("POLYVIZ_WORKER_HEADER") == "1"


@server.after_request
def security_headers(response):
    if WORKER_HEADER:
        response.headers["X-Polyviz-Worker"] = str(os.getpid())
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'self'")
    return response


# Dash completes its set-up (callback map, page routes) on the first request, without a
# lock: in a fresh gunicorn worker, concurrent first requests then saw a half-built
# callback map and failed. Making that first request here, at import, closes the race.
server.test_client().get("/")


if __name__ == "__main__":
    app.run(host=os.environ.get("POLYVIZ_HOST", "127.0.0.1"), port=int(os.environ.get("POLYVIZ_PORT", "8050")),
            debug=DEBUG)
