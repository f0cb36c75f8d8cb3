"""Static scripts as a browser receives them: compressed bodies that decompress to exactly the
file, Brotli when the browser takes it (gzip otherwise), compressed once and then served from
memory, a year's cache lifetime for fingerprinted URLs only; pages and callback answers stay
uncacheable."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import brotli
import pytest

BROWSER = "gzip, deflate, br, zstd"  # what Chromium sends
from services.plotly_bundle import BUNDLE as PLOTLY_FILE  # what the graphs' plotly.js URL serves


def script_urls(client, page="/train") -> list[str]:
    return re.findall(r'<script src="([^"]+)"', client.get(page).get_data(as_text=True))


def plotly_url(client) -> str:
    """plotly.min.js as the page's scripts fingerprint it (Graph loads it on demand)."""
    renderer = next(u for u in script_urls(client) if "dash_renderer" in u)
    fingerprint = re.search(r"\.(v[\w]+m\d+)\.", renderer).group(1)
    return f"/_dash-component-suites/plotly/package_data/plotly.{fingerprint}.min.js"


@pytest.fixture(scope="module")
def static_cache(dash_app):
    import app as app_module
    return app_module.static_cache


def test_plotly_in_brotli_decompresses_to_exactly_the_file(client, static_cache):
    first = client.get(plotly_url(client), headers={"Accept-Encoding": BROWSER})  # maybe the quick stand-in
    static_cache.wait()
    response = client.get(plotly_url(client), headers={"Accept-Encoding": BROWSER})  # the strongest
    original = PLOTLY_FILE.read_bytes()
    for answer in (first, response):
        assert answer.status_code == 200 and answer.headers["Content-Encoding"] == "br"
        assert "Accept-Encoding" in answer.headers["Vary"]
        assert brotli.decompress(answer.data) == original
    assert int(response.headers["Content-Length"]) == len(response.data) <= len(first.data)
    assert len(response.data) < len(original) * 0.28  # Brotli 11: 0.57 of 2.18 MB (quality 5: 0.64)


def test_gzip_when_the_browser_takes_no_brotli_and_plain_when_it_takes_nothing(client):
    url = plotly_url(client)
    zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(zipped.data) == PLOTLY_FILE.read_bytes()
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and plain.data == PLOTLY_FILE.read_bytes()


def test_a_second_request_is_served_from_memory_without_compressing_again(client, static_cache):
    url = next(u for u in script_urls(client) if "dash_core_components." in u)
    first = client.get(url, headers={"Accept-Encoding": BROWSER})
    static_cache.wait()
    first = client.get(url, headers={"Accept-Encoding": BROWSER})  # the strong body, now cached
    compressions = static_cache.compressions
    # another fingerprint of the same file must not make a new cache entry either
    other = re.sub(r"\.v\w+m\d+\.", ".v9_9_9m1.", url)
    again = [client.get(u, headers={"Accept-Encoding": BROWSER}) for u in (url, url, other)]
    assert all(r.data == first.data and r.headers["Content-Encoding"] == "br" for r in again)
    assert static_cache.compressions == compressions


def test_assets_are_compressed_and_revalidate_to_304(client):
    url = next(u for u in script_urls(client) if u.startswith("/assets/"))
    response = client.get(url, headers={"Accept-Encoding": BROWSER})
    assert response.headers["Content-Encoding"] == "br"
    path = url.split("?")[0].removeprefix("/assets/")
    import app as app_module
    assert brotli.decompress(response.data) == (Path(app_module.app.config.assets_folder) / path).read_bytes()
    etag = response.headers["ETag"]
    again = client.get(url, headers={"Accept-Encoding": BROWSER, "If-None-Match": etag})
    assert again.status_code == 304 and not again.data


def test_fingerprinted_urls_live_a_year_and_pages_and_callbacks_do_not(client):
    urls = script_urls(client)
    for url in [u for u in urls if "_dash-component-suites" in u or "?m=" in u]:
        assert client.get(url).headers["Cache-Control"] == "public, max-age=31536000, immutable", url
    unversioned = client.get("/assets/app.js")
    assert "immutable" not in unversioned.headers.get("Cache-Control", "")
    page = client.get("/train", headers={"Accept-Encoding": BROWSER})
    assert "max-age=31536000" not in page.headers.get("Cache-Control", "")
    body = {"output": "..x.children..", "outputs": [], "inputs": [], "changedPropIds": []}
    answer = client.post("/_dash-update-component", data=json.dumps(body), content_type="application/json")
    assert "max-age=31536000" not in answer.headers.get("Cache-Control", "")
    layout = client.get("/_dash-layout", headers={"Accept-Encoding": BROWSER})
    assert layout.status_code == 200 and "max-age=31536000" not in layout.headers.get("Cache-Control", "")
    assert layout.headers.get("Content-Encoding") != "br"  # dynamic JSON keeps Flask-Compress's fast level


def test_a_new_worker_serves_the_strong_body_another_worker_kept_and_ignores_a_damaged_one(tmp_path):
    """The ~10 s of Brotli 11 are paid once per machine: a second worker (a new cache on the
    same directory) serves the kept body without compressing; a damaged kept body is never served."""
    import brotli

    from services.static_files import STRONG_AT_ONCE_BYTES, CompressedCache

    data = b"".join(b"var x%d = Plotly.react(gd, data, layout);\n" % i for i in range(STRONG_AT_ONCE_BYTES // 30))
    first = CompressedCache(tmp_path / "static")
    first.get(data, "br")  # the quick stand-in at once, the strong body in a thread
    first.wait()
    strong = first.get(data, "br")
    assert brotli.decompress(strong) == data and len(list((tmp_path / "static").glob("*.br"))) == 1

    second = CompressedCache(tmp_path / "static")
    assert second.get(data, "br") == strong and second.compressions == 0

    kept = next((tmp_path / "static").glob("*.br"))
    kept.write_bytes(strong[: len(strong) // 2])  # a damaged copy
    third = CompressedCache(tmp_path / "static")
    body = third.get(data, "br")
    assert brotli.decompress(body) == data and third.compressions >= 1


def test_two_workers_asking_for_one_script_at_once_compress_it_strongly_once(tmp_path):
    """The workers of a new server get the same first requests: one compresses, the other waits
    for its kept body (two at once doubled the CPU that slowed the first pages)."""
    import brotli

    from services.static_files import STRONG_AT_ONCE_BYTES, CompressedCache

    data = b"".join(b"Plotly.restyle(gd, {x: [%d]}, [0]);\n" % i for i in range(STRONG_AT_ONCE_BYTES // 25))
    workers = [CompressedCache(tmp_path / "static") for _ in range(2)]
    quick = [w.get(data, "br") for w in workers]  # both answer at once with the quick stand-in
    workers[0].wait()
    strong = [w.get(data, "br") for w in workers]
    assert sum(w.compressions for w in workers) == 3  # two quick, one strong
    assert strong[0] == strong[1] and all(body != strong[0] for body in quick)
    assert brotli.decompress(strong[0]) == data
