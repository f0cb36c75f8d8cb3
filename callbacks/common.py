"""Helpers shared by the callback modules."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from dash import ClientsideFunction, Input, Output, Patch, State, callback, clientside_callback, ctx, dcc, no_update
from dash.exceptions import MissingCallbackContextException

from polyviz import state as st


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


def sync_url_and_copy_link(query_id: str, sink_id: str, copy_id: str, cameras_id: str | None = None,
                           camera_graphs=()) -> None:
    """Keep the address bar equal to the page's canonical query (without re-running the
    page layout, as a Dash Pages URL change would) and let the copy button copy it.

    ``cameras_id``: the page's camera store (layouts.common.camera_store) of its 3-D graphs
    ``camera_graphs``. Turning one of them writes its camera into the store, in the browser,
    and the address bar takes the store's cameras over the query's: no server callback
    runs and no figure is redrawn (the figure callbacks read the store only as a State)."""
    clientside_callback(
        ClientsideFunction("polyviz", "replaceQuery"),
        Output(sink_id, "data"),
        Input(query_id, "data"),
        *([Input(cameras_id, "data")] if cameras_id else []),
    )
    if cameras_id:
        clientside_callback(
            ClientsideFunction("polyviz", "keepCamera"),
            Output(cameras_id, "data"),
            *[Input(graph_id, "relayoutData") for graph_id in camera_graphs],
            State(cameras_id, "data"),
            prevent_initial_call=True,
        )
    clientside_callback(
        ClientsideFunction("polyviz", "currentHref"),
        Output(copy_id, "content"),
        Input(copy_id, "n_clicks"),
        prevent_initial_call=True,
    )


NO_QUERY = "This view's settings did not reach the server, so nothing was exported: reload the page and try again."


def is_figure(which, figures: dict) -> bool:
    return isinstance(which, str) and which in figures


def unknown_figure(which, figures: dict) -> str:
    """Words for a figure name the export does not know (a payload can hold anything)."""
    return (f"There is no figure {str(which)[:40]!r} to export on this page (one of: "
            f"{', '.join(figures.values())}); choose one in the list.")


def query_with_cameras(query: str, cameras) -> str:
    """The page's canonical query with the 3-D views the user turned (the camera store, which
    the address bar follows but the query Store does not): an export is seen as the page is."""
    cams = cameras.get("cams") if isinstance(cameras, dict) else None
    if not isinstance(cams, dict):
        return query
    turned = {field: st.valid_camera(raw) for field, raw in cams.items() if isinstance(field, str)}
    turned = {field: camera for field, camera in turned.items() if camera}
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in turned]
    return urlencode(pairs + list(turned.items()), safe=",")


def export_callback(ids, query_id: str, make, cameras_id: str | None = None):
    """The callback of a page's export row (layouts.common.export_row, ``ids`` its ExportIds):
    a press of "Figure (.html)" or "Data (.csv)" sends the file ``make(kind, which, query)``
    makes, ``kind`` "html" or "csv", ``which`` the dropdown's value and ``query`` the page's
    canonical query (the Store the address bar follows: the file is made from the validated
    settings, never from a figure the browser sends), with the cameras of the page's camera
    store ``cameras_id`` when it has one. ``make`` returns (content, filename),
    or words that say why there is no file (shown in the row's status line).

    Returns the callback, a plain function: tests and notebooks call it with ``button`` set
    to the pressed button's id (they have no callback context)."""
    @callback(
        Output(ids.download, "data"),
        Output(ids.status, "children"),
        Input(ids.figure, "n_clicks"),
        Input(ids.data, "n_clicks"),
        State(ids.which, "value"),
        State(query_id, "data"),
        *([State(cameras_id, "data")] if cameras_id else []),
        prevent_initial_call=True,
    )
    def export(_figure, _data, which, query, cameras=None, button=None):
        kind = {ids.figure: "html", ids.data: "csv"}.get(button or triggered_id())
        if kind is None:
            return no_update, no_update
        if not isinstance(query, str):
            return no_update, NO_QUERY
        made = make(kind, which, query_with_cameras(query, cameras) if cameras_id else query)
        if isinstance(made, str):
            return no_update, made
        content, filename = made
        return dcc.send_string(content, filename), ""

    return export


def camera_patch(patch: Patch, camera: str) -> Patch:
    """``patch`` (of a 3-D figure) also setting the scene's camera to ``camera``, when there is
    one: every figure the server sends carries the camera the user left, so a redraw never
    turns the view back (uirevision keeps a camera turned by the mouse; this keeps one set
    any other way too)."""
    entries = st.camera_layout(camera)
    for key, value in (entries or {}).items():
        patch["layout"]["scene"]["camera"][key] = value
    return patch


def camera_of(cameras, field: str) -> str:
    """The camera that the page's camera store holds for a state field, validated (the store
    comes back from the browser): "" for the figure's own."""
    cams = cameras.get("cams") if isinstance(cameras, dict) else None
    return st.valid_camera(cams.get(field)) if isinstance(cams, dict) else ""
