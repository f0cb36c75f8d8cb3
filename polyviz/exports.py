"""Exports of the pages' views (no Dash): the data behind a figure as CSV, and a figure as
a standalone HTML file (plotly.js inlined, so it opens offline).

* :func:`figure_html`: a figure spec of :mod:`polyviz.figures` as a whole HTML page;
* /train: :func:`points_csv` (every training and test point with its label, the model's
  probability of class 1 and its predicted class), :func:`curves_csv` (the training curves),
  :func:`file_stem` (the start of a run's exported files' names, the model's zip's too);
* /compare: :func:`compare_curves_csv` (every model's curves, one table);
* /stretch-fold: :func:`stretch_fold_csv`; /sphere: :func:`sphere_csv`;
* :func:`numbers_export`: a view's numbers (the transformer page's) as JSON or CSV;
* :func:`safe_filename`: a file name made of safe characters only.

Every CSV has a header row of named columns and "\n" line endings. Numbers computed here are
written in full (float64 ``repr``); numbers read from a figure are its float32 values,
written as the shortest text that reads back to them. A table of several series of different
lengths (a curve and the points on it) is "long": its first column, ``series``, names the
series of each row.
"""

from __future__ import annotations

import csv
import io
import json
import re

import numpy as np
import plotly.io as pio

from polyviz import polytopes as pt
from polyviz import stretch_fold as sf
from polyviz.figures import stretch_fold as fsf
from polyviz.figures.common import figure, untyped
from polyviz.models import predict_proba


def file_stem(run, model_id: str) -> str:
    """The name every export of a run starts with: polyviz-<data>-<the model id's first 10
    digits>, where <data> is "user-data" for your data, else the built-in data set."""
    source = "user-data" if run.fields.get("data") else run.fields.get("dataset", "run")
    return f"polyviz-{source}-{model_id[:10]}"


def points_csv(params, data, classes=None, columns=None) -> str:
    """CSV with one row per point: split (train/test), the features, the label (class name),
    the model's probabilities and predicted (class name). Two classes: one probability,
    p_class1; more (the digits): one p_<class> per class. ``data``: (X_train, X_test,
    y_train, y_test); ``classes``: the class names (default "0", "1", ...)."""
    Xtr, Xte, ytr, yte = data
    dim = np.asarray(Xtr).shape[1]
    columns = tuple(columns) if columns else tuple(f"x{i + 1}" for i in range(dim))
    splits = [(split, np.asarray(X, dtype=np.float32), np.asarray(y)) for split, X, y in
              (("train", Xtr, ytr), ("test", Xte, yte)) if len(X)]
    probs = [predict_proba(params, X) for _, X, _ in splits]  # (N,) for two classes, else (N, classes)
    n_classes = 2 if not probs or probs[0].ndim == 1 else probs[0].shape[1]
    classes = tuple(classes) if classes else tuple(str(i) for i in range(n_classes))
    binary = n_classes == 2
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["split", *columns, "label", *(["p_class1"] if binary else [f"p_{c}" for c in classes]),
                     "predicted"])
    for (split, X, y), prob in zip(splits, probs):
        for row, label, p in zip(X.tolist(), y.tolist(), prob.tolist()):
            shown, predicted = ([p], int(p > 0.5)) if binary else (p, int(np.argmax(p)))
            writer.writerow([split, *(repr(float(np.float32(v))) for v in row), classes[label],
                             *(f"{q:.6g}" for q in shown), classes[predicted]])
    return out.getvalue()


CURVE_COLUMNS = ["step", "train_loss", "train_acc", "test_loss", "test_acc"]


def _curve_rows(history):
    """Rows of :func:`curves_csv` (without its header)."""
    steps = np.asarray(history["step"]).tolist()
    test = {int(s): (float(loss), float(acc)) for s, loss, acc in
            zip(history.get("test_step", []), history.get("test_loss", []), history.get("test_acc", []))}
    for step, loss, acc in zip(steps, np.asarray(history["train_loss"]).tolist(),
                               np.asarray(history["train_acc"]).tolist()):
        t_loss, t_acc = test.get(int(step), ("", ""))
        yield [int(step), f"{loss:.6g}", f"{acc:.6g}",
               f"{t_loss:.6g}" if t_loss != "" else "", f"{t_acc:.6g}" if t_acc != "" else ""]


def curves_csv(history) -> str:
    """CSV of the training curves: step, train_loss, train_acc, then test_loss and
    test_acc where the test set was evaluated at that step (empty elsewhere)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CURVE_COLUMNS)
    writer.writerows(_curve_rows(history))
    return out.getvalue()


def compare_curves_csv(histories: dict) -> str:
    """Several runs' training curves in one table (``histories``: model label -> history):
    the model's label, then the columns of :func:`curves_csv`, every step of every run (the
    figure thins long runs; this does not)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["model", *CURVE_COLUMNS])
    for label, history in histories.items():
        writer.writerows([label, *row] for row in _curve_rows(history))
    return out.getvalue()


