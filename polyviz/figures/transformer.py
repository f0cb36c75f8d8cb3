"""Figures for "Real transformers on the LayerNorm sphere" (/transformer): plain functions of
the arrays polyviz.transformer computes, so a notebook draws the same figures:

    >>> from polyviz import transformer as tf
    >>> from polyviz.figures import transformer as ft
    >>> model = tf.load(); tokens, X = model.mlp_inputs(tf.DEFAULT_TEXT, 3)
    >>> W, b = model.mlp_in(3); W2, b2 = model.mlp_out(3)
    >>> c = tf.great_circle(X[2], X[17])
    >>> ft.circle_figure(tf.circle_crossings(W, b, c), tf.circle_profile(W, b, W2, b2, c), tokens, 2, 17).show()

Each ``<name>_spec`` returns a plain figure dict whose ``layout.meta`` holds the numbers the
page's words quote; ``<name>_figure`` wraps it in a Plotly Figure.
"""

from __future__ import annotations

import math

import numpy as np

from .common import BLUE, GREEN, MUTED, NOTE, RED, base_layout, f32, figure, i4, typed_grid

SOFT_NEURONS = 160  # rows of the soft-code heatmap: neurons crossing on the arc A -> B
SOFT_ANGLES = 121  # its columns at most (every 3 degrees)
LIGHT_BLUE = "#9dbbf0"


def _tok(tokens, i) -> str:
    return f"{i}: {tokens[i]}" if 0 <= i < len(tokens) else str(i)


def _steps(angles: np.ndarray, values: np.ndarray, end: float) -> tuple[np.ndarray, np.ndarray]:
    """A step function given at its jump angles, closed at ``end`` (for line_shape hv)."""
    return np.append(angles, end), np.append(values, values[-1])


