"""The landing page: five parts, each with a preview computed by the library."""

from __future__ import annotations

import json

import numpy as np

from layouts import home
from polyviz.figures import previews
from polyviz.polytopes import circle_arcs, random_layer


def test_every_part_has_a_small_preview():
    assert [href for href, _, _ in home.PARTS] == ["/stretch-fold", "/sphere", "/train", "/compare?preset=norms",
                                                   "/transformer"]
    for href, _, _ in home.PARTS:
        assert len(json.dumps(home.preview(href))) < 12_000


def test_arcs_preview_draws_one_trace_per_exact_arc_and_one_line_per_neuron():
    spec = previews.arcs_preview(neurons=5, seed=3)
    W, b = random_layer(5, 2, 3, 1.0, 0.5)
    angles, _ = circle_arcs(W, b, np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    assert len(spec["data"]) == max(1, len(angles)) + 5
