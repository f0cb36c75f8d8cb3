"""Realistic slider traffic, derived from the pages themselves.

For every server callback that a slider, number box or radio drives, a scenario holds
the callback, the page's default values, and the controls with their ranges; a request
moves one control to a random allowed value, as a user dragging it would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import dash_http


@dataclass
class Control:
    name: str  # "id.prop"
    low: float | None = None
    high: float | None = None
    step: float | None = None
    options: list = field(default_factory=list)

    def draw(self, rng: random.Random):
        if self.options:
            return rng.choice(self.options)
        value = rng.uniform(self.low, self.high)
        if self.step and self.step >= 1:
            return int(round(value))
        return round(value, 3)


@dataclass
class Scenario:
    dep: dict
    values: dict
    controls: list[Control]

    def body(self, rng: random.Random) -> dict:
        control = rng.choice(self.controls)
        values = dict(self.values)
        values[control.name] = control.draw(rng)
        return dash_http.payload(self.dep, values, [control.name])


# Controls that reach the server through a Store rather than their own widget (the t
# slider commits through sf-committed-t so that play can run in the browser).
STORE_CONTROLS = {
    "sf-committed-t.data": Control("sf-committed-t.data", -5.0, 5.0, 0.01),
}


def _controls_and_values(layout) -> tuple[dict, dict]:
    values, controls = {}, {}
    for node in layout._traverse():
        ident = getattr(node, "id", None)
        if not isinstance(ident, str):
            continue
        kind = type(node).__name__
        value = getattr(node, "value", None)
        if value is not None:
            values[f"{ident}.value"] = value
        data = getattr(node, "data", None)
        if kind == "Store" and data is not None:
            values[f"{ident}.data"] = data
        if kind in ("Slider", "Input") and isinstance(value, (int, float)) and not isinstance(value, bool):
            low, high = getattr(node, "min", None), getattr(node, "max", None)
            if low is not None and high is not None:
                controls[f"{ident}.value"] = Control(f"{ident}.value", low, high, getattr(node, "step", None))
        if kind in ("RadioItems", "Dropdown"):
            options = [o["value"] if isinstance(o, dict) else o for o in (getattr(node, "options", None) or [])]
            if options:
                controls[f"{ident}.value"] = Control(f"{ident}.value", options=options)
    controls.update({name: control for name, control in STORE_CONTROLS.items() if name in values})
    return values, controls


def slider_scenarios(client, paths: list[str] | None = None) -> list[Scenario]:
    import dash

    deps = dash_http.server_callbacks(dash_http.dependencies(client))
    scenarios = []
    for page in dash.page_registry.values():
        if paths is not None and page["path"] not in paths:
            continue
        values, controls = _controls_and_values(page["layout"]())
        for dep in deps:
            if dep.get("background"):
                continue
            names = [f"{i['id']}.{i['property']}" for i in dep["inputs"]]
            driven = [controls[name] for name in names if name in controls]
            if driven:
                scenarios.append(Scenario(dep, values, driven))
    return scenarios
