""""Copy as Python": the code that makes a page's figures in a notebook, with the exact
settings of its link (no Dash). Each function takes the page's validated state and returns
a self-contained script that leaves the figure specs (plain dicts, what the page draws) in
a variable ``figures``; ``polyviz.figures.common.figure(spec)`` turns one into a Plotly
Figure (``.show()``).
"""

from __future__ import annotations

from polyviz import state as st

SHOW = ("\n# one of them as a Plotly figure:\n"
        "# from polyviz.figures.common import figure\n"
        "# figure(figures[{first!r}]).show()\n")


def _affine(state) -> str:
    return "(" + ", ".join(repr(float(v)) for v in state.affine) + ")"


def stretch_fold_code(state) -> str:
    """/stretch-fold: one :func:`polyviz.figures.stretch_fold_specs` call with the link's arguments."""
    return (
        "from polyviz import figures as pvf\n\n"
        "figures = pvf.stretch_fold_specs(\n"
        f"    op={state.op!r}, t={state.t!r}, eps={state.eps!r}, n={state.n!r},\n"
        f"    distribution={state.dist!r}, seed={state.seed!r},\n"
        f"    affine={_affine(state)},\n"
        ")\n"
        + SHOW.format(first="circle")
    )


def _data_note(state) -> str:
    if not getattr(state, "data", ""):
        return ""
    return ("# This link trains on uploaded or drawn data (data = its content hash): load the same file with\n"
            "# polyviz.userdata.parse_csv(open('your.csv', 'rb').read()) and pass it as user= below.\n")


def train_code(state) -> str:
    """/train: the link's state, the same training run (deterministic for its seed) and the
    page's figures (:func:`polyviz.pages.train.run_figures`, which calls polyviz.figures)."""
    return (
        "from polyviz import state as st\n"
        "from polyviz.pages.train import TrainState, run_figures, train_for_state\n\n"
        + _data_note(state)
        + f"state, notices = st.from_query(TrainState, {st.to_query(state)!r})\n"
        "result, data = train_for_state(state)  # the run the page trains: same data, seed and steps\n"
        "figures = run_figures(state, result, data)  # curves, boundary, animation, checkpoints, confusion\n"
        + SHOW.format(first="curves")
    )


def compare_code(state) -> str:
    """/compare: the link's state, every column trained as /train would, and the page's figures."""
    return (
        "from polyviz import state as st\n"
        "from polyviz.pages.compare import CompareState, compare_figures, train_all\n\n"
        + _data_note(state)
        + f"state, notices = st.from_query(CompareState, {st.to_query(state)!r})\n"
        "runs = train_all(state)  # column -> TrainResult, each the same run as on /train\n"
        "figures = compare_figures(state, runs)  # 'curves' and, per column, boundary / neurons / animation\n"
        + SHOW.format(first="curves")
    )
