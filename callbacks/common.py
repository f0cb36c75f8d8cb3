"""Helpers shared by the callback modules."""

from __future__ import annotations

from dash import ClientsideFunction, Input, Output, clientside_callback, ctx
from dash.exceptions import MissingCallbackContextException


def triggered_props() -> set[str]:
    """'id.prop' of the inputs that fired this callback; empty when called directly
    (tests, notebooks), which the callbacks treat as a full redraw."""
    try:
        return set(ctx.triggered_prop_ids)
    except MissingCallbackContextException:
        return set()


def with_link_notices(notices: list[str], link_notices) -> list[str]:
    """On a page's first draw, what was wrong with its opening link (the layout keeps it in a
    Store) comes before the controls' own notices; later draws show only the latter. The
    Store comes back from the browser, so at most 20 notices of 300 characters are shown."""
    if not triggered_props() and isinstance(link_notices, list):
        return [str(text)[:300] for text in link_notices[:20]] + notices
    return notices


def triggered_id():
    try:
        return ctx.triggered_id
    except MissingCallbackContextException:
        return None


def sync_url_and_copy_link(query_id: str, sink_id: str, copy_id: str) -> None:
    """Keep the address bar equal to the page's canonical query (without re-running the
    page layout, as a Dash Pages URL change would) and let the copy button copy it."""
    clientside_callback(
        ClientsideFunction("polyviz", "replaceQuery"),
        Output(sink_id, "data"),
        Input(query_id, "data"),
    )
    clientside_callback(
        ClientsideFunction("polyviz", "currentHref"),
        Output(copy_id, "content"),
        Input(copy_id, "n_clicks"),
        prevent_initial_call=True,
    )
