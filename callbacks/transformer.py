"""Callbacks of the "Real transformers on the LayerNorm sphere" page (/transformer).

One callback per view, each fired only by what that view depends on:

* ``update_circle`` (the main one): the great circle through A and B (model, layer, text, A, B);
* ``update_rotation``, ``update_scaling``, ``update_direction``, ``update_massive``: views 2-5;
* ``update_tokens``: the clickable token strip; ``pick_token``: a click sets A or B;
* ``apply_text``: the text box is used when its button is pressed;
* ``update_query``: notices, the LayerNorm in words, the layer slider's range, the canonical query;
* ``download``: a view's numbers as CSV or JSON; ``download_figure``: its figure as HTML.

Each validates its raw widget values (``state_from``), narrows them to the model
(polyviz.pages.transformer.resolve) and draws the view with the library's composition
(polyviz.pages.transformer's ``*_view``, what a notebook's ``transformer_figures`` calls), its
heavy work memoized by its inputs (services.transformer.MEMO). ``layout`` is the page's URL entry.
"""

from __future__ import annotations

from dash import ALL, Input, Output, State, callback, ctx, dcc, no_update

from callbacks.common import NO_QUERY, sync_url_and_copy_link, triggered_id, with_link_notices
from layouts import transformer as ids
from layouts.common import notice_items
from polyviz import exports
from polyviz import state as st
from polyviz.pages import transformer as views
from polyviz.pages.transformer import Resolved, TransformerState, resolve
from services.transformer import MEMO

BASE = [Input(ids.MODEL, "value"), Input(ids.LAYER, "value"), Input(ids.TEXT, "data")]
BASE_FIELDS = ("model", "layer", "text")


def state_from(**raw) -> tuple[TransformerState, list[str]]:
    """Validated state and notices from raw control values (a payload can hold anything).
    An empty widget (None) means "not set": the default, without a notice."""
    return st.validate(TransformerState, {k: v for k, v in raw.items() if v is not None})


def current(**raw) -> Resolved:
    state, notices = state_from(**raw)
    return resolve(state, notices)


def layout(**query):
    """The /transformer page for a URL query (app.py registers it)."""
    state, notices = st.from_query(TransformerState, query)
    return ids.page(resolve(state, notices))


@callback(Output(ids.TEXT, "data"), Input(ids.TEXT_APPLY, "n_clicks"), State(ids.TEXT_BOX, "value"),
          prevent_initial_call=True)
def apply_text(_clicks, text):
    return text if isinstance(text, str) else no_update


@callback(Output(ids.FIG_CIRCLE, "figure"), Output(ids.CIRCLE_TEXT, "children"),
          *BASE, Input(ids.A, "value"), Input(ids.B, "value"))
def update_circle(model, layer, text, a, b):
    spec, words, _ = views.circle_view(current(model=model, layer=layer, text=text, a=a, b=b), MEMO)
    return spec, words


@callback(Output(ids.TOKENS, "children"), Input(ids.MODEL, "value"), Input(ids.TEXT, "data"),
          Input(ids.A, "value"), Input(ids.B, "value"))
def update_tokens(model, text, a, b):
    resolved = current(model=model, text=text, a=a, b=b)
    return ids.token_strip(resolved.tokens, resolved.state.a, resolved.state.b)


@callback(Output(ids.A, "value"), Output(ids.B, "value"), Output(ids.PICK, "value"),
          Input({"type": ids.TOKEN, "index": ALL}, "n_clicks"), State(ids.PICK, "value"),
          prevent_initial_call=True)
def pick_token(clicks, pick):
    """A click on token i sets A (or B, as the pick control says), then the pick flips.
    Re-drawn strips fire this with no click (n_clicks 0): nothing changes then."""
    clicked = ctx.triggered_id if ctx.triggered else None
    fired = [t for t in ctx.triggered if isinstance(t.get("value"), int) and t["value"] > 0]
    if not isinstance(clicked, dict) or not fired or not isinstance(clicked.get("index"), int):
        return no_update, no_update, no_update
    index = clicked["index"]
    if pick == "b":
        return no_update, index, "a"
    return index, no_update, "b"


@callback(Output(ids.FIG_ROTATION, "figure"), Output(ids.ROTATION_TEXT, "children"),
          *BASE, Input(ids.PAIRS, "value"), Input(ids.SEED, "value"))
def update_rotation(model, layer, text, pairs, seed):
    resolved = current(model=model, layer=layer, text=text, pairs=pairs, seed=seed)
    spec, words, _ = views.rotation_view(resolved, MEMO)
    return spec, words


@callback(Output(ids.FIG_SCALING, "figure"), Output(ids.SCALING_TEXT, "children"),
          *BASE, Input(ids.KMAX, "value"))
def update_scaling(model, layer, text, kmax):
    spec, words, _ = views.scaling_view(current(model=model, layer=layer, text=text, kmax=kmax), MEMO)
    return spec, words


DIRECTION_FIELDS = ("a", "wkind", "wtok", "g1", "g2", "wdim", "amax")


