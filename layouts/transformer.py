"""The "Real transformers on the LayerNorm sphere" page's components (/transformer).

Components and ids only. The state is polyviz.pages.transformer.TransformerState; the URL
entry (``layout``, which loads the model to narrow the state) is in callbacks/transformer.py
and builds the page with :func:`page`.
"""

from __future__ import annotations

from dash import dcc, html

from polyviz import state as st
from polyviz import transformer as tf
from polyviz.pages.transformer import Resolved, ln_words

from .common import GRAPH_CONFIG, control, copy_link, notices_box, number_box, python_copy

PATH = "/transformer"

# Component ids, so the callbacks module and the tests use the same names.
MODEL, LAYER, TEXT_BOX, TEXT_APPLY, TEXT = "tf-model", "tf-layer", "tf-text-box", "tf-text-apply", "tf-text"
A, B, PICK, TOKENS, TOKEN = "tf-a", "tf-b", "tf-pick", "tf-tokens", "tf-token"  # TOKEN: pattern-matching type
PAIRS, SEED, KMAX, WKIND, WTOK, G1, G2, WDIM, AMAX, MDIM, SMAX = (
    "tf-pairs", "tf-seed", "tf-kmax", "tf-wkind", "tf-wtok", "tf-g1", "tf-g2", "tf-wdim", "tf-amax", "tf-mdim",
    "tf-smax")
FIG_CIRCLE, FIG_ROTATION, FIG_SCALING, FIG_DIRECTION, FIG_MASSIVE = (
    "tf-circle", "tf-rotation", "tf-scaling", "tf-direction", "tf-massive")
CIRCLE_TEXT, ROTATION_TEXT, SCALING_TEXT, DIRECTION_TEXT, MASSIVE_TEXT = (
    "tf-circle-text", "tf-rotation-text", "tf-scaling-text", "tf-direction-text", "tf-massive-text")
MASSIVE_TABLE = "tf-massive-table"
LN_TEXT, PROBLEM = "tf-ln-text", "tf-problem"
NOTICES, QUERY, URL_SINK, COPY, LINK_NOTICES = "tf-notices", "tf-query", "tf-url-sink", "tf-copy", "tf-link-notices"
DOWNLOAD = "tf-download"
VIEWS = ("circle", "rotation", "scaling", "direction", "massive")
FORMATS = ("csv", "json")


def download_id(view: str, fmt: str) -> str:
    return f"tf-dl-{view}-{fmt}"


# The fields of the state each control holds, in the order the callbacks list them.
CONTROL_IDS = {"model": MODEL, "layer": LAYER, "a": A, "b": B, "pick": PICK, "pairs": PAIRS, "seed": SEED,
               "kmax": KMAX, "wkind": WKIND, "wtok": WTOK, "g1": G1, "g2": G2, "wdim": WDIM, "amax": AMAX,
               "mdim": MDIM, "smax": SMAX}

EXPLAIN = {
    "circle": "LayerNorm puts every residual on a sphere of radius √d. The great circle through tokens A and B "
              "is drawn over a full turn (A at angle 0, B where the dotted line is, the arc between them shaded). "
              "Each neuron's pre-activation is a sinusoid in the angle, so its crossings are exact (closed form): "
              "top, every crossing (green: turns on, red: off; hover names the neuron); then the number of active "
              "neurons and the Hamming distance of the spline code from A's; the GELU soft code Φ(z) of the neurons "
              "that first cross between A and B; and the MLP output's norm and its change per radian.",
    "rotation": "The measurement the research asks for: for token pairs of the whole text, how many neuron "
                "boundaries the MLP input crosses per radian while one token rotates into the other on the "
                "LayerNorm sphere (blue), against the straight line between the raw residuals with the LayerNorm "
                "removed (red; per radian of the angle between the raw vectors). Right: the output's total "
                "variation along each path, on a seeded subsample of pairs (8 equal steps per path, a lower bound).",
    "scaling": "Scaling a real residual by k never changes its direction, so with LayerNorm the code can only "
               "change where the real eps matters, when k·x is shrunk to almost 0. Without LayerNorm the ray k·x "
               "crosses a neuron wherever w·(k x) + b changes sign. Counts are exact, per token.",
    "direction": "Stacking a direction: x + α·w for every token x of the text, through the LayerNorm (real eps). "
                 "As α grows the point moves along a great circle from x's direction towards w's, crossing "
                 "boundaries on the way: directions do not combine linearly after LayerNorm.",
    "massive": "Some residual dimensions are far larger than the rest. Scaling one such component by s changes "
               "|x − mean|, so LayerNorm rescales the whole rest of the vector by √d/|x − mean|: scale "
               "information can leak past the normalisation through one dimension. Table: the layer's largest "
               "dimensions over the text; chart: that effective scale and the MLP neurons that flip.",
}


