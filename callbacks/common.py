"""Helpers shared by the callback modules."""

from __future__ import annotations

from dash import ctx
from dash.exceptions import MissingCallbackContextException


def triggered_props() -> set[str]:
    """'id.prop' of the inputs that fired this callback; empty when called directly
    (tests, notebooks), which the callbacks treat as a full redraw."""
    try:
        return set(ctx.triggered_prop_ids)
    except MissingCallbackContextException:
        return set()


def triggered_id():
    try:
        return ctx.triggered_id
    except MissingCallbackContextException:
        return None
