"""URL state: validation names the field and range; links round-trip exactly."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as hs

from layouts.stretch_fold import StretchFoldState
from polyviz import state as st


def test_defaults_without_notices():
    state, notices = st.from_query(StretchFoldState, "")
    assert state == StretchFoldState() and notices == []


def test_a_shared_link_restores_exactly_that_view():
    state, notices = st.from_query(StretchFoldState, "op=shift&t=2&eps=0.01")
    assert (state.op, state.t, state.eps) == ("shift", 2.0, 0.01)
    assert notices == []


def test_round_trip_of_every_field():
    original = StretchFoldState(op="affine", t=-1.25, eps=0.0003, n=1234, dist="disc", seed=77,
                                a11=0.5, a12=-2.0, a21=1.5, a22=3.0, b1=-0.25, b2=4.0)
    again, notices = st.from_query(StretchFoldState, st.to_query(original))
    assert again == original and notices == []


def test_bad_values_are_replaced_or_clamped_with_notices_naming_field_and_range():
    state, notices = st.from_query(StretchFoldState, "t=abc&eps=-1&n=1000000000&op=unknown")
    assert state.t == StretchFoldState().t  # malformed: default
    assert state.eps == 1e-4  # below range: clamped to the minimum
    assert state.n == 5000  # above range: clamped to the maximum
    assert state.op == "stretch"
    text = " ".join(notices)
    assert "t = 'abc' is not a number" in text and "-5 to 5" in text
    assert "eps = -1 is out of range" in text and "0.0001 to 1" in text
    assert "n = 1000000000 is out of range" in text and "10 to 5000" in text
    assert "op = 'unknown' is not allowed" in text and "stretch, shift, affine" in text


def test_huge_infinite_and_nan_numbers():
    state, notices = st.from_query(StretchFoldState, "t=1e308&eps=inf&seed=nan")
    assert state.t == 5.0 and state.eps == 1.0 and state.seed == 0
    assert len(notices) == 3


def test_long_strings_are_not_echoed_in_full():
    state, notices = st.from_query(StretchFoldState, {"op": "x" * 10_000})
    assert state.op == "stretch"
    assert len(notices[0]) < 200


def test_payload_types_that_widgets_never_send():
    raw = {"t": [1, 2], "n": {"a": 1}, "eps": True, "dist": 5, "seed": None}
    state, notices = st.validate(StretchFoldState, raw)
    assert state == StretchFoldState()
    assert len(notices) == 5


@given(hs.dictionaries(hs.sampled_from(["op", "t", "eps", "n", "dist", "seed", "a11", "zzz"]),
                       hs.one_of(hs.text(max_size=30), hs.floats(), hs.integers(), hs.none(), hs.booleans(),
                                 hs.lists(hs.integers(), max_size=3))))
def test_anything_in_gives_a_valid_state(raw):
    state, notices = st.validate(StretchFoldState, raw)
    assert state.op in ("stretch", "shift", "affine")
    assert -5 <= state.t <= 5 and 1e-4 <= state.eps <= 1 and 10 <= state.n <= 5000
    assert math.isfinite(state.t) and isinstance(state.n, int)
    again, _ = st.from_query(StretchFoldState, st.to_query(state))
    assert again == state
