"""Exports of a /train result (no Dash): the data behind it as CSV, and a figure as a
standalone HTML file (plotly.js inlined, so it opens offline).

* :func:`points_csv`: every training and test point with its label, the model's
  probability of class 1 and its predicted class;
* :func:`curves_csv`: the training curves (loss and accuracy per evaluated step);
* :func:`figure_html`: a figure spec of :mod:`polyviz.figures` as a whole HTML page;
* :func:`numbers_export`: a view's numbers (the transformer page's) as JSON or CSV;
* :func:`file_stem`: the start of every exported file's name (the model's zip's too).
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import plotly.io as pio

from polyviz.figures.common import figure
from polyviz.models import predict_proba


def file_stem(run, model_id: str) -> str:
    """The name every export of a run starts with: polyviz-<data>-<the model id's first 10
    digits>, where <data> is "user-data" for your data, else the built-in data set."""
    source = "user-data" if run.fields.get("data") else run.fields.get("dataset", "run")
    return f"polyviz-{source}-{model_id[:10]}"


def points_csv(params, data, classes=("0", "1"), columns=None) -> str:
    """CSV with one row per point: split (train/test), the features, the label (class
    name), p_class1 and predicted (class name). ``data``: (X_train, X_test, y_train, y_test)."""
    Xtr, Xte, ytr, yte = data
    dim = np.asarray(Xtr).shape[1]
    columns = tuple(columns) if columns else tuple(f"x{i + 1}" for i in range(dim))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["split", *columns, "label", "p_class1", "predicted"])
    for split, X, y in (("train", Xtr, ytr), ("test", Xte, yte)):
        X = np.asarray(X, dtype=np.float32)
        if not len(X):
            continue
        prob = predict_proba(params, X)
        for row, label, p in zip(X.tolist(), np.asarray(y).tolist(), prob.tolist()):
            writer.writerow([split, *(repr(float(np.float32(v))) for v in row), classes[label], f"{p:.6g}",
                             classes[int(p > 0.5)]])
    return out.getvalue()


def curves_csv(history) -> str:
    """CSV of the training curves: step, train_loss, train_acc, then test_loss and
    test_acc where the test set was evaluated at that step (empty elsewhere)."""
    steps = np.asarray(history["step"]).tolist()
    test = {int(s): (float(loss), float(acc)) for s, loss, acc in
            zip(history.get("test_step", []), history.get("test_loss", []), history.get("test_acc", []))}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["step", "train_loss", "train_acc", "test_loss", "test_acc"])
    for step, loss, acc in zip(steps, np.asarray(history["train_loss"]).tolist(),
                               np.asarray(history["train_acc"]).tolist()):
        t_loss, t_acc = test.get(int(step), ("", ""))
        writer.writerow([int(step), f"{loss:.6g}", f"{acc:.6g}",
                         f"{t_loss:.6g}" if t_loss != "" else "", f"{t_acc:.6g}" if t_acc != "" else ""])
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


def figure_html(spec: dict, title: str = "polyviz figure") -> str:
    """A figure spec as a standalone HTML page (plotly.js inlined: it needs no network)."""
    fig = figure(spec)
    html = pio.to_html(fig, include_plotlyjs=True, full_html=True, config={"displaylogo": False})
    return html.replace("<head>", f"<head><title>{_escape(title)}</title>", 1)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
