"""assets/stretch_fold.js, the browser-side redraw of the Stretch & fold panels, against the
Python figures it mirrors; and the server's partial update (a Dash Patch for a t change)
against a full redraw.

The JS runs under node on the figures the server sends (polyviz.figures.stretch_fold builders,
typed arrays and all), through the same public functions Dash calls (sfLive, sfTick)."""

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
RUNNER = r"""
const fs = require("fs");
globalThis.window = globalThis;  // the asset is a browser script: it reads and extends window
window.dash_clientside = { no_update: "__no_update__" };
require(process.argv[2]);
const api = window.dash_clientside.polyviz;
const cases = JSON.parse(fs.readFileSync(0, "utf8"));
const out = cases.map((c) => c.call === "sfLive"
  ? api.sfLive(c.t, ...c.figures)
  : api.sfTick(c.n, c.t, c.direction, ...c.figures));
process.stdout.write(JSON.stringify(out));
"""
PANELS = ("circle", "curve", "surface", "sphere")
STATES = [  # (op, eps, n, distribution, affine)
    ("stretch", 0.01, 400, "circle", sf.IDENTITY_AFFINE),
    ("shift", 1e-4, 300, "disc", sf.IDENTITY_AFFINE),
    ("affine", 0.3, 500, "grid", (0.5, -1.5, 2.0, 0.25, 0.7, -1.2)),
]
T_VALUES = (-3.7, 0.0, 0.5, 1.0, 4.25)
TOL = 1e-12  # the JS and NumPy both compute in float64 from the same inputs


def node() -> str:
    path = shutil.which("node")
    assert path, "node is needed to test assets/stretch_fold.js (apt-get install nodejs)"
    return path


def run_js(cases: list[dict]) -> list:
    """Run the asset's clientside functions under node on JSON cases; the figures travel as
    the server sends them (plotly JSON, typed arrays as base64)."""
    runner = pathlib.Path("/tmp") / f"polyviz-sf-runner-{id(cases)}.js"
    runner.write_text(RUNNER)
    try:
        done = subprocess.run([node(), str(runner), str(SCRIPT)], input=pio.json.to_json_plotly(cases),
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
    return np.array([np.nan if x is None else x for x in v], dtype=np.float64)


def close(a, b, tol):
    a, b = values(a), values(b)
    assert a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol, equal_nan=True)


def server_figures(op, t, eps, n, dist, affine) -> dict:
    """The four figures as JSON-ready dicts, exactly as the server callback sends them."""
    specs = figures.stretch_fold_specs(op=op, t=t, eps=eps, n=n, distribution=dist, seed=3, affine=affine)
    return json.loads(pio.json.to_json_plotly(specs))


@pytest.fixture(scope="module")
def redraws():
    """For each state: the figures the browser holds (drawn at t = 2), the JS redraws at
    every T_VALUES t (sfLive), and one play tick that bounces at t = 5 (sfTick)."""
    cases, held = [], []
    for op, eps, n, dist, affine in STATES:
        figs = server_figures(op, 2.0, eps, n, dist, affine)
        held.append(figs)
        ordered = [figs[p] for p in PANELS]
        cases += [dict(call="sfLive", t=t, figures=ordered) for t in T_VALUES]
        cases.append(dict(call="sfTick", n=1, t=4.98, direction=1, figures=ordered))
    out = run_js(cases)
    per_state = len(T_VALUES) + 1
    return [(STATES[i], held[i], out[i * per_state:(i + 1) * per_state]) for i in range(len(STATES))]


def test_the_js_redraw_is_the_python_maths_on_the_same_inputs(redraws):
    for (op, eps, n, dist, affine), held, results in redraws:
        inputs = np.stack([values(held["circle"]["data"][2]["x"]), values(held["circle"]["data"][2]["y"])], axis=1)
        for t, (circle, curve, surface, sphere) in zip(T_VALUES, results[:-1]):
            images = sf.apply(inputs, op, t, eps, affine)
            close(circle["data"][3]["x"], images[:, 0], TOL)
            close(circle["data"][3]["y"], images[:, 1], TOL)
            stride = held["circle"]["layout"]["meta"]["stride"]
            segments = np.stack([inputs[::stride], images[::stride], np.full((len(inputs[::stride]), 2), np.nan)], 1)
            close(circle["data"][1]["x"], segments[:, :, 0].ravel(), TOL)
            close(circle["data"][1]["y"], segments[:, :, 1].ravel(), TOL)
            curve_x = values(held["curve"]["data"][1]["x"])
            close(curve["data"][1]["y"], sf.activation_slice(curve_x, op, t, eps, affine), TOL)
            close(curve["data"][2]["y"], sf.apply(inputs[::curve["layout"]["meta"]["stride"]], op, t, eps, affine)[:, 0],
                  TOL)
            px, py, pz = figures.surface_path(op, t, eps, affine)
            for key, expected in zip("xyz", (px, py, pz + 0.02)):
                close(surface["data"][1][key], expected, TOL)
            on_sphere = sf.apply(sf.sphere_points(len(values(held["sphere"]["data"][1]["x"]))), op, t, eps, affine)
            for k, key in enumerate("xyz"):
                close(sphere["data"][1][key], on_sphere[:, k], TOL)
            for fig in (circle, curve, surface, sphere):
                assert fig["layout"]["meta"]["t"] == t


def test_the_js_redraw_equals_the_server_figure_for_the_same_state(redraws):
    """Trace by trace and property by property: what the JS moves agrees with the server's
    figure at that t to its float32 wire precision, and everything else is untouched."""
    for (op, eps, n, dist, affine), held, results in redraws:
        next_t, direction, *ticked = results[-1]
        assert (next_t, direction) == (5.0, -1)  # play bounces off the end of the slider
        for t, redrawn in [*zip(T_VALUES, results[:-1]), (5.0, ticked)]:
            server = server_figures(op, t, eps, n, dist, affine)
            for panel, fig in zip(PANELS, redrawn):
                want = server[panel]
                assert len(fig["data"]) == len(want["data"])
                moving = figures.MOVING_TRACES[panel]
                for index, (got, expected) in enumerate(zip(fig["data"], want["data"])):
                    assert set(got) == set(expected), (panel, index)
                    for key in expected:
                        if key in ("x", "y", "z") and (index in moving or key in got and got[key] != expected[key]):
                            close(got[key], expected[key], 2e-6 * max(1.0, float(np.nanmax(np.abs(values(expected[key]))))))
                        else:
                            assert got[key] == expected[key], (panel, index, key)
                assert fig["layout"]["meta"] == want["layout"]["meta"]
                assert fig["layout"]["title"] == want["layout"]["title"], panel
                rest = {k: v for k, v in fig["layout"].items() if k not in ("meta", "title")}
                assert rest == {k: v for k, v in want["layout"].items() if k not in ("meta", "title")}


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