def table_csv(rows: list[dict]) -> str:
    """CSV of a table of dicts: one column per key of the first row (keys the first row lacks
    are left out), "\n" line endings like every other export."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def numbers_export(data: dict, fmt: str) -> str:
    """A view's numbers as JSON (everything) or CSV (its main table: the first list of rows,
    else its summary, else the whole dict as one row)."""
    if fmt == "json":
        return json.dumps(data, indent=1, default=float)
    rows = next((v for v in data.values() if isinstance(v, list) and v and isinstance(v[0], dict)), None)
    return table_csv(rows if rows is not None else [data.get("summary") or data])


def safe_filename(stem: str, extension: str, max_len: int = 120) -> str:
    """``stem.extension`` made of letters, digits and ``. _ -`` only (anything else, a path
    separator or a quote, becomes "-"), at most ``max_len`` characters before the extension."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", str(stem)).strip("-.")[:max_len].rstrip("-.")
    return f"{cleaned or 'polyviz'}.{re.sub(r'[^a-z0-9]', '', extension.lower()) or 'txt'}"


def figure_html(spec: dict, title: str = "polyviz figure") -> str:
    """A figure spec as a standalone HTML page (plotly.js inlined: it needs no network)."""
    fig = figure(spec)
    html = pio.to_html(fig, include_plotlyjs=True, full_html=True, config={"displaylogo": False})
    return html.replace("<head>", f"<head><title>{_escape(title)}</title>", 1)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# --- tables of named columns -------------------------------------------------------------

def _cells(values) -> list[str]:
    """A column as text: integers and booleans as integers, float32 (a figure's values) as the
    shortest text that reads back to the same float32, other floats in full (``repr``)."""
    array = np.asarray(values)
    if array.dtype.kind in "iub":
        return [str(int(v)) for v in array.tolist()]
    if array.dtype == np.float32:
        return [str(v) for v in array]  # NumPy's shortest round-trip text of a float32
    if array.dtype.kind == "f":
        return [repr(float(v)) for v in array.tolist()]
    return [str(v) for v in array.tolist()]


def columns_csv(columns: dict) -> str:
    """CSV of equally long columns (name -> values), one row per index."""
    return series_csv({None: columns})


def series_csv(series: dict) -> str:
    """CSV of several series (name -> {column -> values}), one row per point of each, in
    order; with more than one series (or a named one) the first column, ``series``, names
    it. Columns are the union of the series' columns in order of appearance; a series
    without a column leaves it empty."""
    names: list[str] = []
    for columns in series.values():
        names += [name for name in columns if name not in names]
    labelled = len(series) > 1 or None not in series
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((["series"] if labelled else []) + names)
    for label, columns in series.items():
        lengths = {len(np.asarray(v).reshape(-1)) for v in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"the columns of series {label!r} differ in length: {sorted(lengths)}")
        length = lengths.pop() if lengths else 0
        cells = {name: _cells(np.asarray(v).reshape(-1)) for name, v in columns.items()}
        for i in range(length):
            writer.writerow(([label] if labelled else []) + [cells[name][i] if name in cells else ""
                                                              for name in names])
    return out.getvalue()


def trace_values(trace: dict, key: str) -> np.ndarray:
    """A trace's array as the figure holds it (a typed array or a list), flat."""
    values = trace[key]
    if isinstance(values, dict):
        return untyped(values)
    return np.asarray(values, dtype=np.float64).reshape(-1)


# --- /stretch-fold ---------------------------------------------------------------------------

def stretch_fold_csv(state, which: str) -> str:
    """The data behind one Stretch & fold panel (``state``: a StretchFoldState), in full
    precision: ``circle``: every input point and its image u_ε(T_t(x)); ``curve``: the 1-D
    activation along y = 0 and the sigmoid u₁ (on the figure's x grid), and every point's
    (input x, output x); ``surface``: the surface's grid (x, y, output x) and the path T_t of
    the unit circle on it; ``sphere``: the points of S² drawn and their images."""
    op, t, eps, affine = state.op, state.t, state.eps, state.affine
    if which == "sphere":
        points = sf.sphere_points(min(int(state.n), fsf.MAX_SPHERE_POINTS))
        images = sf.apply(points, op, t, eps, affine)
        return columns_csv({"point": np.arange(len(points)), **_xyz("input", points), **_xyz("output", images)})
    if which == "surface":
        axis = fsf.surface_axis(3.0, fsf.SURFACE_STEPS)
        gx, gy = np.meshgrid(axis, axis)
        grid = np.stack([gx.ravel(), gy.ravel()], axis=1)
        px, py, pz = fsf.surface_path(op, t, eps, affine)
        return series_csv({"surface": {"x": grid[:, 0], "y": grid[:, 1], "output_x": sf.u_eps(grid, eps)[:, 0]},
                           "T_t(unit circle)": {"x": px, "y": py, "output_x": pz}})
    points = fsf.as_sent(sf.input_points(state.dist, state.n, state.seed))  # the inputs the figures use
    images = sf.apply(points, op, t, eps, affine)
    if which == "curve":
        xs = fsf.as_sent(np.linspace(-3.0, 3.0, fsf.CURVE_STEPS))
        return series_csv({"u_eps(T_t(x, 0))": {"input_x": xs, "output_x": sf.activation_slice(xs, op, t, eps, affine)},
                           "u_1(x) sigmoid": {"input_x": xs, "output_x": xs / np.sqrt(xs * xs + 1.0)},
                           "points": {"input_x": points[:, 0], "output_x": images[:, 0]}})
    if which == "circle":
        return columns_csv({"point": np.arange(len(points)), **_xyz("input", points), **_xyz("output", images)})
    raise ValueError(f"which must be one of circle, curve, surface, sphere, got {which!r}")


