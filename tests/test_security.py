"""Static paths and headers: an unknown or malformed static path is a 404 with no traceback in
the log; scripts are limited by a CSP that still lets Dash run; the page config does not tell
the Python build."""

from __future__ import annotations

import hashlib
import base64
import json
import logging
import re
import sys

import pytest

BAD_STATIC = [
    "/_dash-component-suites/dash/..%2f..%2f..%2fapp.py",
    "/_dash-component-suites/dash/..%2F..%2Fservices%2Fcache.py",
    "/_dash-component-suites/nope/x.js",
    "/_dash-component-suites/dash/dcc/nothere.js",
    "/_dash-component-suites/plotly/package_data/%2e%2e/%2e%2e/app.py",
    "/assets/..%2fapp.py",
]


@pytest.mark.parametrize("path", BAD_STATIC)
def test_unknown_or_malformed_static_paths_are_404_without_a_traceback(client, path, caplog):
    with caplog.at_level(logging.INFO):
        response = client.get(path)
    assert response.status_code == 404
    assert b"import" not in response.data and b"Traceback" not in response.data
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info], caplog.text


def test_real_static_files_are_still_served(client):
    html = client.get("/").get_data(as_text=True)
    sources = re.findall(r'<script src="([^"]+)"', html)
    assert sources
    for src in sources[:4]:
        assert client.get(src).status_code == 200, src


def test_the_page_config_does_not_reveal_the_python_build(client):
    html = client.get("/train").get_data(as_text=True)
    config = json.loads(re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>', html,
                                  re.S).group(1))
    assert "python_version" not in config and sys.version not in html and "GCC" not in html
    assert config["requests_pathname_prefix"] == "/"  # the config itself is still there


def test_scripts_are_limited_by_a_csp_that_allows_exactly_dashs_inline_scripts(client):
    response = client.get("/sphere")
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    sources = policy["script-src"].split()
    assert "'self'" in sources and "'unsafe-inline'" not in sources and "*" not in sources
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'self'"
    # every executable inline script of the page is allowed by its hash, and nothing else is
    html = response.get_data(as_text=True)
    inline = [body for attrs, body in re.findall(r"<script((?:(?!src=)[^>])*)>(.*?)</script>", html, re.S)
              if "application/json" not in attrs and "Internet Explorer" not in body]
    assert inline
    hashes = {f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'" for body in inline}
    assert hashes <= set(sources), "an inline script of the page is not allowed by the CSP"
    assert len([s for s in sources if s.startswith("'sha256-")]) == len(hashes)
