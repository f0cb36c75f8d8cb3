"""Where the user waits: the app under gunicorn, driven in headless Chromium (software WebGL)
with real pointer events, timed by Plotly's own `plotly_afterplot` inside the page (issue 11),
or by `polyviz_painted` where assets/direct_draw.js moved WebGL traces without Plotly.

browser_stretch_fold_drag_ms_p50/p90: a pointer move on the t handle that changes t -> every
  panel (circle, curve, surface, sphere) has drawn a frame whose layout.meta.t has reached that
  t (a stale frame does not count; a panel without meta.t counts once it draws after the
  change, so keep meta.t in step with the drawing). Moves whose t is first shown after
  release count up to that repaint; `during_drag` says how many were shown while dragging.
browser_stretch_fold_play_fps: Play pressed; frames/s from the circle panel's afterplots that
  show a new t (`repaints_per_s` counts every afterplot, repeats of one t included).
browser_sphere_drag_ms_p50: the v azimuth, w azimuth and k handles dragged; a move -> every
  panel that depends on that slider has drawn after the value changed (the sphere figures
  carry no stamp, so a frame drawn after the change counts). The browser repaints them while
  dragging (assets/sphere.js); a move whose panels first draw after release counts up to that
  repaint. `repaints_during_drag` counts frames drawn while dragging and
  browser_sphere_release_repaint_ms_p50 is pointer up -> every dependent panel redrawn.
browser_train_animation_fps: /train?preset=spiral trained through the page (its Train button),
  then the layer animation's play button; frames/s from its drawn frames (afterplots, and the
  `polyviz_painted` of frames that assets/frame_player.js moved without Plotly): 49 frames on a
  40 ms schedule, 25 frames/s where drawing keeps up. `gap_ms_max` is the longest wait,
  `drawn_by_plotly` the frames Plotly drew (a trace appearing or disappearing: the plane).
  browser_train_animation_replay_fps: ▶ again at the last frame, which plays from the start.
browser_first_figure_s (one line per page): navigation start -> the first figure with data
  drawn, a new visitor (empty cache) per load; /train before anything is trained, when only
  its placeholder graphs exist, so there the first graph drawn counts.
browser_shared_run_open_s: a new visitor opens the link of the finished spiral run ->
  the 49-frame animation drawn. train_results_first_view_kb: the bytes (bodies as sent, plus
  headers) of the responses that ended before the first result figure was drawn; `scripts_kb`
  of them are JavaScript (the same for every page: plotly.js alone is ~560 KB) and `data_kb`
  the rest (the page, its callbacks' answers, styles).

browser_static_warm_s: before any of these, every page is opened once and the server left
  to make its scripts' strong Brotli bodies (once per machine; measured meanwhile, the first
  pages timed the compression's CPU, not the page).

Needs Chromium (/usr/bin/chromium) and playwright; runs only with `run.py --browser`. Every
step has a timeout and reports `<step>_error` with the reason instead of stopping the run.
"""

from __future__ import annotations

import sys
import time
import traceback

from _util import metric
from browser_util import (BenchError, chromium, counts, drag, drawn, fresh_page, gunicorn_app, handle_centre,
                          median, percentile, plots, rail, release_time, since, value_changes, wait_quiet,
                          warm_static)

NEEDS_BROWSER = True  # run.py runs this module only with --browser

SF_PANELS = ("sf-circle", "sf-curve", "sf-surface", "sf-sphere")
SP_PANELS = ("sp-scene", "sp-circle", "sp-scaling", "sp-rotation")
# Which panels follow each dragged sphere slider (the callbacks' Inputs in callbacks/sphere.py):
# the scene's markers and path, the great-circle probe, the rotation probe, the scaling chart.
SP_DRAGGED = {"sp-v-az": SP_PANELS, "sp-w-az": ("sp-scene", "sp-circle", "sp-rotation"),
              "sp-k": ("sp-scene", "sp-scaling")}
TR_RESULTS = ("tr-curves", "tr-boundary", "tr-animation", "tr-checkpoints")
ANIMATION_FRAMES = 49
PAGES = ("/", "/stretch-fold", "/sphere", "/train", "/transformer")  # every page the issue asks about


class Settings:
    """How much to measure. The defaults give >= 30 events per median in a few minutes."""

    def __init__(self, sf_moves=40, sf_drags=2, play_frames=31, sp_drags=10, sp_moves=4, page_loads=5,
                 shared_opens=5, train=True):
        self.sf_moves, self.sf_drags, self.play_frames = sf_moves, sf_drags, play_frames
        self.sp_drags, self.sp_moves = sp_drags, sp_moves
        self.page_loads, self.shared_opens, self.train = page_loads, shared_opens, train


