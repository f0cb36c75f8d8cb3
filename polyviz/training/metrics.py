"""Classification results: accuracy, per-class accuracy and the confusion matrix.

Plain NumPy on labels, so they apply to any model; :func:`classification_results` runs a
model (binary or multiclass, see :func:`polyviz.models.predict`) on data first.
"""

from __future__ import annotations

import numpy as np

from polyviz.models import _as_params, predict


def _labels(y_true, y_pred, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true).astype(np.int64).ravel()
    p = np.asarray(y_pred).astype(np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {t.shape[0]} and {p.shape[0]}")
    if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) or n_classes < 1:
        raise ValueError(f"n_classes must be a positive integer, got {n_classes!r}")
    for name, a in (("y_true", t), ("y_pred", p)):
        if len(a) and (a.min() < 0 or a.max() >= n_classes):
            raise ValueError(f"{name} must hold classes in [0, {n_classes - 1}]")
    return t, p


def confusion_matrix(y_true, y_pred, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) int64 counts: row = true class, column = predicted class."""
    t, p = _labels(y_true, y_pred, n_classes)
    return np.bincount(t * n_classes + p, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def per_class_accuracy(y_true, y_pred, n_classes: int) -> np.ndarray:
    """Fraction of each true class predicted right (the confusion matrix's diagonal over its
    row sums); NaN for a class with no points."""
    cm = confusion_matrix(y_true, y_pred, n_classes)
    rows = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(rows > 0, np.diag(cm) / np.maximum(rows, 1), np.nan)


def accuracy(y_true, y_pred) -> float:
    """Fraction of points predicted right."""
    t = np.asarray(y_true).astype(np.int64).ravel()
    p = np.asarray(y_pred).astype(np.int64).ravel()
    if t.shape != p.shape or len(t) == 0:
        raise ValueError(f"y_true and y_pred must be non-empty and of the same length, got {t.shape} and {p.shape}")
    return float((t == p).mean())


def classification_results(params, X, y) -> dict:
    """A model's results on (X, y): ``accuracy``, ``per_class_accuracy`` (n_classes,),
    ``confusion`` (n_classes, n_classes; rows true, columns predicted), ``n_classes``, ``n``."""
    p = _as_params(params)
    C = p.config.n_classes
    pred = predict(p, X)
    return {"accuracy": accuracy(y, pred), "per_class_accuracy": per_class_accuracy(y, pred, C),
            "confusion": confusion_matrix(y, pred, C), "n_classes": C, "n": int(len(pred))}
