"""Static scripts and styles (Dash's ``_dash-component-suites/...`` and ``/assets/...``):
compressed once, at the strongest setting, and kept in memory; fingerprinted URLs are cached
by the browser for a year.

Flask-Compress (Dash's ``compress=True``) compresses every response on every request at one
fast level: plotly.min.js (4.8 MB) cost ~0.1 s of CPU per request and went out at 1.41 MB
(zstd 3). Brotli at quality 11 makes it 1.11 MB but takes ~10 s of CPU, so it is paid once
per file and worker: the first request gets a quick Brotli (quality 5) at once while the
strong one is computed in a thread (brotli releases the GIL); later requests get the strong
one from memory (the quick one meanwhile). Dynamic answers (pages, callbacks) are left to Flask-Compress's fast level.

The in-memory cache is keyed by the content (CRC-32 and length) and the encoding, never by
the URL: a request can vary a fingerprint or a query string at will, but it cannot make the
cache hold more entries than there are distinct static files. Strong bodies are also written to
the private data directory (``<data dir>/static``), so the ~10 s are paid once per machine and
file version, not again by every worker and every recycled worker (one process at a time
compresses a file, under a lock there; the others wait and read its result); a body read
back from there is served only if it decompresses to the file's exact bytes.
"""

from __future__ import annotations

import fcntl
import gzip
import logging
import os
import pathlib
import re
import threading
import zlib

import brotli
from dash.fingerprint import check_fingerprint
from flask import Flask, Response, request, send_file

log = logging.getLogger(__name__)

ENCODINGS = ("br", "gzip")  # in order of preference when the browser takes both equally
COMPRESSIBLE = {"application/javascript", "text/javascript", "text/css", "application/json",
                "image/svg+xml", "text/plain", "application/x-javascript"}
MIN_BYTES = 500  # below this a compressed body is not smaller once headers are counted
BROTLI_STRONG = 11
BROTLI_QUICK = 5  # ~0.15 s for plotly.min.js, 1.35 MB; the stand-in while quality 11 runs
GZIP_LEVEL = 9  # gzip's strongest costs ~0.2 s for plotly.min.js: done at once
STRONG_AT_ONCE_BYTES = 256 * 1024  # quality 11 runs ~0.5 MB/s: small files need no stand-in
IMMUTABLE = "public, max-age=31536000, immutable"


def compress(data: bytes, encoding: str, strong: bool = True) -> bytes:
    if encoding == "br":
        return brotli.compress(data, quality=BROTLI_STRONG if strong else BROTLI_QUICK)
    return gzip.compress(data, GZIP_LEVEL, mtime=0)  # mtime=0: the same bytes every time


class CompressedCache:
    """Compressed bodies by (content, encoding); each strong compression runs once."""

    def __init__(self, directory: pathlib.Path | None = None):
        self.directory = directory  # where strong bodies are shared between workers (None: memory only)
        self.bodies: dict[tuple, bytes] = {}
        self.pending: set[tuple] = set()  # strong compressions running in a thread
        self.lock = threading.Lock()
        self.compressions = 0  # how many times a body was compressed (the tests count them)

    def _compress(self, data: bytes, encoding: str, strong: bool) -> bytes:
        with self.lock:
            self.compressions += 1
        return compress(data, encoding, strong)

    def get(self, data: bytes, encoding: str) -> bytes:
        key = (zlib.crc32(data), len(data), encoding)
        body = self.bodies.get(key)
        if body is not None:
            return body
        if encoding != "br" or len(data) <= STRONG_AT_ONCE_BYTES:
            body = self._compress(data, encoding, strong=True)
            self.bodies[key] = body
            return body
        body = self._read_shared(key, data)
        if body is not None:
            self.bodies[key] = body
            return body
        with self.lock:
            start = key not in self.pending
            self.pending.add(key)
        if start:
            threading.Thread(target=self._strong_later, args=(key, data), daemon=True,
                             name="brotli-11").start()
        body = self._compress(data, encoding, strong=False)
        self.bodies.setdefault(key, body)  # until the strong one replaces it
        return body

    def _shared_path(self, key: tuple) -> pathlib.Path | None:
        crc, length, encoding = key
        return None if self.directory is None else self.directory / f"{crc:08x}-{length}.{encoding}"

    def _read_shared(self, key: tuple, data: bytes) -> bytes | None:
        path = self._shared_path(key)
        try:
            body = path.read_bytes() if path is not None else None
            if body is not None and brotli.decompress(body) == data:
                return body
        except (OSError, brotli.error):
            pass  # absent, unreadable or damaged: compress again
        return None

    def _write_shared(self, key: tuple, body: bytes) -> None:
        path = self._shared_path(key)
        if path is None:
            return
        try:
            path.parent.mkdir(mode=0o700, exist_ok=True)
            partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            partial.write_bytes(body)
            os.replace(partial, path)  # whole or absent: a worker never reads half a body
        except OSError as error:
            log.warning("could not keep the compressed %s for other workers: %s", path.name, error)

    def _one_process_at_a_time(self, key: tuple):
        """An exclusive lock on the kept body's lock file (None without a directory): the
        workers of a new server all ask for the same scripts at once, and two compressing one
        file on 2 cores doubled the ~10 s of CPU that slowed the first pages a visitor opened."""
        path = self._shared_path(key)
        if path is None:
            return None
        try:
            path.parent.mkdir(mode=0o700, exist_ok=True)
            handle = open(path.with_name(path.name + ".lock"), "a")
            fcntl.flock(handle, fcntl.LOCK_EX)  # blocks this thread only; released if the holder dies
            return handle
        except OSError as error:
            log.warning("could not lock %s: compressing without it (%s)", path.name, error)
            return None

    def _strong_later(self, key: tuple, data: bytes) -> None:
        handle = self._one_process_at_a_time(key)
        try:
            kept = self._read_shared(key, data)  # another worker may have made it while this one waited
            if kept is not None:
                self.bodies[key] = kept
                return
            self.bodies[key] = self._compress(data, "br", strong=True)
            self._write_shared(key, self.bodies[key])
        except Exception:  # a failed compression leaves the quick path serving; log, not crash
            log.exception("strong Brotli compression failed")
        finally:
            if handle is not None:
                handle.close()
            with self.lock:
                self.pending.discard(key)

    def wait(self, timeout: float = 60.0) -> None:
        """Wait for the strong compressions running now (the tests use it)."""
        for thread in [t for t in threading.enumerate() if t.name == "brotli-11"]:
            thread.join(timeout)


