"""The browser benchmark measures what it says: a short drag on /stretch-fold under gunicorn
is seen move by move, the panels repaint while dragging with t rising, and play draws new
frames. (The figures themselves are not judged here: they live in benchmarks/.)"""

from __future__ import annotations

import math
import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "benchmarks"))

pytestmark = pytest.mark.browser


@pytest.mark.timeout(180)
def test_a_short_drag_is_timed_move_by_move_and_repaints_with_rising_t():
    import bench_browser
    from browser_util import chromium, gunicorn_app

    settings = bench_browser.Settings(sf_moves=8, sf_drags=1, play_frames=3)
    with gunicorn_app() as base, chromium() as browser:
        records = {r["metric"]: r for r in bench_browser.guarded(
            "browser_stretch_fold", bench_browser.stretch_fold(browser, base, settings))}
    assert not [name for name in records if name.endswith("_error")], records
    drag = records["browser_stretch_fold_drag_ms_p50"]
    # 8 moves of 4 px on a rail of a few hundred px over t in [-5, 5] (step 0.01): each moves t
    assert 5 <= drag["events"] <= 8 and drag["never_shown"] == 0
    assert drag["during_drag"] >= 1  # the page redraws while the button is still down
    assert 0 < drag["value"] < 30_000  # a move is timed from before its repaint, in the page's clock
    assert records["browser_stretch_fold_drag_repaints_with_rising_t"]["value"] >= 1
    play = records["browser_stretch_fold_play_fps"]
    assert play["events"] >= 2 and math.isfinite(play["value"]) and play["value"] > 0