def model_options() -> list[dict]:
    return [{"label": name, "value": name} for name in tf.available_models()]


def layer_marks(n_layers: int) -> dict:
    return {k: str(k) for k in range(n_layers)}


def token_strip(tokens: list[str], a: int, b: int) -> list:
    """The text's tokens as buttons: a click chooses A or B (see the pick control)."""
    def cls(i):
        return "tf-tok" + (" tf-tok-a" if i == a else "") + (" tf-tok-b" if i == b else "")

    return [html.Button(tok, id={"type": TOKEN, "index": i}, n_clicks=0, className=cls(i),
                        title=f"token {i}" + (" (A)" if i == a else " (B)" if i == b else ""))
            for i, tok in enumerate(tokens)]


def massive_table(rows: list[dict]) -> html.Table:
    head = html.Tr([html.Th(h) for h in ("layer", "dimension", "largest x", "token")])
    body = [html.Tr([html.Td(r["layer"]), html.Td(r["dim"]), html.Td(f"{r['value']:.3g}"),
                     html.Td(f"{r['token']}: {r['token_text']}")], className="tf-current" if r["current"] else "")
            for r in rows]
    return html.Table([html.Thead(head), html.Tbody(body)], className="tf-table")


def downloads(view: str) -> html.Div:
    """The view's exports: its numbers (CSV, JSON) and its figure as a standalone HTML page."""
    return html.Div([html.Span("Numbers: ", className="control-help")] +
                    [html.Button(fmt.upper(), id=download_id(view, fmt), n_clicks=0, className="secondary tf-dl")
                     for fmt in FORMATS] +
                    [html.Span(" Figure: ", className="control-help"),
                     html.Button("HTML", id=download_id(view, "html"), n_clicks=0, className="secondary tf-dl",
                                 title="This figure as a standalone HTML page (interactive, opens offline); "
                                       "PNG: the camera button above it")],
                    className="tf-downloads")



def view_card(view: str, title: str, graph_id: str, words_id: str, controls: list, height: int, extra=None):
    return html.Div([
        html.H3(title),
        html.P(EXPLAIN[view], className="caption"),
        html.Div(controls, className="tf-controls") if controls else None,
        dcc.Loading(dcc.Graph(id=graph_id, config=GRAPH_CONFIG, style={"height": f"{height}px"}), delay_show=300),
        html.Div(id=words_id, className="sp-words tf-words", role="status"),
        extra,
        downloads(view),
    ], className="card tf-view", id=f"tf-view-{view}")