def move_to_repaint(records: dict, slider_id: str, panels, direction: int | None) -> dict:
    """Per change of the slider's value: ms from the pointer move that caused it until every
    panel has drawn after the change; with `direction` (+1 or -1, a one-way drag), only
    frames whose meta.t has reached the new value count."""
    frames = drawn(records["plots"])
    release = release_time(records)
    latencies, shown_during_drag, never = [], 0, 0
    for change in value_changes(records, slider_id):
        done = []
        for panel in panels:
            first = next((f["at"] for f in frames if f["id"] == panel and f["at"] >= change["at"] and (
                direction is None or f["stamp"] is None or direction * (f["stamp"] - change["v"]) >= -1e-6)), None)
            if first is None:
                break
            done.append(first)
        if len(done) < len(panels):
            never += 1
            continue
        latencies.append(max(done) - change["move_ts"])
        shown_during_drag += max(done) < release
    moves = [i["ts"] for i in records["inputs"] if i["type"] == "pointermove"]
    start = moves[0] if moves else release
    during = [f for f in frames if f["id"] in panels and start < f["at"] < release]
    after = [min((f["at"] for f in frames if f["id"] == p and f["at"] > release), default=None) for p in panels]
    return {"latencies": latencies, "shown_during_drag": shown_during_drag, "never_shown": never,
            "repaints_during_drag": len(during),
            "release_to_repaint": (max(after) - release) if None not in after else None,
            "stamps_during_drag": [f["stamp"] for f in during if f["id"] == panels[0]]}


