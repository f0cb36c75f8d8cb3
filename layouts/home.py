"""The landing page: what the tool shows and where to start."""

from __future__ import annotations

import functools

from dash import dcc, html

from polyviz.figures import previews

PATH = "/"

PARTS = [
    ("/stretch-fold", "1 · Stretch & fold",
     "LayerNorm is a non-linearity. Its core u_ε(x) = x / √(|x|² + ε) after an affine map stretches the "
     "circle into a soft sign or folds it into a soft absolute value. Drag t and watch."),
    ("/sphere", "2 · Polytopes on the LayerNorm sphere",
     "A ReLU layer cuts space into polytopes. LayerNorm puts its inputs on a sphere, so only the arcs and "
     "patches the neuron hyperplanes cut from it matter, and scaling a direction never changes its polytope."),
    ("/train", "3 · Toy classifiers",
     "Width-3 networks whose only non-linearity is u_ε solve a spiral and a folded sphere. Train one live, "
     "watch the phase transition, and play the layer-by-layer animation that folds the data apart."),
    ("/compare?preset=norms", "4 · Compare",
     "Two or three networks trained side by side on the same data: u_ε, LayerNorm and ReLU at width 3 on the "
     "spiral, their curves overlaid and their boundaries next to each other, one link for all."),
    ("/transformer", "5 · Real transformers",
     "The MLP layers of a real checkpoint (MiniLM, offline) on the LayerNorm sphere: how many neuron boundaries a "
     "real token crosses when it rotates towards another, is scaled, or has a direction added."),
]


PREVIEWS = {"/stretch-fold": previews.stretch_preview, "/sphere": previews.arcs_preview,
            "/train": previews.spiral_preview, "/transformer": previews.crossings_preview,
            "/compare?preset=norms": previews.compare_preview}


@functools.lru_cache(maxsize=None)  # deterministic and a few KB: computed once per process
def preview(href: str) -> dict:
    return PREVIEWS[href]()


def layout(**_query) -> html.Div:
    cards = [
        dcc.Link(html.Div([dcc.Graph(figure=preview(href), config={"staticPlot": True, "displayModeBar": False},
                                     style={"height": "150px"}, className="preview"),
                           html.H3(title), html.P(text), html.Span("Open →", className="go")], className="part"),
                 href=href, className="part-link")
        for href, title, text in PARTS
    ]
    return html.Div(
        [
            html.Div(
                [
                    html.H1("See what normalisation does to a network's geometry"),
                    html.P(
                        "polyviz turns three arguments from interpretability research into pictures you can play "
                        "with, and measures them on a real transformer's weights. Every view is a link: the URL holds every control, so sharing it reopens exactly "
                        "what you see. The same figures come from the Python library, "
                        "polyviz.figures, in a notebook.",
                        className="lede",
                    ),
                ],
                className="hero",
            ),
            html.Div(cards, className="parts"),
        ],
        className="page home",
    )
