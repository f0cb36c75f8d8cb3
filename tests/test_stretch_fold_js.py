"""assets/stretch_fold.js, the browser-side repaint of the Stretch & fold panels, against the
Python figures it mirrors; and the server's partial update (a Dash Patch for a t change)
against a full redraw.

The JS runs under node on the figures the server sends (polyviz.figures.stretch_fold builders,
typed arrays and all), through sfFrame, the function whose result the page hands to
Plotly.update; its updates are applied here as Plotly.update applies them."""

from __future__ import annotations

import base64
import copy
import json
import pathlib
import shutil
import subprocess

import numpy as np
import plotly.io as pio
import pytest

from polyviz import stretch_fold as sf
from polyviz.figures import stretch_fold as figures

ROOT = pathlib.Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "assets" / "stretch_fold.js"
DIRECT_DRAW = ROOT / "assets" / "direct_draw.js"
RUNNER = r"""
const fs = require("fs");
globalThis.window = globalThis;  // the asset is a browser script: it reads and extends window
window.dash_clientside = { no_update: "__no_update__" };
require(process.argv[3]);  // assets/direct_draw.js, whose typed-array decoding the asset uses
require(process.argv[2]);
const api = window.dash_clientside.polyviz;
const cases = JSON.parse(fs.readFileSync(0, "utf8"));
const out = cases.map((c) => api.sfFrame(c.t, c.figures));
// typed arrays as plain lists (NaN as null), as JSON carries them
process.stdout.write(JSON.stringify(out, (k, v) => ArrayBuffer.isView(v) ? Array.from(v, (x) => Number.isNaN(x) ? null : x) : v));
"""
PANELS = ("circle", "curve", "surface", "sphere")
STATES = [  # (op, eps, n, distribution, affine)
    ("stretch", 0.01, 400, "circle", sf.IDENTITY_AFFINE),
    ("shift", 1e-4, 300, "disc", sf.IDENTITY_AFFINE),
    ("affine", 0.3, 500, "grid", (0.5, -1.5, 2.0, 0.25, 0.7, -1.2)),
]
T_VALUES = (-3.7, 0.0, 0.5, 1.0, 4.25, 5.0)
TOL = 1e-12  # the JS and NumPy both compute in float64 from the same inputs


def node() -> str:
    path = shutil.which("node")
    assert path, "node is needed to test assets/stretch_fold.js (apt-get install nodejs)"
    return path