def is_fingerprinted(path: str, suites_prefix: str, assets_prefix: str) -> bool:
    """Dash puts the package version and file time in a component-suite file's name
    (``dash_renderer.v3_0_1m1700000000.min.js``) and the file time in an asset's query
    (``?m=1700000000``): such a URL names one content forever."""
    if path.startswith(suites_prefix):
        return check_fingerprint(path[len(suites_prefix):])[1]
    return path.startswith(assets_prefix) and request.args.get("m", "").replace(".", "").isdigit()


def install(server: Flask, pathname_prefix: str = "/", directory: pathlib.Path | None = None) -> CompressedCache:
    """Register the hook; it runs before Flask-Compress's (Flask runs after-request hooks
    newest first), which leaves a response alone once it carries a Content-Encoding.
    ``directory``: where strong bodies are shared between workers."""
    cache = CompressedCache(directory)
    suites_prefix = pathname_prefix + "_dash-component-suites/"
    assets_prefix = pathname_prefix + "assets/"

    @server.after_request
    def compress_static_once(response: Response) -> Response:
        if (request.method not in ("GET", "HEAD") or response.status_code != 200
                or not request.path.startswith((suites_prefix, assets_prefix))):
            return response
        if is_fingerprinted(request.path, suites_prefix, assets_prefix):
            response.headers["Cache-Control"] = IMMUTABLE
        encoding = request.accept_encodings.best_match(ENCODINGS)
        if (encoding is None or response.mimetype not in COMPRESSIBLE
                or "Content-Encoding" in response.headers):
            return response  # Flask-Compress may still use another encoding the browser takes
        response.direct_passthrough = False  # send_file's stream: read it to compress it
        data = response.get_data()
        if len(data) < MIN_BYTES:
            return response
        response.set_data(cache.get(data, encoding))
        response.headers["Content-Encoding"] = encoding
        response.vary.add("Accept-Encoding")
        etag, weak = response.get_etag()
        if etag and not weak:  # the compressed body is other bytes: its own validator
            response.set_etag(f"{etag}:{encoding}")
            response.make_conditional(request)  # a revalidation with that validator: 304
        return response

    return cache


def serve_in_place(server: Flask, pathname_prefix: str, url: re.Pattern, file: pathlib.Path) -> None:
    """Answer the Dash component-suite URLs that ``url`` matches in full (after
    ``_dash-component-suites/``) with ``file``, a script of ours, instead of Dash's; install's
    after-request hook compresses it once and gives it its cache lifetime."""
    suites_prefix = pathname_prefix + "_dash-component-suites/"

    def answer_with_file():
        path = request.path
        if request.method in ("GET", "HEAD") and path.startswith(suites_prefix) \
                and url.fullmatch(path[len(suites_prefix):]):
            return send_file(file, mimetype="application/javascript", conditional=True, max_age=3600)
        return None

    server.before_request(answer_with_file)
