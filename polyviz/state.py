"""Typed, validated, URL-serialisable page state.

Each page declares its state as a frozen dataclass whose fields carry a ``Spec`` (range,
choices, pattern, default). One function, :func:`validate`, turns *anything* (a URL query, a
callback payload, a notebook dict) into a valid state plus human-readable notices; one
pair, :func:`to_query` / :func:`from_query`, turns state into a query string and back.
Like scikit-learn's parameter validation, every notice names the field and what is
allowed, so a bad link degrades to a sensible view instead of an error page.

No Dash here: the app and notebooks share it.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass
from typing import Any, Sequence
from urllib.parse import parse_qsl, quote, urlencode

# Strings longer than this are never echoed back in a notice (URLs can be anything).
_ECHO_LIMIT = 40


@dataclass(frozen=True)
class Spec:
    """How one field is validated: a number in [lo, hi] (int or float), one of choices, a
    flag, or a text that fully matches ``pattern`` (at most ``max_len`` characters)."""

    kind: str  # "float", "int", "choice", "bool", "text", "camera"
    default: Any
    lo: float | None = None
    hi: float | None = None
    choices: Sequence[str] = ()
    label: str = ""
    pattern: str = ""
    max_len: int = 0
    describe: str = ""  # the allowed form of a text field, in words

    def allowed(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "text":
            return self.describe or f"text matching {self.pattern} (at most {self.max_len} characters)"
        if self.kind == "bool":
            return "true or false"
        if self.kind == "camera":
            return CAMERA_FORM
        kind = "an integer" if self.kind == "int" else "a number"
        return f"{kind} from {_fmt(self.lo)} to {_fmt(self.hi)}"


def number(default: float, lo: float, hi: float, label: str = "") -> Any:
    return dataclasses.field(default=default, metadata={"spec": Spec("float", default, lo, hi, label=label)})


def integer(default: int, lo: int, hi: int, label: str = "") -> Any:
    return dataclasses.field(default=default, metadata={"spec": Spec("int", default, lo, hi, label=label)})


def choice(default: str, choices: Sequence[str], label: str = "") -> Any:
    return dataclasses.field(
        default=default, metadata={"spec": Spec("choice", default, choices=tuple(choices), label=label)}
    )


def flag(default: bool, label: str = "") -> Any:
    return dataclasses.field(default=default, metadata={"spec": Spec("bool", default, label=label)})


def text(default: str, pattern: str, label: str = "", describe: str = "", max_len: int = 200) -> Any:
    """A string field: valid when it is at most ``max_len`` characters and ``re.fullmatch``es
    ``pattern`` (surrounding whitespace is dropped). Let the pattern allow "" for an optional
    field; ``describe`` says the allowed form in words for notices."""
    if not isinstance(default, str) or len(default) > max_len or not re.fullmatch(pattern, default):
        raise ValueError(f"the default {default!r} does not match its own pattern {pattern!r}")
    spec = Spec("text", default, label=label, pattern=pattern, max_len=max_len, describe=describe)
    return dataclasses.field(default=default, metadata={"spec": spec})


# --- the camera of a 3-D figure -----------------------------------------------------------
# Plotly's scene camera as a link holds it: the eye "x,y,z" or, once the view was panned, six
# numbers, the eye then the centre it looks at (Plotly's scene coordinates: the data box spans
# about -1 to 1, the default eye sits at distance ~2.2). Empty: the figure's own camera.
CAMERA_RANGE = (-10.0, 10.0)
CAMERA_DECIMALS = 3  # a thousandth of the box: finer than a drag can place it, and links stay short
CAMERA_FORM = (f"3 numbers eye_x,eye_y,eye_z, or 6 (the eye, then the centre it looks at), each from "
               f"{CAMERA_RANGE[0]:g} to {CAMERA_RANGE[1]:g}; or empty for the figure's own view")
CAMERA_MAX_LEN = 200


def camera(label: str = "") -> Any:
    """A 3-D figure's camera, as the user turned it (see CAMERA_FORM). The default, empty, is
    the figure's own camera, and an empty camera is left out of the query."""
    spec = Spec("camera", "", lo=CAMERA_RANGE[0], hi=CAMERA_RANGE[1], label=label, max_len=CAMERA_MAX_LEN)
    return dataclasses.field(default="", metadata={"spec": spec})


def _camera_text(values: Sequence[float]) -> str:
    """Canonical text of camera numbers: rounded to CAMERA_DECIMALS, the centre dropped when it
    is the origin (a camera that was only turned or zoomed has three numbers)."""
    rounded = [round(float(v), CAMERA_DECIMALS) + 0.0 for v in values]  # + 0.0: no "-0"
    if len(rounded) == 6 and not any(rounded[3:]):
        rounded = rounded[:3]
    return ",".join(f"{v:g}" for v in rounded)


