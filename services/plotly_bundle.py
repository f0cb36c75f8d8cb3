"""The browser's plotly.js is a partial bundle with only the trace types polyviz draws.

Dash's graphs load plotly.js from ``_dash-component-suites/plotly/package_data/plotly.min.js``
(the full bundle: 4.8 MB, 1.11 MB in Brotli, about 57% of a first visit's bytes). This module
answers that URL with ``plotly_bundle/plotly-polyviz.min.js`` instead: the same plotly.js
version built from its own sources with only ``TRACES`` (2.2 MB, 0.57 MB in Brotli), so
there is less to fetch and, on a slow CPU, less to parse before the first figure draws.
``make plotly-bundle`` rebuilds it (``plotly_bundle/build.js``, needs node); the tests check
that its version is the plotly package's and that every figure the pages make uses only these
traces. Notebooks and HTML exports keep the plotly package's own, full plotly.js.
"""

from __future__ import annotations

import base64
import hashlib
import pathlib
import re

from dash.fingerprint import build_fingerprint
from flask import Flask

from services import static_files

BUNDLE = pathlib.Path(__file__).with_name("plotly_bundle") / "plotly-polyviz.min.js"
ENTRY = BUNDLE.with_name("entry.js")  # the bundle's source: the one list of its trace types
# The trace types the bundle registers: entry.js's ``require('plotly.js/lib/<type>')``s, and
# scatter, which comes with the core.
TRACES = frozenset({"scatter", *re.findall(r"require\('plotly\.js/lib/(\w+)'\)", ENTRY.read_text())} - {"core"})
# Dash's URL for plotly.js, with or without the version fingerprint it adds in a page's tags.
_PLOTLY_URL = re.compile(r"plotly/package_data/plotly(\.v[\w]+m\d+)?\.min\.js")


def bundle_version() -> str:
    """The plotly.js version in the bundle's first line (``/** plotly.js v4.1.1 ...``)."""
    with BUNDLE.open("rb") as handle:
        first = handle.readline().decode("ascii", "replace")
    match = re.search(r"plotly\.js v(\d+\.\d+\.\d+)", first)
    return match.group(1) if match else ""


# How a page loads plotly.js: a parser-inserted async <script> in its head, so the download
# and V8's compile (on a second thread) run alongside Dash's own scripts. A <link rel=preload>
# with the script added later by assets/app.js measured no faster than dcc.Graph's own loader:
# its compile then waits for the main thread. The inline script before it records whether
# that copy arrived (ARRIVAL, a promise of true or false), which can happen before
# assets/app.js runs and can listen; app.js then makes dcc.Graph wait for that copy.
EARLY_ID, ARRIVAL = "polyviz-plotly", "polyvizPlotlyArrival"
_ARRIVAL_SCRIPT = (
    f"window.{ARRIVAL}=new Promise(function(done){{function seen(e){{if(e.target&&e.target.id==='{EARLY_ID}')"
    "{document.removeEventListener('load',seen,true);document.removeEventListener('error',seen,true);"
    "done(e.type==='load')}}document.addEventListener('load',seen,true);"
    "document.addEventListener('error',seen,true)});")


def plotly_url(pathname_prefix: str = "/", fingerprinted: bool = False) -> str:
    """Dash's own URL for plotly.js, which ``install`` answers with the bundle; fingerprinted,
    with the bundle's version and a number drawn from its content, in Dash's form, so that
    browsers keep it for a year (services/static_files.py) and a new bundle has a new URL."""
    name = "plotly.min.js"
    if fingerprinted:
        content = int(hashlib.sha256(BUNDLE.read_bytes()).hexdigest()[:12], 16)
        name = build_fingerprint(name, bundle_version(), content)
    return f"{pathname_prefix}_dash-component-suites/plotly/package_data/{name}"


def head_tags(pathname_prefix: str = "/") -> str:
    """The tags that load plotly.js from a page's head (see EARLY_ID)."""
    src = plotly_url(pathname_prefix, fingerprinted=True)
    return (f"<script>{_ARRIVAL_SCRIPT}</script>\n"
            f'        <script async id="{EARLY_ID}" src="{src}"></script>')


def csp_hash() -> str:
    """The Content-Security-Policy source that allows head_tags' inline script."""
    digest = hashlib.sha256(_ARRIVAL_SCRIPT.encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def install(server: Flask, pathname_prefix: str = "/") -> None:
    static_files.serve_in_place(server, pathname_prefix, _PLOTLY_URL, BUNDLE)
