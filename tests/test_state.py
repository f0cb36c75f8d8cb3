"""URL state: validation names the field and range; links round-trip exactly."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as hs

from polyviz.pages.stretch_fold import StretchFoldState
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


# --- text fields (e.g. a model id in a link) ------------------------------------------------

from dataclasses import dataclass  # noqa: E402

import pytest  # noqa: E402

HEX40 = r"(?:[0-9a-f]{40})?"


@dataclass(frozen=True)
class TextState:
    model: str = st.text("", HEX40, label="model", describe="exactly 40 lowercase hex digits, or empty")
    name: str = st.text("a", r"[a-z]{1,8}", label="name", max_len=8)


def test_text_field_accepts_its_pattern_and_round_trips():
    ident = "0123456789abcdef" * 2 + "01234567"
    state, notices = st.from_query(TextState, f"model={ident}&name=xyz")
    assert (state.model, state.name) == (ident, "xyz") and notices == []
    again, notices = st.from_query(TextState, st.to_query(state))
    assert again == state and notices == []
    empty, notices = st.from_query(TextState, "model=")
    assert empty.model == "" and notices == [] and st.from_query(TextState, st.to_query(empty))[0] == empty
    assert st.validate(TextState, {"model": f"  {ident}\n"})[0].model == ident  # pasted with whitespace


@pytest.mark.parametrize("bad", ["0123456789ABCDEF" * 2 + "01234567",  # uppercase
                                 "abc123",  # short
                                 "a" * 41,  # long
                                 "0123456789abcdef" * 2 + "0123456g",  # not hex
                                 "a" * 10_000,  # huge
                                 "../../etc/passwd", "<script>", 12345, None, ["a" * 40], {"x": 1}, True])
def test_text_field_rejects_anything_else_with_a_notice_and_empty(bad):
    state, notices = st.validate(TextState, {"model": bad})
    assert state.model == "" and len(notices) == 1
    notice = notices[0]
    assert notice.startswith("model = ") and "is not allowed (exactly 40 lowercase hex digits, or empty)" in notice
    assert notice.endswith("using empty.") and len(notice) < 200  # never echoed in full


def test_text_field_default_and_length_cap():
    state, notices = st.validate(TextState, {"name": "abcdefghi"})  # 9 > max_len
    assert state.name == "a" and "name = 'abcdefghi' is not allowed" in notices[0] and "using 'a'" in notices[0]
    with pytest.raises(ValueError, match="does not match its own pattern"):
        st.text("X", HEX40)


def test_sphere_state_source_and_model_fields():
    from polyviz.pages.sphere import SphereState

    ident = "f" * 40
    state, notices = st.from_query(SphereState, f"source=trained&model={ident}&layer=3")
    assert (state.source, state.model, state.layer) == ("trained", ident, 3) and notices == []
    assert "source=trained&" in st.to_query(state) and f"model={ident}&layer=3" in st.to_query(state)
    state, notices = st.from_query(SphereState, "source=other&model=F00&layer=12")
    assert (state.source, state.model, state.layer) == ("random", "", 8)
    assert [n.split(" =")[0] for n in notices] == ["source", "model", "layer"]


@given(hs.dictionaries(hs.sampled_from(["model", "name", "zzz"]),
                       hs.one_of(hs.text(max_size=60), hs.text(alphabet="0123456789abcdefABCDEF", min_size=38,
                                                               max_size=42), hs.integers(), hs.none())))
def test_any_text_in_gives_a_valid_state(raw):
    import re

    state, _ = st.validate(TextState, raw)
    assert re.fullmatch(HEX40, state.model) and re.fullmatch(r"[a-z]{1,8}", state.name)
    assert st.from_query(TextState, st.to_query(state)) == (state, [])


# --- log10 sliders ------------------------------------------------------------------------

@given(hs.integers(100, 999), hs.integers(-8, 0))
def test_three_digit_values_survive_the_log_slider_round_trip(mantissa, exponent):
    value = float(f"{mantissa}e{exponent - 2}")  # e.g. 0.02, 1.23e-05
    assert st.from_log10(st.to_log10(value, 4), significant=3) == value


def test_log_slider_values_map_to_powers_of_ten_and_bad_values_pass_through():
    assert st.from_log10(-2) == pytest.approx(0.01) and st.from_log10(0) == 1.0
    assert st.from_log10(-2.05) == pytest.approx(10 ** -2.05, rel=1e-15)  # unrounded without significant
    assert st.from_log10(1e308) == 1e10 and st.from_log10(-1e308) == 1e-10  # finite, for validation to clamp
    for bad in ("abc", None, True, [1], float("inf")):
        assert st.from_log10(bad) is bad
    assert math.isnan(st.from_log10(float("nan")))
    assert st.to_log10(0.01) == -2 and st.to_log10(0.02, 4) == -1.699