@callback(Output(ids.FIG_DIRECTION, "figure"), Output(ids.DIRECTION_TEXT, "children"),
          *BASE, *[Input(ids.CONTROL_IDS[f], "value") for f in DIRECTION_FIELDS])
def update_direction(model, layer, text, *values):
    raw = dict(zip(DIRECTION_FIELDS, values))
    spec, words, _ = views.direction_view(current(model=model, layer=layer, text=text, **raw), MEMO)
    return spec, words


@callback(Output(ids.FIG_MASSIVE, "figure"), Output(ids.MASSIVE_TEXT, "children"),
          Output(ids.MASSIVE_TABLE, "children"), *BASE, Input(ids.MDIM, "value"), Input(ids.SMAX, "value"))
def update_massive(model, layer, text, mdim, smax):
    resolved = current(model=model, layer=layer, text=text, mdim=mdim, smax=smax)
    spec, words, _, table = views.massive_view(resolved, MEMO)
    return spec, words, ids.massive_table(table) if table else None


ALL_FIELDS = tuple(ids.CONTROL_IDS)
ALL_INPUTS = [Input(ids.CONTROL_IDS[f], "value") for f in ALL_FIELDS]


@callback(Output(ids.QUERY, "data"), Output(ids.NOTICES, "children"), Output(ids.LN_TEXT, "children"),
          Output(ids.PROBLEM, "children"), Output(ids.LAYER, "max"), Output(ids.LAYER, "marks"),
          Input(ids.TEXT, "data"), *ALL_INPUTS, State(ids.LINK_NOTICES, "data"))
def update_query(text, *values):
    raw = dict(zip(ALL_FIELDS, values[:len(ALL_FIELDS)]))
    link_notices = values[len(ALL_FIELDS)] if len(values) > len(ALL_FIELDS) else None
    state, notices = state_from(text=text, **raw)
    resolved = resolve(state, with_link_notices(notices, link_notices))
    n_layers = resolved.model.n_layers if resolved.model is not None else 1
    return (st.to_query(resolved.state), notice_items(resolved.notices), ids.ln_block(resolved),
            resolved.problem or "", max(n_layers - 1, 0), ids.layer_marks(n_layers))


DOWNLOAD_BUTTONS = [(view, fmt) for view in ids.VIEWS for fmt in ids.FORMATS]


@callback(Output(ids.DOWNLOAD, "data"),
          *[Input(ids.download_id(view, fmt), "n_clicks") for view, fmt in DOWNLOAD_BUTTONS],
          State(ids.TEXT, "data"), *[State(ids.CONTROL_IDS[f], "value") for f in ALL_FIELDS],
          prevent_initial_call=True)
def download(*values):
    """The clicked view's numbers, computed as the view itself computes them."""
    clicked = ctx.triggered_id if ctx.triggered else None
    choice = next(((v, f) for v, f in DOWNLOAD_BUTTONS if ids.download_id(v, f) == clicked), None)
    if choice is None:
        return no_update
    view, fmt = choice
    rest = values[len(DOWNLOAD_BUTTONS):]
    text, controls = (rest[0] if rest else None), rest[1:]
    resolved = current(text=text, **dict(zip(ALL_FIELDS, controls)))
    _, _, data = views.VIEWS[view](resolved, MEMO)
    data = {"view": view, "query": st.to_query(resolved.state), **data}
    name = f"polyviz-transformer-{view}-{resolved.state.model}-layer{resolved.state.layer}.{fmt}"
    return dcc.send_string(exports.numbers_export(data, fmt), name.replace("/", "_"))


@callback(Output(ids.DOWNLOAD, "data", allow_duplicate=True), Output(ids.NOTICES, "children", allow_duplicate=True),
          *[Input(ids.download_id(view, "html"), "n_clicks") for view in ids.VIEWS], State(ids.QUERY, "data"),
          prevent_initial_call=True)
def download_figure(*values, button=None):
    """The clicked view's figure as a standalone HTML page, drawn anew from the page's canonical
    query (never from the figure the browser holds). ``button``: the pressed button's id
    (tests and notebooks, which have no callback context)."""
    clicked = button or triggered_id()
    view = next((v for v in ids.VIEWS if ids.download_id(v, "html") == clicked), None)
    query = values[len(ids.VIEWS)] if len(values) > len(ids.VIEWS) else None
    if view is None:
        return no_update, no_update
    if not isinstance(query, str):
        return no_update, notice_items([NO_QUERY])
    state, notices = st.from_query(TransformerState, query)
    resolved = resolve(state, notices)
    spec = views.VIEWS[view](resolved, MEMO)[0]
    stem = f"polyviz-transformer-{view}-{resolved.state.model}-layer{resolved.state.layer}"
    title = f"polyviz · Real transformers · {view} · {stem}"
    return dcc.send_string(exports.figure_html(spec, title), exports.safe_filename(stem, "html")), no_update


sync_url_and_copy_link(ids.QUERY, ids.URL_SINK, ids.COPY)
