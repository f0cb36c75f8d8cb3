""""Copy as Python": the code a page offers, run as a notebook would run it, makes the same
figure data as the page's own callbacks draw for that link."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from polyviz import state as st


@pytest.fixture(scope="module")
def pages(dash_app):
    from callbacks import compare as cc
    from callbacks import python_code
    from callbacks import stretch_fold as csf
    from callbacks import train as ct

    return python_code, csf, ct, cc


def run_copied(code: str) -> dict:
    """Run the copied code in a fresh namespace, as a notebook cell; its figures."""
    namespace: dict = {}
    exec(compile(code, "<copied from the page>", "exec"), namespace)  # noqa: S102 - the test's point
    return namespace["figures"]


def arrays(spec) -> list[np.ndarray]:
    """Every number array in a figure spec's traces (typed arrays decoded), in order."""
    out = []

    def walk(value):
        if isinstance(value, dict) and "bdata" in value:
            out.append(np.frombuffer(base64.b64decode(value["bdata"]), dtype="<" + value["dtype"]).astype(float))
        elif isinstance(value, dict):
            for key in sorted(value):
                walk(value[key])
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, (int, float)) for v in value):
            out.append(np.asarray(value, dtype=float))
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(spec["data"])
    return out


def same_figure_data(a, b, rtol=1e-5, atol=1e-6) -> bool:
    left, right = arrays(a), arrays(b)
    return len(left) == len(right) and all(x.shape == y.shape and np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True)
                                           for x, y in zip(left, right))


def test_stretch_fold_code_reproduces_the_page_s_four_figures(pages):
    python_code, csf, _ct, _cc = pages
    from polyviz.pages.stretch_fold import StretchFoldState

    query = "op=affine&t=1.7&eps=0.03&n=300&dist=disc&seed=5&a11=1.5&a12=-0.4&a21=0.2&a22=0.8&b1=0.3&b2=-0.1"
    state, notices = st.from_query(StretchFoldState, query)
    assert notices == []
    code = python_code.code_for("sf", st.to_query(state))
    assert "op='affine', t=1.7, eps=0.03, n=300," in code and "affine=(1.5, -0.4, 0.2, 0.8, 0.3, -0.1)" in code
    copied = run_copied(code)
    page = csf.update_figures(state.t, state.op, np.log10(state.eps), state.n, state.dist, state.seed, *state.affine)
    for name, spec in zip(("circle", "curve", "surface", "sphere"), page[:4]):
        assert same_figure_data(copied[name], spec), name
        assert copied[name]["layout"]["title"] == spec["layout"]["title"]


def test_train_code_reproduces_the_figures_the_page_draws_for_the_cached_run(pages):
    python_code, _csf, ct, _cc = pages
    from polyviz.pages.train import TrainState
    from services import jobs

    state, _ = st.validate(TrainState, dict(dataset="moons", n=200, steps=120, noise=0.1, seed=7, width=4))
    outcome = jobs.run_job(jobs.new_job(state, "train"), jobs.TRAIN)
    assert outcome.key is not None
    curves, boundary, animation = ct.render_results(outcome.key, outcome.key)[:3]
    copied = run_copied(python_code.code_for("tr", st.to_query(state)))
    # the cached run keeps float32 curves and weights: the same to float32 rounding
    assert same_figure_data(copied["curves"], curves, rtol=1e-4)
    assert same_figure_data(copied["boundary"], boundary, rtol=1e-4, atol=1e-4)
    assert len(copied["animation"]["frames"]) == len(animation["frames"])


def test_compare_code_reproduces_every_column(pages):
    python_code, _csf, _ct, cc = pages
    from polyviz.pages.compare import CompareState

    state, _ = st.validate(CompareState, dict(dataset="xor", n=200, steps=100, seed=2, c_act="off", a_width=4,
                                              b_width=4))
    query = st.to_query(state)
    keys, _words = cc.run_compare_job({"id": "1" * 32, "kind": "compare", "query": query})
    page = cc.render(keys, query)
    copied = run_copied(python_code.code_for("cmp", query))
    assert [t["name"] for t in copied["curves"]["data"]] == [t["name"] for t in page[0]["data"]]
    assert same_figure_data(copied["curves"], page[0], rtol=1e-4)
    page_columns = dict(zip(("a", "b"), (page[1:4], page[4:7])))
    for column, (boundary, neurons, _animation) in page_columns.items():
        assert same_figure_data(copied[column]["neurons"], neurons, rtol=1e-3, atol=1e-3)
        assert same_figure_data(copied[column]["boundary"], boundary, rtol=1e-4, atol=1e-4)


def test_the_code_box_validates_what_it_is_sent(pages):
    python_code, *_ = pages
    code = python_code.code_for("sf", "t=99&op=nope")  # clamped and replaced as a link would be
    assert "t=5.0" in code and "op='stretch'" in code
    assert "figures = " in python_code.code_for("tr", None)
