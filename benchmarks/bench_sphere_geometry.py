"""Exact polytope geometry on the LayerNorm circle and sphere (polyviz.polytopes).

circle_arcs_3072_ms: a GPT-2-sized MLP layer (3,072 neurons, d = 768) on the LayerNorm
circle (radius sqrt(768)), angles and the dense (arcs x neurons) code array; most neurons
cross, so there are ~5,500 arcs and the code array alone is ~17 MB.
circle_crossings_3072_ms: the same without expanding the codes (angles + compact form).
sphere_regions_64_ms: exact region count for 64 random neurons on S2 (d = 4 LayerNorm).
sphere_faces_64_ms: tracing those regions' faces exactly (for connected labels).
sphere_page_figures_64_ms: all five figure specs of the page for 64 neurons, plus their
JSON, i.e. the library's share of the page callback (budget 40 ms in all).
"""

from __future__ import annotations

import numpy as np
import plotly.io as pio
from _util import median_ms, metric

from polyviz.figures import sphere as fs
from polyviz import polytopes as pt


def run(quick: bool):
    repeats = 15 if quick else 60
    W, b = pt.random_layer(3072, 768, seed=0)
    p, q, radius = pt.layernorm_circle(768)
    angles, codes = pt.circle_arcs(W, b, p, q, radius)
    yield metric("circle_arcs_3072_ms", median_ms(lambda: pt.circle_arcs(W, b, p, q, radius), repeats), "ms",
                 target=2, arcs=int(len(angles)), code_bytes=int(codes.nbytes))
    yield metric("circle_crossings_3072_ms",
                 median_ms(lambda: pt.circle_crossings(W, b, p, q, radius), repeats), "ms")
    # The two matrix-vector products go to BLAS. With several BLAS threads on a machine
    # whose other cores are busy they can take ten times longer; one thread per worker
    # (OPENBLAS_NUM_THREADS=1, like torch's thread count) keeps the time steady.
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        threadpool_limits = None
    if threadpool_limits is not None:
        with threadpool_limits(limits=1, user_api="blas"):
            yield metric("circle_arcs_3072_1thread_ms",
                         median_ms(lambda: pt.circle_arcs(W, b, p, q, radius), repeats), "ms", target=2)
    W4, b4 = pt.random_layer(64, 4, seed=0)
    W3, b3 = pt.layernorm_sphere_layer(W4, b4)
    regions = pt.sphere_region_count(W3, b3)
    yield metric("sphere_regions_64_ms", median_ms(lambda: pt.sphere_region_count(W3, b3), repeats), "ms",
                 target=200, regions=int(regions))
    yield metric("sphere_faces_64_ms", median_ms(lambda: pt.sphere_regions(W3, b3), repeats), "ms")

    W3d, b3d = pt.random_layer(64, 3, seed=1)
    rng = np.random.default_rng(0)
    w_out, v, w = rng.normal(size=64), rng.normal(size=4), rng.normal(size=4)

    def page():
        specs = [fs.arcs_3d_spec(W3d, b3d), fs.unrolled_spec(W3d, b3d), fs.sphere_regions_spec(W4, b4),
                 fs.scaling_spec(W4, b4, v, 10.0), fs.rotation_spec(W4, b4, w_out, v, w)]
        return sum(len(pio.to_json(spec, validate=False)) for spec in specs)

    yield metric("sphere_page_figures_64_ms", median_ms(page, max(5, repeats // 3)), "ms", target=40,
                 payload_kb=round(page() / 1024, 1))
