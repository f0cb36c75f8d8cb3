"""Shared machinery of the browser benchmark: the app under gunicorn, headless Chromium driven
by Playwright, and a page-side recorder of what Plotly drew and when.

Timing comes from inside the page (performance.now(), whose zero is the navigation start), so
the Python side's own delays never enter a figure:
- every `plotly_afterplot` (and animation event, and the `polyviz_painted` of a frame that
  assets/direct_draw.js drew without Plotly) of every graph, with the graph's component id,
  its trace and frame counts and `layout.meta.t` (the t a Stretch & fold panel shows);
- every real pointer event's `timeStamp` (when the browser received it, before any queueing);
- every change of a slider's `aria-valuenow` (what a pointer move did to the slider).
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = pathlib.Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("POLYVIZ_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
VIEWPORT = {"width": 1500, "height": 1100}

# Installed before any page script runs. Plotly gives each graph div its event emitter by
# assigning `gd.emit = function ...` (plotly.js Events.init); an accessor on the prototype
# catches that assignment and wraps the emitter, so even the very first afterplot is seen,
# and a graph that Plotly purges and re-initialises is caught again.
RECORDER_JS = r"""
(() => {
  if (window.__pv) return;
  const pv = window.__pv = { plots: [], inputs: [], values: [] };
  try { performance.setResourceTimingBufferSize(5000); } catch (e) {}
  const KEEP = new Set(["plotly_afterplot", "polyviz_painted", "plotly_animatingframe", "plotly_animated",
                        "plotly_animationinterrupted"]);
  function record(gd, name) {
    const holder = gd.id ? gd : (gd.parentElement && gd.parentElement.closest("[id]"));
    const meta = gd.layout && gd.layout.meta;
    const frames = gd._transitionData && gd._transitionData._frames;
    pv.plots.push({ ev: name, id: holder ? holder.id : "", at: performance.now(),
                    n: Array.isArray(gd.data) ? gd.data.length : 0, frames: frames ? frames.length : 0,
                    stamp: meta && typeof meta.t === "number" ? meta.t : null });
  }
  Object.defineProperty(HTMLElement.prototype, "emit", {
    configurable: true,
    get() { return undefined; },
    set(emit) {
      const gd = this;
      Object.defineProperty(gd, "emit", { configurable: true, writable: true, enumerable: true,
        value: function (name) { if (KEEP.has(name)) record(gd, name); return emit.apply(this, arguments); } });
    },
  });
  for (const type of ["pointerdown", "pointermove", "pointerup"]) {
    window.addEventListener(type, (e) => pv.inputs.push({ type: type, ts: e.timeStamp, at: performance.now(),
                                                          x: e.clientX }), { capture: true });
  }
  pv.watchSlider = (sliderId) => {
    const box = document.getElementById(sliderId);
    new MutationObserver((changes) => {
      const at = performance.now();
      for (const c of changes) pv.values.push({ id: sliderId, at: at, v: Number(c.target.getAttribute("aria-valuenow")) });
    }).observe(box, { attributes: true, subtree: true, attributeFilter: ["aria-valuenow"] });
  };
})();
"""


class BenchError(RuntimeError):
    """A measurement could not be made; the message says which step and why."""


def percentile(values, q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def gunicorn_app(workers: int = 2):
    """The app under gunicorn (gunicorn.conf.py, as the Dockerfile runs it) on a free loopback
    port with its own empty data directory; yields the base URL and stops the server by its pid."""
    port = free_port()
    data_dir = tempfile.mkdtemp(prefix="polyviz-browser-bench-")
    log_path = pathlib.Path(data_dir) / "gunicorn.log"
    env = dict(os.environ, POLYVIZ_BIND=f"127.0.0.1:{port}", POLYVIZ_WORKERS=str(workers),
               POLYVIZ_DATA_DIR=data_dir, PATH=f"{pathlib.Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    with open(log_path, "wb") as log:
        process = subprocess.Popen(["gunicorn", "--config", "gunicorn.conf.py", "app:server"], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(base, process, log_path)
        yield base
    finally:
        stop_process_group(process)
        shutil.rmtree(data_dir, ignore_errors=True)


def server_processes(base: str) -> list:
    """The gunicorn master listening on base's port and its children (workers, job host)."""
    import psutil

    port = int(base.rsplit(":", 1)[1])
    for connection in psutil.net_connections(kind="tcp"):
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port and connection.pid:
            master = psutil.Process(connection.pid)
            return [master, *master.children(recursive=True)]
    return []


def warm_static(browser, base: str, pages, idle_cpu_s: float = 0.2, timeout_s: float = 180.0) -> float:
    """Open each page once, then wait until the server's processes have been idle (less than
    idle_cpu_s of CPU in a second) while it makes the strong Brotli bodies of the scripts those
    visits asked for: a server pays that once per machine, and a measurement taken meanwhile
    measures the compression, not the page. Returns the seconds the warm-up took."""
    started = time.perf_counter()
    for path in pages:
        with fresh_page(browser, timeout_ms=60_000) as page:
            page.goto(base + path, wait_until="networkidle")
    processes = server_processes(base)

    def cpu() -> float:
        total = 0.0
        for process in processes:
            try:
                times = process.cpu_times()
                total += times.user + times.system
            except Exception:  # noqa: BLE001 - a process that ended uses no CPU
                pass
        return total

    last = cpu()
    while time.perf_counter() - started < timeout_s:
        time.sleep(1.0)
        now = cpu()
        if now - last < idle_cpu_s:
            break
        last = now
    return time.perf_counter() - started


