"""Phase transitions: where a training loss leaves a plateau with a sharp drop."""

from __future__ import annotations

import math

import numpy as np


def detect_phase_transitions(loss, *, smooth: int = 25, plateau: int = 100, plateau_tol: float = 0.1,
                             drop_factor: float = 2.0, drop_window: int = 250) -> list[int]:
    """Steps where the training loss leaves a plateau with a sharp drop.

    Definition: let L be the loss curve, smoothed by a centred moving average of ``smooth``
    steps on log(L). Step t *starts* a transition when

    * plateau: over the ``plateau`` steps up to t the smoothed log-loss stays within a band of
      width log(1 + plateau_tol) (it changes by less than ``plateau_tol``, e.g. 10 %), and
    * drop: within the next ``drop_window`` steps it falls by at least log(drop_factor)
      (the loss divides by ``drop_factor``).

    Consecutive starting steps form one event; the reported step is the steepest point of
    the smoothed curve in the event's drop window. A steadily decaying curve (no plateau) or
    a plateau that only creeps down has none. Non-finite values end the curve.
    """
    L = np.asarray(loss, dtype=np.float64).ravel()
    bad = ~np.isfinite(L)
    if bad.any():
        L = L[: int(np.argmax(bad))]
    n = len(L)
    if n < plateau + 2 or n < smooth:
        return []
    logl = np.log(np.maximum(L, 1e-30))
    if smooth > 1:
        pad_l, pad_r = smooth // 2, smooth - 1 - smooth // 2
        padded = np.concatenate([np.full(pad_l, logl[0]), logl, np.full(pad_r, logl[-1])])
        c = np.cumsum(np.concatenate([[0.0], padded]))
        S = (c[smooth:] - c[:-smooth]) / smooth
    else:
        S = logl
    win = np.lib.stride_tricks.sliding_window_view(S, plateau + 1)  # window ending at t = i + plateau
    band = win.max(axis=1) - win.min(axis=1)
    t = np.arange(plateau, n)
    future = S[np.minimum(t + drop_window, n - 1)]
    start = (band <= math.log1p(plateau_tol)) & (S[t] - future >= math.log(drop_factor))
    starts = t[start]
    if len(starts) == 0:
        return []
    events, out = [], []
    begin = prev = starts[0]
    for s in starts[1:]:
        if s - prev > 1:
            events.append(begin)
            begin = s
        prev = s
    events.append(begin)
    slope = np.diff(S)
    for e in events:
        seg = slope[e : min(e + drop_window, n - 1)]
        step = int(e + np.argmin(seg)) if len(seg) else int(e)
        if not out or step - out[-1] > drop_window:
            out.append(step)
    return out

