"""Dash's browser polyfill is @babel/polyfill 7 (core-js 2 and regenerator-runtime, 29 KB in
Brotli): core-js re-implements ES2015-2017 for browsers that predate it, which every browser
that can draw polyviz's WebGL figures has natively; its evaluation cost ~0.1 s of a new
visitor's main thread on the 2-core test machine, before Dash's renderer could start. What Dash's
own bundles still need from it is ``regeneratorRuntime`` (their async functions are compiled
to generators that call it), so its URL is answered with regenerator-runtime alone
(``browser_polyfill/``, MIT, from npm), 25 KB, 3 KB in Brotli.
"""

from __future__ import annotations

import pathlib
import re

from flask import Flask

from services import static_files

RUNTIME = pathlib.Path(__file__).with_name("browser_polyfill") / "regenerator-runtime-0.14.1.js"
# Dash's URL for the polyfill, with or without the fingerprint it adds in a page's tags.
_POLYFILL_URL = re.compile(r"dash/deps/polyfill@7(\.v[\w]+m\d+)?\.\d+\.\d+(\.min)?\.js")


def install(server: Flask, pathname_prefix: str = "/") -> None:
    static_files.serve_in_place(server, pathname_prefix, _POLYFILL_URL, RUNTIME)