def _coerce_camera(label: str, raw: Any) -> tuple[str, str | None]:
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return "", None
    refused = f"{label} = {_echo(raw)} is not allowed ({CAMERA_FORM}); using the figure's own view."
    if not isinstance(raw, str) or len(raw) > CAMERA_MAX_LEN:
        return "", refused
    parts = raw.strip().split(",")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        return "", refused
    if len(values) not in (3, 6) or not all(math.isfinite(v) for v in values):
        return "", refused
    lo, hi = CAMERA_RANGE
    clamped = [min(max(v, lo), hi) for v in values]
    eye, centre = clamped[:3], (clamped[3:] or [0.0, 0.0, 0.0])
    if math.dist(eye, centre) < 10.0 ** -CAMERA_DECIMALS:
        return "", f"{label} = {_echo(raw)} puts the eye on the point it looks at; using the figure's own view."
    text = _camera_text(clamped)
    if clamped != values:
        return text, f"{label} = {_echo(raw)} is out of range ({CAMERA_FORM}); using {text}."
    return text, None


def valid_camera(raw: Any) -> str:
    """The canonical camera text of ``raw`` ("" when it is empty or not a camera)."""
    return _coerce_camera("camera", raw)[0]


def camera_layout(text: str) -> dict | None:
    """Plotly's ``layout.scene.camera`` entries, eye and centre (the origin when the text has
    three numbers), of a valid camera text; None for the empty one (the figure keeps its own)."""
    text = valid_camera(text)
    if not text:
        return None
    values = [float(v) for v in text.split(",")] + [0.0, 0.0, 0.0]
    return {"eye": dict(zip("xyz", values[:3])), "center": dict(zip("xyz", values[3:6]))}


def _fmt(x: float | None) -> str:
    if x is None:
        return "?"
    if float(x).is_integer() and abs(x) < 1e15:
        return str(int(x))
    return f"{x:g}"


def _echo(raw: Any) -> str:
    text = str(raw)
    return repr(text[:_ECHO_LIMIT] + "…") if len(text) > _ECHO_LIMIT else repr(text)


def specs(cls) -> dict[str, Spec]:
    return {f.name: f.metadata["spec"] for f in dataclasses.fields(cls) if "spec" in f.metadata}


def _coerce(name: str, spec: Spec, raw: Any) -> tuple[Any, str | None]:
    """Return (valid value, notice or None) for one raw value of one field."""
    label = spec.label or name
    if spec.kind == "camera":
        return _coerce_camera(label, raw)
    if spec.kind == "choice":
        value = raw.strip() if isinstance(raw, str) else raw
        if isinstance(value, str) and value in spec.choices:
            return value, None
        return spec.default, f"{label} = {_echo(raw)} is not allowed ({spec.allowed()}); using {spec.default}."
    if spec.kind == "text":
        if isinstance(raw, str):
            value = raw.strip()
            if len(value) <= spec.max_len and re.fullmatch(spec.pattern, value):
                return value, None
        shown = repr(spec.default) if spec.default else "empty"
        return spec.default, f"{label} = {_echo(raw)} is not allowed ({spec.allowed()}); using {shown}."
    if spec.kind == "bool":
        if isinstance(raw, bool):
            return raw, None
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True, None
        if text in ("0", "false", "no", "off", ""):
            return False, None
        return spec.default, f"{label} = {_echo(raw)} is not allowed ({spec.allowed()}); using {spec.default}."
    # Numbers: accept ints, floats and numeric strings; reject bools, NaN, lists, dicts.
    value: float | None = None
    if isinstance(raw, bool) or raw is None:
        value = None
    elif isinstance(raw, (int, float)):
        value = float(raw)
    elif isinstance(raw, str) and len(raw) <= 64:
        try:
            value = float(raw.strip())
        except ValueError:
            value = None
    if value is None or math.isnan(value):
        return spec.default, (
            f"{label} = {_echo(raw)} is not a number; allowed: {spec.allowed()}; using {_fmt(spec.default)}."
        )
    clamped = min(max(value, spec.lo), spec.hi)
    if spec.kind == "int":
        clamped = int(round(clamped))
    notice = None
    if clamped != value:
        shown = _fmt(value) if math.isfinite(value) else str(value)
        inside = spec.lo <= value <= spec.hi  # then only the rounding to an integer changed it
        problem = "is not an integer" if inside else "is out of range"
        notice = f"{label} = {shown} {problem} (allowed: {spec.allowed()}); using {_fmt(clamped)}."
    return clamped, notice


