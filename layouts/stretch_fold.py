"""The "Stretch & fold" page's components: u_eps after an affine map, on the circle, plane and
sphere. Components and ids only; the state and presets are polyviz.pages.stretch_fold."""

from __future__ import annotations

from dash import dcc, html

from polyviz import state as st
from polyviz.pages.stretch_fold import EXPORT_FIGURES, PRESETS, T_RANGE, StretchFoldState
from polyviz.stretch_fold import DISTRIBUTIONS

from .common import (ExportIds, camera_store, control, copy_link, export_row, graph_card, log_slider,
                     notices_box, number_box, python_copy)

PATH = "/stretch-fold"

# Component ids, so the callbacks module and the tests use the same names (assets/stretch_fold.js
# names the graphs, the slider and the play button too).
OP, T, EPS, N, DIST, SEED = "sf-op", "sf-t", "sf-log-eps", "sf-n", "sf-dist", "sf-seed"
AFFINE_IDS = {name: f"sf-{name}" for name in ("a11", "a12", "a21", "a22", "b1", "b2")}
AFFINE_BOX = "sf-affine-box"
PLAY, COMMITTED_T, LIVE_SINK = "sf-play", "sf-committed-t", "sf-live-sink"
FIG_CIRCLE, FIG_CURVE, FIG_SURFACE, FIG_SPHERE = "sf-circle", "sf-curve", "sf-surface", "sf-sphere"
NOTICES, QUERY, URL_SINK, COPY = "sf-notices", "sf-query", "sf-url-sink", "sf-copy"
LINK_NOTICES = "sf-link-notices"  # what was wrong with the opening link, shown until the first change
PRESET_PREFIX = "sf-preset-"
PRESET_TEXT = "sf-preset-text"
CAMERAS = "sf-cameras"  # the 3-D panels' cameras (layouts.common.camera_store)
CAMERA_FIELDS = {FIG_SURFACE: "surface_cam", FIG_SPHERE: "sphere_cam"}
EXPORT = ExportIds("sf")


# typeset with the page: lazily (math_markdown) MathJax logged "NaNex" errors here, its
# typesetting racing the figures' first draws (tests/test_browser_*.py count console errors)
EXPLAIN_ID = "sf-explain"
EXPLAIN = r"""LayerNorm is, up to scale and the learned $\gamma,\beta$,

$$\mathrm{LN}(x)=\sqrt{n}\;u_{n\varepsilon}\big(x-\bar x\big),\qquad u_\varepsilon(x)=\frac{x}{\sqrt{|x|^2+\varepsilon}}.$$

**Stretch.** $u_\varepsilon(tx, y)$: as $t$ grows every point with $x>0$ heads to $(1,0)$ and every
point with $x<0$ to $(-1,0)$ — a soft $\operatorname{sign}(x)$.

**Fold.** $u_\varepsilon(x+t, y)$: once $t>1$ the shifted circle no longer goes round the origin, so
its image is an arc traced twice. The $x$-output becomes a soft $|x|$: on the unit circle it is
$(x+t)/\sqrt{1+2tx+t^2+\varepsilon}$, for $t=2$ and $\varepsilon\to0$ it is $(x+2)/\sqrt{5+4x}$,
equal to 1 at both extremes $x=\pm1$ and lowest ($\sqrt3/2$) at $x=-\tfrac12$: extremes of $x$ land together.

In 1-D, $u_\varepsilon(x)=x/\sqrt{x^2+\varepsilon}$ is a sigmoid. On the 2-D surface, the cliff
near the origin has width $\sim\sqrt\varepsilon$: a shifted circle that straddles it makes the
*dimple* seen in the activation curve.
"""


def layout(**query) -> html.Div:
    """The page for a URL query: every control starts from the validated query."""
    state, notices = st.from_query(StretchFoldState, query)
    return page(state, notices)