def _xyz(prefix: str, points: np.ndarray) -> dict:
    return {f"{prefix}_{axis}": points[:, i] for i, axis in enumerate("xyz"[:points.shape[1]])}


# --- /sphere -----------------------------------------------------------------------------------

def _code_text(on: np.ndarray) -> list[str]:
    """Spline codes as text, one character per neuron (neuron 0 first): 1 on, 0 off."""
    return ["".join("1" if bit else "0" for bit in row) for row in np.asarray(on, dtype=bool)]


def _passed(angles: np.ndarray, crossings: np.ndarray) -> np.ndarray:
    """How many of the (sorted) crossing angles lie before each angle."""
    return np.searchsorted(np.sort(crossings), angles, side="left").astype(np.int64)


def sphere_csv(which: str, spec: dict, W, b) -> str:
    """The data behind one /sphere figure: ``spec`` is the figure the page draws and (W, b)
    the layer on the page's LayerNorm sphere of R^d.

    * ``scene``: d = 3, the arcs of the LayerNorm circle (angles of its Helmert axes), with
      their spline codes, computed exactly; d = 4, every neuron's boundary circle on the
      unit sphere of the LayerNorm plane (its normal, offset h and radius; ``circle`` is equal
      for neurons that share one);
    * ``circle``: per angle from v along the great circle towards w, the crossings before it,
      the neurons on, the code and every neuron's pre-activation (the figure's values);
    * ``rotation``: per angle, the MLP output, |d output / d angle| and the crossings before;
    * ``scaling``: the step curves of spline codes met by k·v: from each k on (to the next
      row's k), the count, without and with the normalisation."""
    W, b = pt.as_layer(W, b)
    data = spec["data"]
    if which == "scene" and W.shape[1] == 3:
        p, q, radius = pt.layernorm_circle(3)
        crossings = pt.circle_crossings(W, b, p, q, radius)
        starts, ends = pt.arc_bounds(crossings.angles)
        codes = crossings.codes()
        return columns_csv({"arc": np.arange(len(starts)), "start_angle": starts,
                            "end_angle": ends, "neurons_on": codes.sum(axis=1), "code": _code_text(codes)})
    if which == "scene":
        circles = pt.circle_arrangement(*pt.layernorm_sphere_layer(W, b)).circles
        return columns_csv({"neuron": circles.neuron, "circle": circles.circle_id,
                            **{f"normal_{a}": circles.normal[:, i] for i, a in enumerate("xyz")},
                            "offset": circles.offset, "radius": circles.radius})
    if which == "circle":
        # trace order of polyviz.figures.sphere.unrolled_spec: arcs, crossings, code heatmap (its x: the
        # angles), then one curve per neuron
        angles = trace_values(data[2], "x").astype(np.float32)
        z = np.stack([trace_values(trace, "y").astype(np.float32) for trace in data[3:]], axis=1)
        return columns_csv({"angle": angles, "crossings_before": _passed(angles, trace_values(data[1], "x")),
                            "neurons_on": (z > 0).sum(axis=1), "code": _code_text(z > 0),
                            **{f"neuron_{j}": z[:, j] for j in range(z.shape[1])}})
    if which == "rotation":
        angles = trace_values(data[0], "x").astype(np.float32)
        return columns_csv({"angle": angles, "output": trace_values(data[0], "y").astype(np.float32),
                            "abs_slope": trace_values(data[2], "y").astype(np.float32),
                            "crossings_before": _passed(angles, trace_values(data[1], "x"))})
    if which == "scaling":
        return series_csv({trace["name"].rsplit(" (", 1)[0]: {
            "k": trace_values(trace, "x").astype(np.float32),
            "spline_codes": trace_values(trace, "y").astype(np.int64)} for trace in data})
    raise ValueError(f"which must be one of scene, circle, scaling, rotation, got {which!r}")