def wait_for_health(base: str, process: subprocess.Popen, log_path: pathlib.Path, timeout: float = 90.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise BenchError(f"gunicorn exited with {process.returncode}: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise BenchError(f"gunicorn did not answer /health within {timeout:.0f} s: {log_path.read_text()[-2000:]}")


def stop_process_group(process: subprocess.Popen) -> None:
    """Stop the process we started (its pid) and what it forked (its own process group)."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


@contextlib.contextmanager
def chromium():
    """Headless Debian Chromium under Playwright (its own browser download is not used)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        raise BenchError("playwright is not installed: pip install -e '.[test]'") from error
    if not pathlib.Path(CHROMIUM).exists():
        raise BenchError(f"no Chromium at {CHROMIUM}: apt-get install chromium (make system-deps)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-dev-shm-usage", "--no-first-run",
                                                   "--disable-background-networking", "--disable-component-update"])
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def fresh_page(browser, timeout_ms: int = 30_000):
    """A page in a new browser context: an empty cache and no cookies, as a new visitor has."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(RECORDER_JS)
    context.set_default_timeout(timeout_ms)
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    try:
        yield page
    finally:
        context.close()


def plots(page, since: int = 0) -> list[dict]:
    return page.evaluate("(since) => window.__pv.plots.slice(since)", since)


def counts(page) -> dict:
    return page.evaluate("({plots: __pv.plots.length, inputs: __pv.inputs.length, values: __pv.values.length,"
                         " now: performance.now()})")


def since(page, marks: dict) -> dict:
    return page.evaluate("(m) => ({plots: __pv.plots.slice(m.plots), inputs: __pv.inputs.slice(m.inputs),"
                         " values: __pv.values.slice(m.values), now: performance.now()})", marks)


# What marks a drawn frame: Plotly's own, and assets/direct_draw.js's after it moved traces itself.
PAINTED = ("plotly_afterplot", "polyviz_painted")


def drawn(records: list[dict], graph_id: str | None = None, after: float = -1.0, with_data: bool = True) -> list[dict]:
    """The records of drawn frames (of one graph, after a page time) of a figure with traces."""
    return [r for r in records if r["ev"] in PAINTED and r["at"] > after
            and (graph_id is None or r["id"] == graph_id) and (r["n"] > 0 or not with_data)]


def wait_quiet(page, graph_ids, quiet_ms: float = 800.0, timeout_s: float = 30.0) -> None:
    """Wait until every graph has drawn a figure with data and none has redrawn for quiet_ms."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        state = page.evaluate(
            "([ids, quiet]) => { const now = performance.now(); const last = {};"
            " for (const p of __pv.plots) if (p.ev === 'plotly_afterplot' && p.n > 0) last[p.id] = p.at;"
            " return ids.every(id => id in last) && Object.values(last).every(t => now - t > quiet); }",
            [list(graph_ids), quiet_ms])
        if state:
            return
        time.sleep(0.1)
    seen = sorted({r["id"] for r in drawn(plots(page))})
    raise BenchError(f"graphs {list(graph_ids)} did not settle within {timeout_s:.0f} s (drawn so far: {seen})")


def handle_centre(page, slider_id: str) -> tuple[float, float]:
    box = page.locator(f"#{slider_id} [role='slider']").first.bounding_box()
    if not box:
        raise BenchError(f"slider #{slider_id} has no visible handle")
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def rail(page, slider_id: str) -> tuple[float, float]:
    box = page.locator(f"#{slider_id} .dash-slider-root, #{slider_id} [data-orientation='horizontal']").first.bounding_box()
    if not box:
        raise BenchError(f"slider #{slider_id} has no visible rail")
    return box["x"], box["x"] + box["width"]


def drag(page, slider_id: str, dx_px: float, moves: int, interval_s: float = 1 / 60) -> None:
    """Real pointer events: press on the handle, move `moves` times by dx_px (one move per
    interval at most, like a 60 Hz mouse), release."""
    x, y = handle_centre(page, slider_id)
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, moves + 1):
        started = time.perf_counter()
        page.mouse.move(x + dx_px * step, y)
        time.sleep(max(0.0, interval_s - (time.perf_counter() - started)))
    page.mouse.up()


def value_changes(records: dict, slider_id: str) -> list[dict]:
    """Each change of the slider's value with the pointer move that caused it: the last move
    the page handled before the change; its timeStamp is when the browser received it."""
    moves = [i for i in records["inputs"] if i["type"] == "pointermove"]
    changes = []
    for change in records["values"]:
        if change["id"] != slider_id:
            continue
        cause = [m for m in moves if m["at"] <= change["at"]]
        if cause:
            changes.append({**change, "move_ts": cause[-1]["ts"]})
    return changes


def release_time(records: dict) -> float:
    ups = [i["ts"] for i in records["inputs"] if i["type"] == "pointerup"]
    if not ups:
        raise BenchError("the page saw no pointerup: the drag was not delivered")
    return ups[-1]
