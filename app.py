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
from dash import ClientsideFunction, Dash, Input, Output, State, dcc, html, set_props
from dash.exceptions import DependencyException
from flask import jsonify, request
from werkzeug.exceptions import HTTPException

from layouts.common import notices_box
from polyviz import state as st
from services import admission, browser_polyfill, cache, jobs, plotly_bundle, static_files

# One torch thread for the whole process, set once here at start (every gunicorn worker, the
# embedded job host and the Celery worker import this module; the job host's children, one per
# job, fork from it and inherit it). The models are tiny, so a second thread only adds
# contention, and the setting is process-wide: saving and restoring it around requests would
# race between threads.
torch.set_num_threads(1)

DEBUG = os.environ.get("POLYVIZ_DEBUG") == "1"
MAX_REQUEST_BYTES = int(os.environ.get("POLYVIZ_MAX_REQUEST_BYTES", str(2 * 1024 * 1024)))

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
log = logging.getLogger("polyviz")

ERROR_BANNER = "app-error"
URL_NOTICES = "url-notices"  # what the page router had to fix in a link (a repeated field)


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
    compress=True,  # Flask-Compress (zstd/br/gzip, fast level) for pages and callbacks: base64 figure arrays shrink by a quarter
    suppress_callback_exceptions=True,
    health_endpoint="health",
    on_error=callback_error,
    background_callback_manager=jobs.background_manager(),
    meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
)
server = app.server
# plotly.js loads from every page's head, alongside Dash's own scripts, not when the first
# graph mounts (services/plotly_bundle.py EARLY_ID says how).
app.index_string = app.index_string.replace(
    "{%css%}", "{%css%}\n        " + plotly_bundle.head_tags(app.config.requests_pathname_prefix), 1)
# Static scripts: compressed once at Brotli's strongest and kept in memory, fingerprinted URLs
# cached by browsers for a year (services/static_files.py); callbacks keep Flask-Compress's fast level.
static_cache = static_files.install(server, app.config.requests_pathname_prefix, cache.data_dir() / "static")
# Graphs load a plotly.js with only the trace types polyviz draws (services/plotly_bundle.py).
plotly_bundle.install(server, app.config.requests_pathname_prefix)
# Dash's polyfill is answered with the one part of it Dash's scripts use (services/browser_polyfill.py).
browser_polyfill.install(server, app.config.requests_pathname_prefix)

# The page's config (a JSON script in every page) carried sys.version: the exact Python build
# and compiler, of use to nobody but someone looking for a matching exploit.
_dash_config = app._config


def page_config() -> dict:
    config = _dash_config()
    config.pop("python_version", None)
    return config


app._config = page_config
server.secret_key = jobs.signing_secret()  # one secret for every worker (services/jobs.py says why)
server.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
cache.cache.init_app(server, config=cache.cache_config())
admission.install(server)  # the session cookie that the per-client job cap counts by

# Layout and callback modules register after the app exists (dash.register_page needs it).
from layouts import compare, home, sphere, stretch_fold, train, transformer  # noqa: E402
import callbacks.compare  # noqa: E402,F401
import callbacks.sphere  # noqa: E402,F401
import callbacks.stretch_fold  # noqa: E402,F401
import callbacks.sweep  # noqa: E402,F401
import callbacks.train  # noqa: E402,F401
import callbacks.transformer  # noqa: E402,F401
import callbacks.userdata  # noqa: E402,F401
import callbacks.exports  # noqa: E402,F401
import callbacks.neurons  # noqa: E402,F401
import callbacks.python_code  # noqa: E402,F401

# (layout module, its URL entry, name, title); the sphere page's entry reads a trained model
# from the cache and the transformer page's loads its model, so they live with their callbacks.
PAGES = [
    (home, home.layout, "Home", "polyviz — the geometry of LayerNorm and ReLU polytopes"),
    (stretch_fold, stretch_fold.layout, "Stretch & fold", "Stretch & fold — polyviz"),
    (sphere, callbacks.sphere.layout, "Polytopes on the sphere", "Polytopes on the LayerNorm sphere — polyviz"),
    (train, train.layout, "Toy classifiers", "Toy classifiers — polyviz"),
    (compare, compare.layout, "Compare", "Compare models side by side — polyviz"),
    (transformer, callbacks.transformer.layout, "Real transformers",
     "Real transformers on the LayerNorm sphere — polyviz"),
]


def url_entry(layout):
    """A page's URL entry as Dash's page router calls it (``layout(**query)``): a field given
    more than once in the link (the router passes a list) takes its last value, and the page
    says so at its top; the page's own validation sees one value per field."""
    def entry(**query):
        query, notices = st.last_values(query)
        page = layout(**query)
        return html.Div([notices_box(notices, URL_NOTICES), page]) if notices else page

    entry.__doc__ = layout.__doc__
    return entry


for order, (module, layout, name, title) in enumerate(PAGES):
    dash.register_page(module.__name__, path=module.PATH, name=name, title=title, order=order,
                       layout=url_entry(layout))


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


# short names for a phone's navbar, so every page fits one line at 390 px
NAV_SHORT = {"Stretch & fold": "Stretch", "Polytopes on the sphere": "Sphere", "Toy classifiers": "Train",
             "Compare": "Compare", "Real transformers": "Transformers"}


def nav_id(path: str) -> str:
    return "nav" + path.replace("/", "-")


def navbar() -> html.Header:
    links = [dcc.Link([html.Span(name, className="nav-long"), html.Span(NAV_SHORT.get(name, name), className="nav-short")],
                      href=module.PATH, id=nav_id(module.PATH), className="nav-link", title=name)
             for module, _, name, _ in PAGES[1:]]
    return html.Header(
        [dcc.Link([html.Span("poly", className="logo-a"), html.Span("viz", className="logo-b")], href="/",
                  className="logo"),
         html.Nav(links, className="nav")],
        className="topbar",
    )


