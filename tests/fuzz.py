"""A property-based fuzzer for every server callback in the app's callback map.

It reads /_dash-dependencies, and for each callback posts bodies built by Hypothesis:
realistic values (taken from the pages' own controls) mixed with wrong types, NaN and
infinities, huge numbers, long strings, missing inputs, unknown ids and broken bodies.
The property: the server never answers 500 or more, never logs an ERROR (a callback crash
is logged and turned into a banner with HTTP 200, so status codes alone cannot see it) and
never sends the error banner.
"""

from __future__ import annotations

import contextlib
import json
import logging

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

import dash_http

WEIRD = hs.one_of(
    hs.none(), hs.booleans(), hs.integers(-(10**30), 10**30), hs.floats(allow_nan=True, allow_infinity=True),
    hs.sampled_from([1e308, -1e308, 1e-320, 0, -1, 2**63, "", "abc", "NaN", "1e999", "<script>", "../../etc"]),
    hs.text(max_size=50), hs.text(min_size=2000, max_size=5000),
    hs.lists(hs.integers(), max_size=5), hs.dictionaries(hs.text(max_size=5), hs.integers(), max_size=3),
)


def page_values(paths: list[str]) -> dict:
    """'id.prop' -> value for every control on the given pages' default layouts."""
    import dash

    values: dict[str, object] = {}
    for page in dash.page_registry.values():
        if page["path"] not in paths:
            continue
        for node in page["layout"]()._traverse():
            ident = getattr(node, "id", None)
            if not isinstance(ident, str):
                continue
            for prop in ("value", "data", "n_clicks", "figure", "children", "disabled", "drag_value"):
                value = getattr(node, prop, None)
                if value is not None and not hasattr(value, "_traverse") and prop != "figure":
                    values[f"{ident}.{prop}"] = value
    return values


def body_strategy(dep: dict, realistic: dict):
    """Bodies for one callback: realistic values, mutated ones, and malformed structures."""
    names = [f"{i['id']}.{i['property']}" for i in dep.get("inputs", []) + dep.get("state", [])]

    def value_for(name):
        if name in realistic:
            return hs.one_of(hs.just(realistic[name]), WEIRD)
        return WEIRD

    values = hs.fixed_dictionaries({name: value_for(name) for name in names})

    @hs.composite
    def build(draw):
        chosen = draw(values)
        body = dash_http.payload(dep, chosen, changed=draw(hs.lists(hs.sampled_from(names or ["x.y"]), max_size=3)))
        mutation = draw(hs.sampled_from(["none"] * 6 + ["drop_input", "unknown_id", "drop_key", "wrong_type"]))
        if mutation == "drop_input" and body["inputs"]:
            body["inputs"].pop(draw(hs.integers(0, len(body["inputs"]) - 1)))
        elif mutation == "unknown_id" and body["inputs"]:
            body["inputs"][0]["id"] = draw(hs.text(min_size=1, max_size=20))
        elif mutation == "drop_key":
            body.pop(draw(hs.sampled_from(sorted(body))))
        elif mutation == "wrong_type":
            body[draw(hs.sampled_from(sorted(body)))] = draw(WEIRD)
        return body

    return build()


def encode(body) -> str:
    # NaN and infinities are not JSON, but a hostile client can still send them
    return json.dumps(body, allow_nan=True, default=str)


class _Counter(logging.Handler):
    """Counts the records at ERROR or above and keeps the first few, message and logger."""

    def __init__(self):
        super().__init__(level=logging.ERROR)
        self.count = 0
        self.first: list[str] = []

    def emit(self, record):
        self.count += 1
        if len(self.first) < 5:
            self.first.append(f"{record.name}: {record.getMessage()[:300]}")


@contextlib.contextmanager
def counting_errors(quiet: bool = True):
    """Count every ERROR record logged anywhere (the root logger sees them all) while the
    block runs; ``quiet`` mutes the usual handlers meanwhile (the fuzzer provokes thousands
    of warnings), without disabling logging, which would hide the errors too."""
    root = logging.getLogger()
    counter = _Counter()
    muted = list(root.handlers) if quiet else []
    for handler in muted:
        root.removeHandler(handler)
    root.addHandler(counter)
    try:
        yield counter
    finally:
        root.removeHandler(counter)
        for handler in muted:
            root.addHandler(handler)


def error_banner(response, banner_id: str = "app-error") -> str | None:
    """The error banner's text when the answer sets it (the app's on_error handler does it
    with set_props, which Dash sends as a side update), else None."""
    try:
        body = json.loads(response.get_data(as_text=True))
    except ValueError:
        return None
    side = body.get("sideUpdate") if isinstance(body, dict) else None
    if isinstance(side, dict) and isinstance(side.get(banner_id), dict):
        return side[banner_id].get("children") or None
    return None


def run_fuzz(client, cases_per_callback: int, skip=lambda dep: False, background_cases: int | None = None) -> dict:
    """Fuzz every server callback; returns counts of cases, of 5xx answers, of ERROR log
    records and of answers that raise the error banner.

    Background callbacks start a job process for each accepted request, so they get
    `background_cases` cases each (default: as many as the others)."""
    with counting_errors() as errors:
        counts = _fuzz(client, cases_per_callback, skip, background_cases)
    counts["error_logs"] = errors.count
    counts["first_error_logs"] = errors.first
    return counts


def _fuzz(client, cases_per_callback: int, skip, background_cases: int | None) -> dict:
    import dash

    deps = dash_http.dependencies(client)
    realistic = page_values([page["path"] for page in dash.page_registry.values()])
    counts = {"cases": 0, "5xx": 0, "banners": 0, "status": {}, "failures": [], "banner_failures": []}
    for dep in dash_http.server_callbacks(deps):
        if skip(dep):
            continue

        examples = cases_per_callback
        if dep.get("background") and background_cases is not None:
            examples = background_cases

        @settings(max_examples=examples, database=None, deadline=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(body_strategy(dep, realistic))
        def check(body):
            response = client.post("/_dash-update-component", data=encode(body),
                                   headers={"Content-Type": "application/json"})
            counts["cases"] += 1
            counts["status"][response.status_code] = counts["status"].get(response.status_code, 0) + 1
            if response.status_code >= 500:
                counts["5xx"] += 1
                if len(counts["failures"]) < 5:
                    counts["failures"].append((dep["output"], encode(body)[:500]))
            banner = error_banner(response)
            if banner:
                counts["banners"] += 1
                if len(counts["banner_failures"]) < 5:
                    counts["banner_failures"].append((dep["output"], banner, encode(body)[:500]))

        check()
    return counts