def validate(cls, raw: dict | None = None, base=None):
    """Build a valid ``cls`` from ``raw`` (missing keys come from ``base`` or defaults).

    Returns ``(state, notices)``. Unknown keys are ignored; anything else that is wrong is
    replaced or clamped, with a notice that names the field and its allowed range.
    """
    raw = raw if isinstance(raw, dict) else {}
    values: dict[str, Any] = {}
    notices: list[str] = []
    for name, spec in specs(cls).items():
        if name in raw:
            value, notice = _coerce(name, spec, raw[name])
            if notice:
                notices.append(notice)
        elif base is not None:
            value = getattr(base, name)
        else:
            value = spec.default
        values[name] = value
    state = cls(**values)
    post = getattr(state, "checked", None)
    if post is not None:  # cross-field rules (e.g. a range that depends on another field)
        state, extra = post()
        notices.extend(extra)
    return state, notices


def validate_with_preset(cls, presets: dict, preset, raw: dict):
    """:func:`validate` on top of a named preset's values (``presets[preset]["values"]``): the
    other keys override it; an unknown preset is a notice and the keys alone are used."""
    notices, base = [], None
    if preset is not None:
        if preset in presets:
            base, _ = validate(cls, presets[preset]["values"])
        else:
            notices.append(f"preset = {str(preset)[:40]!r} is not allowed (one of {', '.join(presets)}); "
                           f"using the controls as given.")
    state, more = validate(cls, dict(raw), base=base)
    return state, notices + more


def to_query(state) -> str:
    """Query string (without '?') holding every field, so a link reopens the exact view. A
    camera is left out while it is the figure's own; its commas stay commas (a query may hold
    them as they are, and ``cam=1.5,-1.6,1`` reads better than ``cam=1.5%2C-1.6%2C1``)."""
    pairs, cameras = [], []
    for name, spec in specs(type(state)).items():
        value = getattr(state, name)
        if spec.kind == "camera":
            if value:
                cameras.append(f"{quote(name)}={quote(value, safe=',')}")
            continue
        if spec.kind == "bool":
            text = "1" if value else "0"
        elif spec.kind == "float":
            # shortest text that parses back to the same float, so links are exact
            text = str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(float(value))
        else:
            text = str(value)
        pairs.append((name, text))
    return "&".join(([urlencode(pairs)] if pairs else []) + cameras)


def camera_fields(cls) -> tuple[str, ...]:
    """The names of a state's camera fields (they say how a figure is looked at, not what it shows)."""
    return tuple(name for name, spec in specs(cls).items() if spec.kind == "camera")


def last_values(query: str | dict) -> tuple[dict, list[str]]:
    """A query as one value per field, and notices. A field given more than once
    (``?preset=spiral&preset=spiral``; Dash's page router passes it as a list) takes its
    last value, with a notice naming the field."""
    if isinstance(query, str):
        pairs = parse_qsl(query.lstrip("?"), keep_blank_values=True)
        grouped: dict[str, list] = {}
        for key, value in pairs:
            grouped.setdefault(key, []).append(value)
        query = {key: values[0] if len(values) == 1 else values for key, values in grouped.items()}
    values: dict[str, Any] = {}
    notices: list[str] = []
    for key, value in dict(query).items():
        if isinstance(value, list) and value:
            shown = ", ".join(_echo(v) for v in value[:5]) + (", …" if len(value) > 5 else "")
            notices.append(f"{_echo(key)[1:-1]} is given {len(value)} times in the link ({shown}); "
                           f"using the last one, {_echo(value[-1])}.")
            value = value[-1]
        values[key] = value
    return values, notices


def from_query(cls, query: str | dict):
    """Parse a query string (or the dict Dash passes to ``layout(**query)``); a repeated
    field takes its last value (:func:`last_values`)."""
    raw, repeated = last_values(query)
    state, notices = validate(cls, raw)
    return state, repeated + notices


# --- log sliders ------------------------------------------------------------------------
# A quantity that spans decades (eps, a learning rate) is set on a slider holding its log10.
# These two are the one mapping between the two; layouts.common.log_slider builds the widget.
LOG10_CLAMP = 10.0  # no slider reaches past 1e±10; clamping a payload keeps 10**x finite


def from_log10(value, significant: int | None = None):
    """The number a log10 slider's value stands for; with ``significant``, rounded to that many
    significant digits (so 0.02 survives the round trip through log10). Anything that is not
    a finite number passes through unchanged so validation can name it."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        number = 10.0 ** max(min(float(value), LOG10_CLAMP), -LOG10_CLAMP)
        return number if significant is None else float(f"{number:.{significant}g}")
    return value


def to_log10(value: float, decimals: int | None = None) -> float:
    """What a log10 slider holds for a validated (positive) value; with ``decimals``, rounded."""
    exponent = math.log10(value)
    return exponent if decimals is None else round(exponent, decimals)