def run_js(cases: list[dict]) -> list:
    """sfFrame under node on JSON cases; the figures travel as the server sends them (plotly
    JSON, typed arrays as base64)."""
    runner = pathlib.Path("/tmp") / f"polyviz-sf-runner-{id(cases)}.js"
    runner.write_text(RUNNER)
    try:
        done = subprocess.run([node(), str(runner), str(SCRIPT), str(DIRECT_DRAW)], input=pio.json.to_json_plotly(cases),
                              capture_output=True, text=True, timeout=120, check=False)
    finally:
        runner.unlink()
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def values(v) -> np.ndarray:
    """A trace array as float64: a typed-array spec (what the server sends) or a plain list
    (what the JS returns, NaN as null)."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]).newbyteorder("<")).astype(
            np.float64)
    if v is None or isinstance(v, (int, float)):
        return np.array([np.nan if v is None else v], dtype=np.float64)
    return np.array([np.nan if x is None else x for x in v], dtype=np.float64)


def close(a, b, tol):
    a, b = values(a), values(b)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol, equal_nan=True)


def server_figures(op, t, eps, n, dist, affine) -> dict:
    """The four figures as JSON-ready dicts, exactly as the server callback sends them."""
    specs = figures.stretch_fold_specs(op=op, t=t, eps=eps, n=n, distribution=dist, seed=3, affine=affine)
    return json.loads(pio.json.to_json_plotly(specs))


def updated(figure: dict, update: dict) -> dict:
    """Plotly.update(gd, update.update, update.layout, update.traces) applied to a figure."""
    out = copy.deepcopy(figure)
    for prop, per_trace in update["update"].items():
        for index, value in zip(update["traces"], per_trace):
            out["data"][index][prop] = value
    for key, value in update["layout"].items():
        *path, last = key.split(".")
        target = out["layout"]
        for part in path:
            target = target[part]
        target[last] = value
    return out


@pytest.fixture(scope="module")
def repaints():
    """For each state: the figures the browser holds (drawn at t = 2) and the JS repaint
    (sfFrame) at every T_VALUES t."""
    cases, held = [], []
    for op, eps, n, dist, affine in STATES:
        figs = server_figures(op, 2.0, eps, n, dist, affine)
        held.append(figs)
        cases += [dict(t=t, figures=figs) for t in T_VALUES]
    out = run_js(cases)
    per_state = len(T_VALUES)
    return [(STATES[i], held[i], out[i * per_state:(i + 1) * per_state]) for i in range(len(STATES))]


def test_the_js_repaint_is_the_python_maths_on_the_same_inputs(repaints):
    for (op, eps, n, dist, affine), held, frames in repaints:
        inputs = np.stack([values(held["circle"]["data"][2]["x"]), values(held["circle"]["data"][2]["y"])], axis=1)
        for t, frame in zip(T_VALUES, frames):
            circle, curve, surface, sphere = (frame[p] for p in PANELS)
            images = sf.apply(inputs, op, t, eps, affine)
            segments_x, images_x = circle["update"]["x"]
            segments_y, images_y = circle["update"]["y"]
            close(images_x, images[:, 0].astype(np.float32), TOL)
            close(images_y, images[:, 1].astype(np.float32), TOL)
            stride = held["circle"]["layout"]["meta"]["stride"]
            segments = np.stack([inputs[::stride], images[::stride], np.full((len(inputs[::stride]), 2), np.nan)], 1)
            close(segments_x, segments[:, :, 0].ravel().astype(np.float32), TOL)
            close(segments_y, segments[:, :, 1].ravel().astype(np.float32), TOL)
            curve_x = values(held["curve"]["data"][1]["x"])
            slice_y, points_y = curve["update"]["y"]
            close(slice_y, sf.activation_slice(curve_x, op, t, eps, affine).astype(np.float32), TOL)
            close(points_y, sf.apply(inputs[::held["curve"]["layout"]["meta"]["stride"]], op, t, eps,
                                     affine)[:, 0].astype(np.float32), TOL)
            px, py, pz = figures.surface_path(op, t, eps, affine)
            for key, expected in zip("xyz", (px, py, pz + 0.02)):
                close(surface["update"][key][0], expected.astype(np.float32), TOL)
            on_sphere = sf.apply(sf.sphere_points(len(values(held["sphere"]["data"][1]["x"]))), op, t, eps, affine)
            for k, key in enumerate("xyz"):
                close(sphere["update"][key][0], on_sphere[:, k].astype(np.float32), TOL)
            for panel in PANELS:
                assert frame[panel]["layout"]["meta.t"] == t


def test_the_js_repaint_moves_exactly_the_moving_traces():
    """What the browser repaints is what MOVING_TRACES says moves with t (the server's Patch
    sends the same), so a repaint cannot leave a t-dependent trace behind."""
    figs = server_figures("shift", 2.0, 0.01, 200, "circle", sf.IDENTITY_AFFINE)
    frame = run_js([dict(t=-1.0, figures=figs)])[0]
    for panel in PANELS:
        moved = {(index, prop) for prop, per_trace in frame[panel]["update"].items()
                 for index, value in zip(frame[panel]["traces"], per_trace) if value is not None}
        assert moved == {(index, prop) for index, props in figures.MOVING_TRACES[panel].items() for prop in props}


def test_the_js_repaint_equals_the_server_figure_for_the_same_state(repaints):
    """Trace by trace and property by property: the figure the browser shows after a repaint
    holds the server's float32 numbers for that t (the JS rounds as the server does), and
    everything else is untouched."""
    for (op, eps, n, dist, affine), held, frames in repaints:
        for t, frame in zip(T_VALUES, frames):
            server = server_figures(op, t, eps, n, dist, affine)
            for panel in PANELS:
                shown, want = updated(held[panel], frame[panel]), server[panel]
                assert len(shown["data"]) == len(want["data"])
                for index, (got, expected) in enumerate(zip(shown["data"], want["data"])):
                    assert set(got) == set(expected), (panel, index)
                    for key in expected:
                        if key in ("x", "y", "z") and not isinstance(got[key], dict):
                            close(got[key], expected[key], 1e-9)
                        else:
                            assert got[key] == expected[key], (panel, index, key)
                assert shown["layout"] == want["layout"], panel


def apply_patch(figure: dict, patch: dict) -> dict:
    """A Dash Patch (its JSON: Assign operations at a location) applied as the browser does."""
    out = copy.deepcopy(figure)
    for op in patch["operations"]:
        assert op["operation"] == "Assign", op
        *path, last = op["location"]
        target = out
        for key in path:
            target = target[key]
        target[last] = op["params"]["value"]
    return out


@pytest.mark.parametrize("op, eps, n, dist, affine", STATES)
def test_the_t_patch_applied_to_the_previous_figure_equals_a_full_redraw(op, eps, n, dist, affine):
    from callbacks.stretch_fold import t_patch

    before = figures.stretch_fold_specs(op=op, t=2.0, eps=eps, n=n, distribution=dist, seed=3, affine=affine)
    for t in T_VALUES:
        after = figures.stretch_fold_specs(op=op, t=t, eps=eps, n=n, distribution=dist, seed=3, affine=affine)
        for panel in PANELS:
            patch = json.loads(pio.json.to_json_plotly(t_patch(panel, after[panel])))
            patched = apply_patch(json.loads(pio.json.to_json_plotly(before[panel])), patch)
            assert patched == json.loads(pio.json.to_json_plotly(after[panel])), (panel, t)