# the navbar marks the page you are on (class "active", aria-current), in the browser
NAV_PATHS = [module.PATH for module, _, _, _ in PAGES[1:]]
dash.clientside_callback(
    ClientsideFunction("polyviz", "markCurrentPage"),
    *[Output(nav_id(path), "className") for path in NAV_PATHS],
    Input("_pages_location", "pathname"),
    State("nav-paths", "data"),
)


if DEBUG:  # under gunicorn too, not only `python app.py`
    app.enable_dev_tools(debug=True, dev_tools_hot_reload=False)

app.layout = html.Div(
    [navbar(), dcc.Store(id="nav-paths", data=NAV_PATHS), html.Div(id=ERROR_BANNER, className="error-box", role="alert"),
     html.Main(dash.page_container, className="main")],
    className="shell",
)


CALLBACK_PATH = "/_dash-update-component"
ROUTER_OUTPUT = "_pages_content.children"  # Dash's page router (dash.page_container)


def router_input_problem(body) -> str | None:
    """What is wrong with a page-router request whose address is not a text starting with
    the app's path prefix (only a hand-made request sends that: a browser sends
    ``location.pathname`` and ``location.search``), else None. Dash hands the router its
    inputs by position (pathname, search), whatever ids they carry, so all are checked."""
    if not isinstance(body, dict) or ROUTER_OUTPUT not in str(body.get("output", "")):
        return None
    inputs = body.get("inputs")
    for position, item in enumerate(inputs if isinstance(inputs, list) else []):
        value = item.get("value") if isinstance(item, dict) else None
        part = ("pathname", "search")[position] if position < 2 else f"input {position}"
        if value is not None and not isinstance(value, str):
            return f"the page address's {part} must be text, got {type(value).__name__}"
        prefix = app.config.requests_pathname_prefix
        if position == 0 and isinstance(value, str) and not value.startswith(prefix):
            return f"the page address's pathname must start with {prefix!r}"
    return None


@server.before_request
def check_router_request():
    """Wrong types sent to the page router are the client's error: 400 in words, a warning
    in the log (no traceback), instead of a crash inside the router callback."""
    if request.method != "POST" or not request.path.endswith(CALLBACK_PATH):
        return None
    problem = router_input_problem(request.get_json(silent=True))
    if problem:
        log.warning("malformed page request: %s", problem)
        return jsonify(error="malformed page request", detail=problem), 400
    return None


CLEAR_BANNER = b'{"sideUpdate":{"%s":{"children":null}},' % ERROR_BANNER.encode()


@server.after_request
def clear_error_banner(response):
    """A callback the user set off (a changed input, or navigating: the page router) that
    succeeds clears the error banner, so it tells of the current view only. Callbacks a page
    fires when it first draws (no changed input) leave it, so a failure among them stays
    visible. The update rides on the answer as a side update, as set_props sends it."""
    if (request.method != "POST" or not request.path.endswith(CALLBACK_PATH) or response.status_code != 200
            or response.direct_passthrough or response.mimetype != "application/json"):
        return response
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not body.get("changedPropIds"):
        return response
    data = response.get_data()
    if data.startswith(b"{") and not data.startswith(b"{}") and b'"sideUpdate"' not in data:
        response.set_data(CLEAR_BANNER + data[1:])
    return response


STATIC_PREFIXES = tuple(app.config.requests_pathname_prefix + name
                        for name in ("_dash-component-suites/", "assets/", "_favicon.ico"))


@server.errorhandler(Exception)
def unexpected_error(error):
    """Requests that fail outside a callback: a malformed callback request is the
    client's error (400, in words); anything else is logged and answered without a
    traceback."""
    if isinstance(error, HTTPException):
        return error
    if isinstance(error, DependencyException) or request.path.startswith(STATIC_PREFIXES):
        # an unknown or malformed static path (e.g. ..%2f in a component-suite path) is a
        # miss, not a server error: one line in the log, no traceback
        log.warning("unknown static path: %s", request.path[:300])
        return "Not found", 404, {"Content-Type": "text/plain; charset=utf-8"}
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
    response.headers.setdefault("Content-Security-Policy", content_security_policy())
    return response


_CSP: list[str] = []


def content_security_policy() -> str:
    """Scripts only from this site, plus Dash's own inline scripts by their hashes (the
    renderer's start and the clientside callbacks; app.csp_hashes(), computed once every
    callback is registered) and the one that sees plotly.js arrive (plotly_bundle.head_tags).
    Plotly's WebGL traces (the 3-D scenes) compile shaders with ``new Function``, hence
    'unsafe-eval'; other inline scripts stay forbidden. Styles are not restricted: Dash and
    Plotly set them inline."""
    if not _CSP:
        scripts = " ".join(["'self'", "'unsafe-eval'", *app.csp_hashes(), plotly_bundle.csp_hash()])
        _CSP.append(f"script-src {scripts}; object-src 'none'; base-uri 'self'; frame-ancestors 'self'")
    return _CSP[0]


# Dash completes its set-up (callback map, page routes) on the first request, without a
# lock: in a fresh gunicorn worker, concurrent first requests then saw a half-built
# callback map and failed. Making that first request here, at import, closes the race.
server.test_client().get("/")


if __name__ == "__main__":
    app.run(host=os.environ.get("POLYVIZ_HOST", "127.0.0.1"), port=int(os.environ.get("POLYVIZ_PORT", "8050")),
            debug=DEBUG)
