"""The sphere page: server time and size of its callbacks through the Flask test client.

sphere_callback_ms_p50: the main callback (the 3-D scene and the exact count, which
redraws when neurons/seed/scales/activation/d change) with 64 neurons on the LayerNorm
sphere (d = 4, the heavier view), a new seed on every request so nothing is reused.
sphere_callback_d3_ms_p50: the same for the circle (d = 3).
sphere_neurons_change_total_ms_p50: every server callback a neurons change fires (scene,
unrolled circle + rotation, scaling, query/notices), one after the other: the server
work of one such change (the browser sends them in parallel).
sphere_markers_ms_p50 / _kb: moving v, w or k only patches the scene's marker traces.
"""

from __future__ import annotations

import gzip
import itertools

from _util import median_ms, metric


def _values() -> dict:
    from callbacks import sphere as cb

    values = {}
    for node in cb.layout()._traverse():
        ident = getattr(node, "id", None)
        if isinstance(ident, str):
            for prop in ("value", "data"):
                value = getattr(node, prop, None)
                if value is not None:
                    values[f"{ident}.{prop}"] = value
    return values


def _dep(deps, output: str, duplicate: bool = False) -> dict:
    for dep in deps:
        for part in dep["output"].strip(".").split("..."):
            if part.split("@")[0] == output and ("@" in part) == duplicate:
                return dep
    raise KeyError(output)


def run(quick: bool):
    import dash_http

    import app

    client = app.server.test_client()
    deps = dash_http.server_callbacks(dash_http.dependencies(client))
    scene = _dep(deps, "sp-scene.figure")
    others = [_dep(deps, "sp-circle.figure"), _dep(deps, "sp-scaling.figure"), _dep(deps, "sp-query.data")]
    markers = _dep(deps, "sp-scene.figure", duplicate=True)
    values = {**_values(), "sp-neurons.value": 64}
    repeats = 30 if quick else 200
    seeds = itertools.count(1000)

    def post(dep, changed, **overrides):
        response = dash_http.post(client, dash_http.payload(dep, {**values, **overrides}, [changed]))
        assert response.status_code == 200, response.status_code
        return response

    def main(dim):
        return lambda: post(scene, "sp-seed.value", **{"sp-dim.value": dim, "sp-seed.value": next(seeds)})

    yield metric("sphere_callback_ms_p50", median_ms(main(4), repeats, warmup=5), "ms", target=40, neurons=64, d=4)
    body = main(4)().data
    yield metric("sphere_callback_payload_kb", len(body) / 1024, "KB", neurons=64, d=4)
    yield metric("sphere_callback_payload_gzip_kb", len(gzip.compress(body, 6)) / 1024, "KB", neurons=64, d=4)
    yield metric("sphere_callback_d3_ms_p50", median_ms(main(3), repeats, warmup=3), "ms", target=40, neurons=64)
    yield metric("sphere_callback_d3_payload_kb", len(main(3)().data) / 1024, "KB", neurons=64)

    def neurons_change():
        seed = next(seeds)
        for dep in [scene, *others]:
            post(dep, "sp-neurons.value", **{"sp-dim.value": 4, "sp-seed.value": seed})

    yield metric("sphere_neurons_change_total_ms_p50", median_ms(neurons_change, max(10, repeats // 2), warmup=2),
                 "ms", neurons=64, d=4, callbacks=1 + len(others))
    total = sum(len(post(dep, "sp-neurons.value", **{"sp-dim.value": 4}).data) for dep in [scene, *others])
    yield metric("sphere_neurons_change_payload_kb", total / 1024, "KB", neurons=64, d=4)

    azimuths = itertools.cycle(range(0, 360, 7))
    move = lambda: post(markers, "sp-v-az.value", **{"sp-dim.value": 4, "sp-v-az.value": next(azimuths)})  # noqa: E731
    yield metric("sphere_markers_ms_p50", median_ms(move, repeats, warmup=3), "ms")
    yield metric("sphere_markers_payload_kb", len(move().data) / 1024, "KB")