def page(state: StretchFoldState, notices: list[str]) -> html.Div:
    affine_inputs = [
        control(name, number_box(cid, getattr(state, name)), control_id=cid)
        for name, cid in AFFINE_IDS.items()
    ]
    controls = html.Div(
        [
            html.H2("Stretch & fold"),
            notices_box(notices, NOTICES),  # at the top of the controls, where the user looks
            html.P(["Every panel shows ", html.B("u_ε(T_t(x))"), ": an affine map T_t followed by the "
                    "core of LayerNorm, u_ε(x) = x / √(|x|² + ε). Move t and watch the circle bunch up "
                    "(stretch) or fold over (shift)."], className="lede"),
            html.Div([html.Button(p["title"], id=PRESET_PREFIX + key, className="preset", n_clicks=0)
                      for key, p in PRESETS.items()], className="presets"),
            html.Div(id=PRESET_TEXT, className="preset-text"),
            control("Operation", dcc.RadioItems(
                id=OP, value=state.op, inline=True, className="radio",
                options=[{"label": " stretch u(tx, y)", "value": "stretch"},
                         {"label": " shift u(x+t, y)", "value": "shift"},
                         {"label": " affine", "value": "affine"}])),
            html.Div(
                [html.Div("T_t(x) = x + t((A − I)x + c): t = 0 is the identity, t = 1 is A x + c. "
                          "Each entry from −5 to 5.", className="control-help"),
                 html.Div(affine_inputs, className="affine-grid")],
                id=AFFINE_BOX, className="affine-box", style={"display": "block" if state.op == "affine" else "none"},
            ),
            control("t", html.Div([
                html.Button("▶ play", id=PLAY, className="play", n_clicks=0),
                dcc.Slider(id=T, min=T_RANGE[0], max=T_RANGE[1], step=0.01, value=state.t,
                           marks={k: str(k) for k in range(-5, 6)}, updatemode="mouseup",
                           tooltip={"placement": "bottom", "always_visible": False}),
            ], className="t-row"), "Drag to see it live; play sweeps t in your browser.", T),
            control("ε (log scale)", log_slider(EPS, state.eps, -4, 0, 0.05, updatemode="mouseup"),
                    "Small ε: u_ε is nearly x/|x| (a hard projection). Large ε: a gentle squash.", EPS),
            control("Points", dcc.Slider(id=N, min=10, max=5000, step=10, value=state.n,
                                         marks={10: "10", 1000: "1k", 2000: "2k", 5000: "5k"},
                                         tooltip={"placement": "bottom"}), control_id=N),
            control("Input", dcc.RadioItems(id=DIST, value=state.dist, inline=True, className="radio",
                                            options=[{"label": f" {d}", "value": d} for d in DISTRIBUTIONS])),
            control("Seed (disc sampling)", number_box(SEED, state.seed), control_id=SEED),
            copy_link(COPY),
            python_copy("sf"),
            export_row(EXPORT, EXPORT_FIGURES, "circle"),
            html.Div(
                [
                    html.H3("What you are seeing"),
                    dcc.Markdown(EXPLAIN, id=EXPLAIN_ID, mathjax=True),
                ],
                className="explain",
            ),
            dcc.Store(id=LIVE_SINK),
            dcc.Store(id=COMMITTED_T, data=state.t),
            dcc.Store(id=QUERY, data=st.to_query(state)),
            dcc.Store(id=URL_SINK),
            camera_store(CAMERAS, state, CAMERA_FIELDS),
            dcc.Store(id=LINK_NOTICES, data=notices),
        ],
        className="sidebar",
    )
    panels = html.Div(
        [
            graph_card(FIG_CIRCLE, "Input points (faint) and where u_ε(T_t(x)) sends them; colour = input angle."),
            graph_card(FIG_CURVE, "The activation along y = 0, the plain sigmoid u₁, and your points' x → x."),
            graph_card(FIG_SURFACE, "x-output over the input plane; the dark path is T_t of the unit circle."),
            graph_card(FIG_SPHERE, "The same map on the sphere S² (acting on x, y); colour = input x."),
        ],
        className="panels",
    )
    return html.Div([controls, panels], className="page two-col")