def circle_spec(crossings, profile, tokens, a: int, b: int) -> dict:
    """The great circle through tokens a and b, unrolled over a full turn (A at 0, B at
    theta_b): every crossing neuron's two sign changes (hover names it), the active count
    and the Hamming distance from A's code (exact steps), the soft code of the neurons
    that cross between A and B, and the MLP output's norm and change per radian."""
    theta = float(crossings.theta_b)
    tau = 2 * math.pi
    on = crossings.turns_on
    data = []
    for mask, colour, what in ((on, GREEN, "turns on"), (~on, RED, "turns off")):
        data.append(dict(type="scattergl", x=f32(crossings.angles[mask]), y=i4(crossings.neurons[mask]), mode="markers",
                         marker=dict(size=3, color=colour), xaxis="x", yaxis="y",
                         hovertemplate=f"neuron %{{y}} {what} at %{{x:.4f}} rad<extra></extra>", name=what))
    act_x, act_y = _steps(*crossings.active_steps(), tau)
    ham_x, ham_y = _steps(*crossings.hamming_steps(), tau)
    data.append(dict(type="scatter", x=f32(act_x), y=i4(act_y), mode="lines", line=dict(color=BLUE, shape="hv"),
                     xaxis="x", yaxis="y2", name="active neurons", hovertemplate="%{y} active at %{x:.3f} rad<extra></extra>"))
    data.append(dict(type="scatter", x=f32(ham_x), y=i4(ham_y), mode="lines", line=dict(color=RED, shape="hv"),
                     xaxis="x", yaxis="y2", name="Hamming distance from A",
                     hovertemplate="%{y} neurons differ from A at %{x:.3f} rad<extra></extra>"))
    # soft code: the neurons whose first crossing lies on the arc A -> B, in order of it
    first_angle = np.full(len(crossings.start_code), np.inf)
    np.minimum.at(first_angle, crossings.neurons, crossings.angles)
    on_arc = np.flatnonzero(first_angle <= theta)
    on_arc = on_arc[np.argsort(first_angle[on_arc], kind="stable")]
    if len(on_arc) > SOFT_NEURONS:
        on_arc = on_arc[np.linspace(0, len(on_arc) - 1, SOFT_NEURONS).round().astype(int)]
    columns = np.unique(np.linspace(0, len(profile.angles) - 1, SOFT_ANGLES).round().astype(int))
    soft = np.round(100 * profile.soft[np.ix_(columns, on_arc)].T).astype(np.uint8)
    if len(on_arc):
        data.append(dict(type="heatmap", x=f32(profile.angles[columns]), y=[f"n{k}" for k in on_arc],
                         z=typed_grid(soft, "u1"), zmin=0, zmax=100, colorscale="RdBu", reversescale=True,
                         showscale=False, xaxis="x", yaxis="y3",
                         hovertemplate="%{y} at %{x:.3f} rad: soft code %{z}%<extra></extra>"))
    data.append(dict(type="scatter", x=f32(profile.angles), y=f32(profile.out_norm), mode="lines",
                     line=dict(color=NOTE), xaxis="x", yaxis="y4", name="|MLP output|",
                     hovertemplate="|output| %{y:.3f} at %{x:.3f} rad<extra></extra>"))
    data.append(dict(type="scatter", x=f32(profile.angles), y=f32(profile.out_speed), mode="lines",
                     line=dict(color="#e0a526"), xaxis="x", yaxis="y5", name="|d output / d angle|",
                     hovertemplate="change %{y:.3f} per rad at %{x:.3f} rad<extra></extra>"))
    arc = profile.angles <= theta
    speed_on_arc = profile.out_speed[arc]
    arc_tv = float(np.trapezoid(speed_on_arc, profile.angles[arc])) if arc.sum() > 1 else 0.0
    hamming_b = int(np.count_nonzero(crossings.codes_at([theta])[0] != crossings.start_code))
    active_b = int(crossings.codes_at([theta])[0].sum())
    meta = dict(a=int(a), b=int(b), theta_b=theta, d_mlp=int(len(crossings.start_code)),
                crossing_neurons=int(crossings.n_crossing_neurons),
                arc_crossings=int(crossings.count_between(0.0, theta)), hamming_b=hamming_b,
                active_a=int(crossings.start_code.sum()), active_b=active_b,
                norm_a=float(profile.out_norm[0]), norm_b=float(np.interp(theta, profile.angles, profile.out_norm)),
                arc_tv=arc_tv, soft_neurons=[int(k) for k in on_arc])
    shapes = [dict(type="rect", xref="x", yref="paper", x0=0, x1=theta, y0=0, y1=1, fillcolor="#3b6fd8",
                   opacity=0.06, line=dict(width=0), layer="below")]
    for x in (0.0, theta):
        shapes.append(dict(type="line", xref="x", yref="paper", x0=x, x1=x, y0=0, y1=1,
                           line=dict(color=NOTE, width=1, dash="dot")))
    annotations = [dict(x=0.0, y=1.0, xref="x", yref="paper", text=f"A ({_tok(tokens, a)})", showarrow=False,
                        xanchor="left", yanchor="bottom", font=dict(size=11)),
                   dict(x=theta, y=1.0, xref="x", yref="paper", text=f"B ({_tok(tokens, b)})", showarrow=False,
                        xanchor="left", yanchor="bottom", font=dict(size=11))]
    axis = dict(anchor="x")
    layout = base_layout(
        f"Great circle through A and B: {meta['crossing_neurons']:,} of {meta['d_mlp']:,} neurons cross, "
        f"{meta['arc_crossings']:,} crossings between A and B",
        height=760, margin=dict(l=56, r=56, t=60, b=40), meta=meta, shapes=shapes, annotations=annotations,
        xaxis=dict(title=dict(text="angle from A on the great circle (rad)"), range=[0, tau], anchor="y4"),
        yaxis=dict(domain=[0.70, 0.97], title=dict(text="neuron"), **axis),
        yaxis2=dict(domain=[0.48, 0.66], title=dict(text="neurons"), **axis),
        yaxis3=dict(domain=[0.24, 0.44], title=dict(text="soft code"), showticklabels=False, **axis),
        yaxis4=dict(domain=[0.0, 0.20], title=dict(text="|output|"), **axis),
        yaxis5=dict(overlaying="y4", side="right", title=dict(text="per rad", font=dict(color="#b07d0e")),
                    anchor="x", showgrid=False),
        hovermode="closest",
    )
    return dict(data=data, layout=layout)


