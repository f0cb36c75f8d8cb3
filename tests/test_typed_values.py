"""Typed values take the URL's validation path: a number typed out of range is clamped with the
same notice a link gets, and the notices sit at the top of the controls.

The browser is modelled by :func:`browser_sends`: a number box that declares min, max or step
marks a number outside them invalid, and Dash's Input then sends None (an empty box to the
page). The callbacks are called as functions with what the browser would send."""

from __future__ import annotations

import math

import pytest

from polyviz import state as st


def browser_sends(box, typed: float):
    """What Dash's dcc.Input(type="number") sends for a typed number: None when the HTML
    constraint validation fails (below min, above max, or off the step grid; without a step
    attribute the step is 1), else the number."""
    lo, hi = getattr(box, "min", None), getattr(box, "max", None)
    step = getattr(box, "step", None)
    if (lo is not None and typed < lo) or (hi is not None and typed > hi):
        return None
    if step != "any":
        step = 1.0 if step is None else float(step)
        base = 0.0 if lo is None else float(lo)
        ratio = (typed - base) / step
        if not math.isclose(ratio, round(ratio), abs_tol=1e-9):
            return None
    return typed


def components(page) -> dict:
    return {node.id: node for node in page._traverse() if isinstance(getattr(node, "id", None), str)}


def sidebar(page):
    return next(node for node in page._traverse() if getattr(node, "className", None) == "sidebar")


@pytest.fixture(scope="module")
def stretch_page(dash_app):
    from layouts import stretch_fold

    return stretch_fold.layout()


@pytest.mark.parametrize("field, typed, expected", [
    ("a11", 7, "a11 = 7 is out of range (allowed: a number from -5 to 5); using 5."),
    ("b2", -12.5, "b2 = -12.5 is out of range (allowed: a number from -5 to 5); using -5."),
    ("a12", 0.15, None),  # inside the range but off the old 0.1 step grid: used as typed
])
def test_a_typed_affine_entry_is_validated_as_the_url_is(stretch_page, field, typed, expected):
    from callbacks.stretch_fold import update_figures
    from layouts import stretch_fold as ids
    from polyviz.pages.stretch_fold import StretchFoldState

    entries = dict(a11=1, a12=0, a21=0, a22=1, b1=0, b2=0)
    entries[field] = browser_sends(components(stretch_page)[ids.AFFINE_IDS[field]], typed)
    out = update_figures(1.0, "affine", -2, 400, "circle", 0, *entries.values())
    notices = [item.children for item in out[4]]
    url_state, url_notices = st.from_query(StretchFoldState, f"op=affine&{field}={typed}")
    assert notices == url_notices == ([expected] if expected else [])
    used = url_state.affine[list(entries).index(field)]
    assert out[0]["layout"]["meta"]["affine"][list(entries).index(field)] == used
    assert f"{field}={used:g}" in out[5]  # the link says what is drawn


def test_a_typed_seed_out_of_range_or_fractional_gets_a_notice(stretch_page):
    from callbacks.stretch_fold import update_figures
    from layouts import stretch_fold as ids

    box = components(stretch_page)[ids.SEED]
    for typed, expected in ((-3, "seed = -3 is out of range (allowed: an integer from 0 to 2147483647); using 0."),
                            (2.5, "seed = 2.5 is not an integer (allowed: an integer from 0 to 2147483647); using 2.")):
        out = update_figures(1.0, "stretch", -2, 400, "disc", browser_sends(box, typed), 1, 0, 0, 1, 0, 0)
        assert [item.children for item in out[4]] == [expected]


def test_a_typed_sphere_seed_out_of_range_is_clamped_with_the_url_notice(dash_app):
    from callbacks.sphere import ALL_FIELDS, layout, update_query
    from layouts import sphere as ids
    from polyviz.pages.sphere import SphereState

    page = layout()
    found = components(page)
    values = {field: found[cid].value for field, cid in zip(ALL_FIELDS, [
        ids.SOURCE, ids.DIM, ids.NEURONS_ID, ids.SEED, ids.WSCALE, ids.BSCALE, ids.ACT, ids.MODEL_ID, ids.LAYER_ID,
        ids.V_AZ, ids.V_EL, ids.W_AZ, ids.W_EL, ids.K, ids.KMAX, ids.FULL])}
    values["seed"] = browser_sends(found[ids.SEED], -3)
    query, notices, *_ = update_query(*values.values(), [])
    _, url_notices = st.from_query(SphereState, "seed=-3")
    assert [item.children for item in notices] == url_notices == [
        "seed = -3 is out of range (allowed: an integer from 0 to 2147483647); using 0."]
    assert "seed=0" in query


@pytest.mark.parametrize("typed, expected", [
    ({"n": 25000}, ["n = 25000 is out of range (allowed: an integer from 4 to 20000); using 20000."]),
    ({"ratio": 0.33}, []),  # inside the range, off the old 0.05 step grid: used as typed
    ({"steps": 7}, ["steps = 7 is out of range (allowed: an integer from 10 to 20000); using 10."]),
    ({"ratio": 0.95, "width": 2.5}, ["ratio = 0.95 is out of range (allowed: a number from 0.1 to 0.9); using 0.9.",
                                     "width = 2.5 is not an integer (allowed: an integer from 1 to 64); using 2."]),
])
def test_typed_train_entries_are_validated_as_the_url_is(dash_app, typed, expected):
    from callbacks.train import sync_state
    from layouts import train as ids
    from polyviz.pages.train import CONTROL_FIELDS, TrainState

    found = components(ids.layout())
    values = {field: found[ids.CONTROL_IDS[field]].value for field in CONTROL_FIELDS}
    for field, number in typed.items():
        values[field] = browser_sends(found[ids.CONTROL_IDS[field]], number)
    notices, query, *_ = sync_state(*values.values(), [], None, None)
    url_state, url_notices = st.from_query(TrainState, "&".join(f"{k}={v}" for k, v in typed.items()))
    assert [item.children for item in notices] == url_notices == expected
    shown, _ = st.from_query(TrainState, query)
    assert all(getattr(shown, field) == getattr(url_state, field) for field in typed)  # the link says what is used


@pytest.mark.parametrize("page_name", ["stretch_fold", "sphere", "train"])
def test_every_number_box_sends_what_is_typed_and_notices_are_at_the_top(dash_app, page_name):
    from callbacks.sphere import layout as sphere_layout
    from layouts import sphere, stretch_fold, train

    page = {"stretch_fold": lambda: stretch_fold.layout(t="99"), "sphere": lambda: sphere_layout(k="99"),
            "train": lambda: train.layout(steps="7")}[page_name]()
    boxes = [node for node in page._traverse() if getattr(node, "type", None) == "number"]
    assert boxes
    for box in boxes:  # no browser-side constraint can turn a typed number into "empty"
        assert all(browser_sends(box, typed) == typed for typed in (-1e6, -7, 0.15, 2.5, 7, 1e6)), box.id
    # The notices box comes right after the page title, before every control.
    children = sidebar(page).children
    notices_id = {"stretch_fold": stretch_fold.NOTICES, "sphere": sphere.NOTICES, "train": train.NOTICES}[page_name]
    position = next(i for i, child in enumerate(children) if getattr(child, "id", None) == notices_id)
    first_control = next(i for i, child in enumerate(children) if getattr(child, "className", None) == "control"
                         or getattr(child, "className", "").startswith("section"))
    assert position == 1 < first_control
    assert "is out of range" in children[position].children[0].children  # the link's notice is there