def page(resolved: Resolved) -> html.Div:
    """The page for a resolved state (the model narrows the layer and token ranges)."""
    state, model = resolved.state, resolved.model
    n_layers = model.n_layers if model is not None else 1
    sidebar = html.Div([
        html.H2("Real transformers on the LayerNorm sphere"),
        html.P("The MLP layers of a real checkpoint, read through the LayerNorm that feeds them: how many neuron "
               "boundaries a real token vector crosses when it rotates towards another, is scaled, or has a "
               "direction added to it.", className="lede"),
        control("Model", dcc.Dropdown(id=MODEL, options=model_options(), value=state.model, clearable=False),
                "The server's allow-list (POLYVIZ_MODELS).", MODEL),
        control("Layer", dcc.Slider(id=LAYER, min=0, max=max(n_layers - 1, 0), step=1, value=state.layer,
                                    marks=layer_marks(n_layers)), control_id=LAYER),
        html.Div(ln_block(resolved), id=LN_TEXT, className="control-help tf-ln"),
        control("Text", dcc.Textarea(id=TEXT_BOX, value=state.text, className="tf-textarea", spellCheck=False),
                f"At most {tf.MAX_TOKENS} tokens; the page uses it when you press the button.", TEXT_BOX),
        html.Button("Use this text", id=TEXT_APPLY, n_clicks=0, className="primary"),
        html.Div([control("Token A", number_box(A, state.a), control_id=A),
                  control("Token B", number_box(B, state.b), control_id=B)],
                 className="tf-pair"),
        control("A click on a token sets", dcc.RadioItems(id=PICK, value=state.pick, inline=True, className="radio",
                                                          options=[{"label": " A", "value": "a"},
                                                                   {"label": " B", "value": "b"}]),
                "It switches to the other after each click."),
        copy_link(COPY),
        python_copy("tf"),
        notices_box(resolved.notices, NOTICES),
        dcc.Store(id=TEXT, data=state.text),
        dcc.Store(id=QUERY, data=st.to_query(state)),
        dcc.Store(id=URL_SINK),
        dcc.Store(id=LINK_NOTICES, data=resolved.notices),
        dcc.Download(id=DOWNLOAD),
    ], className="sidebar")
    w_controls = [
        control("w is", dcc.RadioItems(id=WKIND, value=state.wkind, inline=True, className="radio", options=[
            {"label": " another token's vector", "value": "token"},
            {"label": " group 1 mean − group 2 mean", "value": "groups"},
            {"label": " a residual basis direction", "value": "basis"}])),
        control("w token", number_box(WTOK, state.wtok), control_id=WTOK),
        control("group 1", dcc.Input(id=G1, value=state.g1, debounce=True, className="num"), control_id=G1),
        control("group 2", dcc.Input(id=G2, value=state.g2, debounce=True, className="num"), control_id=G2),
        control("basis dimension", number_box(WDIM, state.wdim), control_id=WDIM),
        control("α up to", number_box(AMAX, state.amax), control_id=AMAX),
    ]
    panels = html.Div([
        html.Div(resolved.problem or "", id=PROBLEM, className="notices tf-problem", role="alert"),
        html.Div([html.Div("Tokens (click to choose A and B; special tokens included, as the model sees them):",
                           className="control-help"),
                  html.Div(token_strip(resolved.tokens, state.a, state.b), id=TOKENS, className="tf-tokens")],
                 className="card tf-token-card"),
        view_card("circle", "1 · The great circle through A and B", FIG_CIRCLE, CIRCLE_TEXT, [], 760),
        view_card("rotation", "2 · Rotation probe over the whole text", FIG_ROTATION, ROTATION_TEXT, [
            control("pairs (at most)", number_box(PAIRS, state.pairs), control_id=PAIRS),
            control("seed", number_box(SEED, state.seed), control_id=SEED)], 380),
        view_card("scaling", "3 · Scaling k·x", FIG_SCALING, SCALING_TEXT, [
            control("K (k in (0, K])", number_box(KMAX, state.kmax), control_id=KMAX)], 360),
        view_card("direction", "4 · Adding a direction x + α·w", FIG_DIRECTION, DIRECTION_TEXT, w_controls, 360),
        view_card("massive", "5 · Massive activations and smuggled scale", FIG_MASSIVE, MASSIVE_TEXT, [
            control("dimension (−1: the layer's largest)", number_box(MDIM, state.mdim), control_id=MDIM),
            control("s up to", number_box(SMAX, state.smax), control_id=SMAX)], 360,
            extra=html.Div(id=MASSIVE_TABLE)),
    ], className="tf-panels")
    return html.Div([sidebar, panels], className="page two-col transformer-page")


def ln_block(resolved: Resolved):
    if not resolved.ok:
        return resolved.problem or ""
    return ln_words(resolved.model, resolved.state.layer)