def _hist_traces(values, bins, colour, name, axis):
    values = values[np.isfinite(values)]
    counts, edges = np.histogram(values, bins=bins)
    centres = 0.5 * (edges[1:] + edges[:-1])
    return dict(type="bar", x=f32(centres), y=i4(counts), width=float(edges[1] - edges[0]), marker=dict(color=colour),
                opacity=0.6, name=name, xaxis=axis[0], yaxis=axis[1],
                hovertemplate=f"{name}: %{{y}} pairs near %{{x:.3g}}<extra></extra>")


def _median_line(values, colour, axis):
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    m = float(np.median(values))
    return dict(type="line", xref=axis[0], yref=f"{axis[1]} domain", x0=m, x1=m, y0=0, y1=1,
                line=dict(color=colour, width=2, dash="dash"))


def rotation_spec(probe, bins: int = 40) -> dict:
    """Distributions over token pairs: neuron boundaries crossed per radian (left) and the
    MLP output's total variation (right), with LayerNorm (the great-circle arc, blue) and
    without it (the straight segment between raw residuals, red); dashed: medians."""
    left, right = ("x", "y"), ("x2", "y2")
    per, per_raw = probe.per_radian, probe.per_radian_raw
    both = np.concatenate([per[np.isfinite(per)], per_raw[np.isfinite(per_raw)]])
    edges = np.histogram_bin_edges(both if len(both) else [0, 1], bins=bins)
    tv, tv_raw = probe.tv, probe.tv_raw
    tv_both = np.concatenate([tv[np.isfinite(tv)], tv_raw[np.isfinite(tv_raw)]])
    tv_edges = np.histogram_bin_edges(tv_both if len(tv_both) else [0, 1], bins=max(10, bins // 2))
    data = [_hist_traces(per, edges, BLUE, "with LayerNorm", left),
            _hist_traces(per_raw, edges, RED, "without LayerNorm", left)]
    if len(tv_both):
        data += [_hist_traces(tv, tv_edges, BLUE, "with LayerNorm", right),
                 _hist_traces(tv_raw, tv_edges, RED, "without LayerNorm", right)]
    shapes = [s for s in (_median_line(per, BLUE, left), _median_line(per_raw, RED, left),
                          _median_line(tv, BLUE, right), _median_line(tv_raw, RED, right)) if s]
    summary = probe.summary()
    med = summary["crossings_per_radian"]["median"] if summary["crossings_per_radian"] else float("nan")
    med_raw = summary["crossings_per_radian_raw"]["median"] if summary["crossings_per_radian_raw"] else float("nan")
    layout = base_layout(
        f"Rotation probe, {summary['pairs']:,} pairs: median {med:.0f} crossings per radian with LayerNorm, "
        f"{med_raw:.0f} without",
        height=380, barmode="overlay", meta=summary, shapes=shapes, showlegend=True,
        legend=dict(orientation="h", x=0, y=-0.2),
        xaxis=dict(domain=[0, 0.47], title=dict(text="neuron boundaries crossed per radian")),
        yaxis=dict(title=dict(text="token pairs")),
        xaxis2=dict(domain=[0.55, 1], title=dict(text="output total variation along the path"), anchor="y2"),
        yaxis2=dict(anchor="x2", title=dict(text=f"pairs (subsample of {summary['tv']['n'] if summary['tv'] else 0})")),
    )
    data[2:] = [dict(t, showlegend=False) for t in data[2:]]
    return dict(data=data, layout=layout)


def scaling_spec(with_ln, without_ln, tokens, kmax: float, eps_region_k: float = 1e-3) -> dict:
    """Per token, the neuron boundaries crossed by k·x for k in (0, kmax]: without LayerNorm
    (red) and with it (blue, real eps), the latter split at k = eps_region_k into the
    epsilon region (light) and above it."""
    n = len(without_ln.counts)
    labels = [_tok(tokens, i) for i in range(n)]
    ln_above = with_ln.count_in(eps_region_k, kmax) if kmax > eps_region_k else np.zeros(n, dtype=np.int64)
    raw_above = without_ln.count_in(eps_region_k, kmax) if kmax > eps_region_k else np.zeros(n, dtype=np.int64)
    ln_below = with_ln.counts - ln_above
    data = [
        dict(type="bar", x=labels, y=i4(without_ln.counts), name="without LayerNorm", marker=dict(color=RED),
             offsetgroup="raw", hovertemplate="%{x}: %{y} crossings without LayerNorm<extra></extra>"),
        dict(type="bar", x=labels, y=i4(ln_below), name=f"with LayerNorm, k < {eps_region_k:g} (eps region)",
             marker=dict(color=LIGHT_BLUE), offsetgroup="ln",
             hovertemplate="%{x}: %{y} crossings with LayerNorm at k < " + f"{eps_region_k:g}<extra></extra>"),
        dict(type="bar", x=labels, y=i4(ln_above), base=i4(ln_below), name=f"with LayerNorm, k ≥ {eps_region_k:g}",
             marker=dict(color=BLUE), offsetgroup="ln",
             hovertemplate="%{x}: %{y} crossings with LayerNorm at k ≥ " + f"{eps_region_k:g}<extra></extra>"),
    ]
    meta = dict(kmax=float(kmax), raw_median=float(np.median(without_ln.counts)),
                ln_median=float(np.median(with_ln.counts)),
                ln_k_largest=float(with_ln.t.max()) if len(with_ln.t) else 0.0,
                ln_above_total=int(ln_above.sum()), raw_above_total=int(raw_above.sum()),
                k_eps_max=float(np.max(with_ln.extra.get("k_eps", [np.nan]))))
    layout = base_layout(f"Scaling k·x, k in (0, {kmax:g}]: boundaries crossed per token", height=360,
                         barmode="group", meta=meta, showlegend=True, legend=dict(orientation="h", x=0, y=1.12),
                         margin=dict(l=48, r=16, t=70, b=90),
                         xaxis=dict(tickangle=-60, tickfont=dict(size=9), type="category"),
                         yaxis=dict(title=dict(text="boundaries crossed")))
    return dict(data=data, layout=layout)


def cumulative_counts(lines, n_lines: int, grid: np.ndarray) -> np.ndarray:
    """(n_lines, len(grid)): per line, the crossings with t <= grid value (lines are sorted
    by (line, t), as polyviz.transformer returns them)."""
    starts = np.searchsorted(lines.line, np.arange(n_lines), "left")
    ends = np.searchsorted(lines.line, np.arange(n_lines), "right")
    out = np.zeros((n_lines, len(grid)), dtype=np.int64)
    for i in range(n_lines):
        out[i] = np.searchsorted(lines.t[starts[i]:ends[i]], grid, "right")
    return out


def direction_spec(lines, n_tokens: int, a: int, amax: float, tokens, w_words: str, n_grid: int = 201) -> dict:
    """Crossings of LayerNorm(x + alpha w) as alpha grows: the median over the text's tokens
    with its quartile band, and token A's exact steps."""
    grid = np.linspace(0.0, amax, n_grid)
    counts = cumulative_counts(lines, n_tokens, grid)
    q1, med, q3 = np.percentile(counts, [25, 50, 75], axis=0)
    a_t = lines.t[lines.line == a]
    a_x = np.concatenate([[0.0], a_t, [amax]])
    a_y = np.concatenate([[0], np.arange(1, len(a_t) + 1), [len(a_t)]])
    data = [
        dict(type="scatter", x=f32(grid), y=f32(q3), mode="lines", line=dict(width=0), hoverinfo="skip",
             showlegend=False),
        dict(type="scatter", x=f32(grid), y=f32(q1), mode="lines", line=dict(width=0), fill="tonexty",
             fillcolor="rgba(59,111,216,0.15)", name="quartiles over tokens", hoverinfo="skip"),
        dict(type="scatter", x=f32(grid), y=f32(med), mode="lines", line=dict(color=BLUE, width=2),
             name="median over tokens", hovertemplate="median %{y:.0f} crossings by α = %{x:.3g}<extra></extra>"),
        dict(type="scatter", x=f32(a_x), y=i4(a_y), mode="lines", line=dict(color=RED, shape="hv"),
             name=f"token A ({_tok(tokens, a)})", hovertemplate="A: %{y} crossings by α = %{x:.4g}<extra></extra>"),
    ]
    first = [lines.t[lines.line == i][0] for i in range(n_tokens) if np.any(lines.line == i)]
    meta = dict(amax=float(amax), a=int(a), w_words=w_words, median_end=float(med[-1]), q1_end=float(q1[-1]),
                q3_end=float(q3[-1]), a_end=int(len(a_t)),
                median_first=float(np.median(first)) if first else float("inf"))
    layout = base_layout(f"Adding a direction: boundaries crossed by LayerNorm(x + α·w), α in (0, {amax:g}]",
                         height=360, meta=meta, showlegend=True, legend=dict(orientation="h", x=0, y=-0.22),
                         xaxis=dict(title=dict(text="α (units of the text's median |x − mean|)")),
                         yaxis=dict(title=dict(text="boundaries crossed so far"), rangemode="tozero"))
    return dict(data=data, layout=layout)


def massive_spec(probe, tokens, token: int, dim: int, value: float, median_abs: float) -> dict:
    """One residual dimension scaled by s: LayerNorm's effective scale on the rest of the
    vector (relative to s = 1, left axis) and the MLP neurons flipped (right axis); ticks
    below: the exact s of every flip."""
    s = probe.s
    data = [
        dict(type="scatter", x=f32(s), y=f32(probe.rest_scale), mode="lines", line=dict(color=BLUE),
             name="effective scale relative to s = 1", hovertemplate="s = %{x:.3g}: ×%{y:.4g}<extra></extra>"),
        dict(type="scatter", x=f32(s), y=i4(probe.flips), mode="lines", line=dict(color=RED), yaxis="y2",
             name="neurons flipped vs s = 1", hovertemplate="s = %{x:.3g}: %{y} neurons flipped<extra></extra>"),
        dict(type="scatter", x=f32(probe.breakpoints), y=np.zeros(len(probe.breakpoints)).tolist(), mode="markers",
             marker=dict(symbol="line-ns-open", size=8, color=MUTED), yaxis="y2", name="exact flip points",
             customdata=i4(probe.neurons), hovertemplate="neuron %{customdata} flips at s = %{x:.4g}<extra></extra>"),
    ]
    one = int(np.argmin(np.abs(s - 1.0)))
    meta = dict(dim=int(dim), token=int(token), value=float(value), median_abs=float(median_abs), smax=float(s[-1]),
                rest_at_0=float(probe.rest_scale[0]), rest_at_max=float(probe.rest_scale[-1]),
                flips_at_0=int(probe.flips[0]), flips_at_max=int(probe.flips[-1]), flips_at_1=int(probe.flips[one]),
                breakpoints=int(len(probe.breakpoints)))
    layout = base_layout(f"Scaling dimension {dim} of token {_tok(tokens, token)} by s", height=360, meta=meta,
                         showlegend=True, legend=dict(orientation="h", x=0, y=1.0, yanchor="bottom"),
                         margin=dict(l=56, r=56, t=70, b=40),
                         xaxis=dict(title=dict(text="s (the component x_dim becomes s·x_dim)")),
                         yaxis=dict(title=dict(text="effective scale (× value at s = 1)"), type="log", dtick="D2"),
                         # its own ticks: an overlaying axis otherwise syncs them to the log axis' grid
                         yaxis2=dict(title=dict(text="neurons flipped", font=dict(color=RED)), overlaying="y", type="linear",
                                     side="right", rangemode="tozero", showgrid=False, tickmode="auto", nticks=6))
    return dict(data=data, layout=layout)


def message_spec(text: str, height: int = 300) -> dict:
    """An empty figure carrying a message (the view cannot be drawn, and why)."""
    layout = base_layout("", height=height, xaxis=dict(visible=False), yaxis=dict(visible=False),
                         annotations=[dict(text=text, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
                                           font=dict(size=13, color=NOTE))], meta={})
    return dict(data=[], layout=layout)


def circle_figure(*args, **kwargs):
    return figure(circle_spec(*args, **kwargs))


def rotation_figure(*args, **kwargs):
    return figure(rotation_spec(*args, **kwargs))


def scaling_figure(*args, **kwargs):
    return figure(scaling_spec(*args, **kwargs))


def direction_figure(*args, **kwargs):
    return figure(direction_spec(*args, **kwargs))


def massive_figure(*args, **kwargs):
    return figure(massive_spec(*args, **kwargs))
