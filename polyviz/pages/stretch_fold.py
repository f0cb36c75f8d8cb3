"""The Stretch & fold page's state (/stretch-fold): the operation, t, eps, the input points
and the affine map, with the ranges a URL may ask for, the two presets, and the page's
figures for a state (:func:`figure_specs`) with the names its exports give them."""

from __future__ import annotations

from dataclasses import dataclass

from polyviz import state as st
from polyviz.figures import stretch_fold as figures
from polyviz.stretch_fold import DISTRIBUTIONS, OPERATIONS

T_RANGE = (-5.0, 5.0)
EPS_RANGE = (1e-4, 1.0)


@dataclass(frozen=True)
class StretchFoldState:
    op: str = st.choice("stretch", OPERATIONS, label="op")
    t: float = st.number(2.0, *T_RANGE, label="t")
    eps: float = st.number(0.01, *EPS_RANGE, label="eps")
    n: int = st.integer(400, 10, 5000, label="n")
    dist: str = st.choice("circle", DISTRIBUTIONS, label="dist")
    seed: int = st.integer(0, 0, 2**31 - 1, label="seed")
    a11: float = st.number(1.0, -5.0, 5.0, label="a11")
    a12: float = st.number(0.0, -5.0, 5.0, label="a12")
    a21: float = st.number(0.0, -5.0, 5.0, label="a21")
    a22: float = st.number(1.0, -5.0, 5.0, label="a22")
    b1: float = st.number(0.0, -5.0, 5.0, label="b1")
    b2: float = st.number(0.0, -5.0, 5.0, label="b2")
    # how the two 3-D panels are looked at (empty: each figure's own camera)
    surface_cam: str = st.camera(label="surface_cam")
    sphere_cam: str = st.camera(label="sphere_cam")

    @property
    def affine(self) -> tuple[float, ...]:
        return (self.a11, self.a12, self.a21, self.a22, self.b1, self.b2)


PRESETS = {
    "sign": dict(
        title="sign: hot vs cold",
        text="A strong stretch u_ε(5x, y): every point with x > 0 lands near (1, 0), every point "
             "with x < 0 near (−1, 0). The circle becomes a soft sign of x.",
        values=dict(op="stretch", t=5.0, eps=0.01, dist="circle"),
    ),
    "abs": dict(
        title="absolute value: extremes vs typical",
        text="A fold u_ε(x + 2, y): both ends of the x-axis (the extremes, x = ±1) land on the same "
             "point, while typical values (x near 0) stay apart along y. The x-output is a soft |x|: on "
             "the circle it is (x + 2)/√(5 + 4x) (as ε → 0), 1 at both x = ±1 and lowest, √3/2, at x = −½.",
        values=dict(op="shift", t=2.0, eps=0.01, dist="circle"),
    ),
}


# The panels, by the name the exports use (polyviz.exports.stretch_fold_csv), with their labels.
EXPORT_FIGURES = {"circle": "circle and its image", "curve": "1-D activation curve",
                  "surface": "2-D activation surface", "sphere": "the sphere S²"}


def figure_specs(state: StretchFoldState) -> dict[str, dict]:
    """The page's four panels for a state, as plain figure dicts (keys of EXPORT_FIGURES)."""
    return figures.stretch_fold_specs(op=state.op, t=state.t, eps=state.eps, n=state.n, distribution=state.dist,
                                      seed=state.seed, affine=state.affine)


def file_stem(state: StretchFoldState) -> str:
    """The start of an exported file's name: the settings that change every panel."""
    return f"polyviz-stretch-fold-{state.op}-t{state.t:g}-eps{state.eps:g}-{state.dist}{state.n}"