def measure_drag(page, slider_id: str, panels, dx_px: float, moves: int, direction: int | None) -> dict:
    page.locator(f"#{slider_id} [role='slider']").first.scroll_into_view_if_needed()
    x, _ = handle_centre(page, slider_id)
    left, right = rail(page, slider_id)
    room = (right - 6 - x) if dx_px > 0 else (x - left - 6)
    moves = max(1, min(moves, int(room // abs(dx_px))))
    marks = counts(page)
    drag(page, slider_id, dx_px, moves)
    records = since(page, marks)
    changes = value_changes(records, slider_id)
    if changes:  # the server answers the release: wait until every panel has drawn after it
        page.wait_for_function(
            "([m, ids, after]) => ids.every(id => __pv.plots.slice(m).some(p => p.id === id && "
            "p.ev === 'plotly_afterplot' && p.at > after))", arg=[marks["plots"], list(panels), changes[-1]["at"]],
            timeout=30_000)
    wait_quiet(page, panels, quiet_ms=500, timeout_s=30)
    return move_to_repaint(since(page, marks), slider_id, panels, direction)


def stretch_fold(browser, base: str, cfg: Settings):
    with fresh_page(browser) as page:
        page.goto(base + "/stretch-fold?op=stretch&t=-4.5&eps=0.01&n=400")
        wait_quiet(page, SF_PANELS, timeout_s=60)
        page.evaluate("__pv.watchSlider('sf-t')")
        latencies, during, never, repaints, stamps = [], 0, 0, 0, []
        for index in range(cfg.sf_drags):
            direction = 1 if index % 2 == 0 else -1
            result = measure_drag(page, "sf-t", SF_PANELS, 4 * direction, cfg.sf_moves, direction)
            latencies += result["latencies"]
            during += result["shown_during_drag"]
            never += result["never_shown"]
            repaints += result["repaints_during_drag"]
            stamps += result["stamps_during_drag"] if direction == 1 else []
        if not latencies:
            raise BenchError("no pointer move changed t, or no panel ever showed the new t")
        common = dict(events=len(latencies), during_drag=during, never_shown=never, repaints_during_drag=repaints)
        yield metric("browser_stretch_fold_drag_ms_p50", median(latencies), "ms", target=33, **common)
        yield metric("browser_stretch_fold_drag_ms_p90", percentile(latencies, 0.9), "ms", **common)
        rising = sum(1 for a, b in zip(stamps, stamps[1:]) if b > a)
        yield metric("browser_stretch_fold_drag_repaints_with_rising_t", rising, "count")
        yield from stretch_fold_play(page, cfg)
        if page.errors:
            print(f"stretch-fold page errors: {page.errors[:3]}", file=sys.stderr)


def stretch_fold_play(page, cfg: Settings):
    wait_quiet(page, SF_PANELS, quiet_ms=600, timeout_s=30)
    marks = counts(page)
    page.locator("#sf-play").click()  # a real click: pointer down and up on the button
    seconds = min(45.0, max(10.0, cfg.play_frames * 1.5))  # bounded even at one frame a second
    deadline = time.time() + seconds
    frames = []
    while time.time() < deadline:
        frames = drawn(since(page, marks)["plots"], "sf-circle")
        if len({f["stamp"] for f in frames}) > cfg.play_frames:
            break
        time.sleep(0.2)
    page.locator("#sf-play").click()  # pause
    # A frame is a repaint showing a new t (the page may repaint one t twice; that is no new frame).
    new_t = [f for k, f in enumerate(frames) if k == 0 or f["stamp"] != frames[k - 1]["stamp"]]
    times = [f["at"] for f in new_t]
    gaps = [b - a for a, b in zip(times, times[1:])]
    if len(gaps) < 2:
        raise BenchError(f"play drew {len(new_t)} frames with a new t on the circle panel in {seconds:.0f} s")
    span = (times[-1] - times[0]) / 1000.0
    yield metric("browser_stretch_fold_play_fps", len(gaps) / span, "frames/s", target=30, events=len(gaps),
                 gap_ms_p50=round(median(gaps), 1), repaints_per_s=round((len(frames) - 1) / span, 2))


def sphere(browser, base: str, cfg: Settings):
    with fresh_page(browser) as page:
        page.goto(base + "/sphere?dim=3&neurons=12&v_az=30&w_az=160&k=2&kmax=10")
        wait_quiet(page, SP_PANELS, timeout_s=60)
        for slider_id in SP_DRAGGED:
            page.evaluate("(id) => __pv.watchSlider(id)", slider_id)
        latencies, releases, during, shown, never = [], [], 0, 0, 0
        for index in range(cfg.sp_drags):
            for slider_id, panels in SP_DRAGGED.items():
                dx = 5 if index % 2 == 0 else -5  # back and forth, so the handle stays inside its rail
                result = measure_drag(page, slider_id, panels, dx, cfg.sp_moves, None)
                latencies += result["latencies"]
                during += result["repaints_during_drag"]
                shown += result["shown_during_drag"]
                never += result["never_shown"]
                if result["release_to_repaint"] is not None:
                    releases.append(result["release_to_repaint"])
        if not latencies:
            raise BenchError("no pointer move changed v, w or k, or the panels never redrew")
        drags = cfg.sp_drags * len(SP_DRAGGED)
        yield metric("browser_sphere_drag_ms_p50", median(latencies), "ms", target=50, events=len(latencies),
                     repaints_during_drag=during, shown_during_drag=shown, never_shown=never, drags=drags)
        yield metric("browser_sphere_release_repaint_ms_p50", median(releases), "ms", events=len(releases))
        if page.errors:
            print(f"sphere page errors: {page.errors[:3]}", file=sys.stderr)


def first_figure(browser, base: str, cfg: Settings):
    for path in PAGES:
        # /train has no figure with data before a run is trained: its placeholders are what a
        # new visitor sees first, so there any drawn graph counts.
        with_data = path != "/train"
        try:
            seconds = []
            for _ in range(cfg.page_loads):
                with fresh_page(browser) as page:
                    page.goto(base + path, wait_until="commit")
                    page.wait_for_function("(withData) => __pv.plots.some(p => p.ev === 'plotly_afterplot' && "
                                           "(p.n > 0 || !withData))", arg=with_data, timeout=30_000)
                    seconds.append(drawn(plots(page), with_data=with_data)[0]["at"] / 1000.0)
            yield metric("browser_first_figure_s", median(seconds), "s", target=1.5, page=path, events=len(seconds),
                         max_s=round(max(seconds), 3), counts="figure with data" if with_data else "any graph drawn")
        except Exception as error:  # one page's failure must not hide the others
            yield {**failed("browser_first_figure_s", error), "page": path}


def train(browser, base: str, cfg: Settings):
    """Train the spiral preset through the page; returns the finished run's link (or None)."""
    with fresh_page(browser, timeout_ms=60_000) as page:
        page.goto(base + "/train?preset=spiral")
        page.wait_for_function("document.querySelector('#tr-hint') && "
                               "document.querySelector('#tr-hint').innerText.includes('press Train')")
        page.wait_for_function("location.search.includes('dataset=spiral')")
        page.locator("#tr-train").click()
        page.wait_for_function("document.querySelector('#tr-status').innerText.includes('Trained')",
                               timeout=300_000)
        page.wait_for_function(f"__pv.plots.some(p => p.id === 'tr-animation' && p.frames === {ANIMATION_FRAMES})",
                               timeout=60_000)
        link = page.url
        page.locator("#tr-animation").scroll_into_view_if_needed()
        wait_quiet(page, TR_RESULTS, quiet_ms=800, timeout_s=60)
        # the first playback, then a replay (▶ at the last frame starts again)
        for name in ("browser_train_animation_fps", "browser_train_animation_replay_fps"):
            marks = counts(page)
            play = page.locator("#tr-animation .updatemenu-button").first
            box = play.bounding_box()
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.wait_for_function("(m) => __pv.plots.slice(m).some(p => p.id === 'tr-animation' && "
                                   "p.ev === 'plotly_animated')", arg=marks["plots"], timeout=60_000)
            frames = drawn(since(page, marks)["plots"], "tr-animation")
            times = [f["at"] for f in frames]
            gaps = [b - a for a, b in zip(times, times[1:])]
            if len(gaps) < 2:
                raise BenchError(f"the animation drew {len(times)} frames after play")
            by_plotly = sum(1 for f in frames if f["ev"] == "plotly_afterplot")
            yield metric(name, 1000.0 * len(gaps) / (times[-1] - times[0]), "frames/s",
                         target=24, events=len(gaps), gap_ms_p50=round(median(gaps), 1), gap_ms_max=round(max(gaps), 1),
                         seconds=round((times[-1] - times[0]) / 1000, 2), frames=ANIMATION_FRAMES,
                         drawn_by_plotly=by_plotly)
        yield {"link": link}


def shared_run(browser, link: str, cfg: Settings):
    ready, first_result_s, first_view_kb, script_kb, total_kb = [], [], [], [], []
    for _ in range(cfg.shared_opens):
        with fresh_page(browser, timeout_ms=60_000) as page:
            finished = []
            page.on("requestfinished", lambda request: finished.append(request))
            page.goto(link, wait_until="commit")
            page.wait_for_function(f"__pv.plots.some(p => p.id === 'tr-animation' && p.n > 0 && "
                                   f"p.frames === {ANIMATION_FRAMES})", timeout=60_000)
            records = plots(page)
            animation = next(r for r in drawn(records, "tr-animation") if r["frames"] == ANIMATION_FRAMES)
            first_result = min(r["at"] for r in drawn(records) if r["id"] in TR_RESULTS)
            origin = page.evaluate("performance.timeOrigin")
            before, total, scripts = 0, 0, 0
            for request in list(finished):
                sizes, timing = request.sizes(), request.timing
                size = sizes["responseBodySize"] + sizes["responseHeadersSize"]
                total += size
                if timing["responseEnd"] >= 0 and timing["startTime"] + timing["responseEnd"] <= origin + first_result:
                    before += size
                    scripts += size if request.resource_type == "script" else 0
            ready.append(animation["at"] / 1000.0)
            first_result_s.append(first_result / 1000.0)
            first_view_kb.append(before / 1024)
            script_kb.append(scripts / 1024)
            total_kb.append(total / 1024)
    yield metric("browser_shared_run_open_s", median(ready), "s", target=2.0, events=len(ready),
                 max_s=round(max(ready), 3), first_result_figure_s=round(median(first_result_s), 3))
    yield metric("train_results_first_view_kb", median(first_view_kb), "KB", target=300, events=len(first_view_kb),
                 scripts_kb=round(median(script_kb), 1),
                 data_kb=round(median([a - b for a, b in zip(first_view_kb, script_kb)]), 1),
                 all_responses_kb=round(median(total_kb), 1))


def failed(step: str, error: BaseException) -> dict:
    traceback.print_exception(error, file=sys.stderr)
    reason = f"{type(error).__name__}: {error}".splitlines()[0][:300]
    return metric(f"{step}_error", 1, "count", error=reason)


def guarded(step: str, records):
    """The records of one step; if it fails, one `<step>_error` line with the reason."""
    try:
        yield from records
    except Exception as error:
        yield failed(step, error)


def run(quick: bool = False, cfg: Settings | None = None):
    cfg = cfg or Settings()
    started = time.perf_counter()
    with gunicorn_app() as base, chromium() as browser:
        version = browser.version
        yield metric("browser_static_warm_s", warm_static(browser, base, PAGES), "s", pages=len(PAGES))
        yield from guarded("browser_first_figure", first_figure(browser, base, cfg))
        yield from guarded("browser_stretch_fold", stretch_fold(browser, base, cfg))
        yield from guarded("browser_sphere", sphere(browser, base, cfg))
        if cfg.train:
            link = None
            for record in guarded("browser_train", train(browser, base, cfg)):
                if "link" in record:
                    link = record["link"]
                else:
                    yield record
            if link:
                yield from guarded("browser_shared_run", shared_run(browser, link, cfg))
    yield metric("browser_bench_s", time.perf_counter() - started, "s", chromium=version)
