"""Building blocks shared by the page layouts."""

from __future__ import annotations

from dataclasses import dataclass

from dash import dcc, html

from polyviz import state as st

WATCHDOG_MS = 5000  # how often a page checks that its background job is alive
GRAPH_CONFIG = {"displaylogo": False, "responsive": True,
                "toImageButtonOptions": {"format": "png", "scale": 2}}


LAZY_MATH = "lazy-math"  # assets/app.js: typesets the formulas once the text nears the viewport


def math_markdown(text: str, component_id: str, lazy: bool = True) -> dcc.Markdown:
    """Markdown with TeX formulas. ``lazy``: typeset by MathJax only once the text scrolls
    near the viewport (assets/app.js). MathJax is the largest script after Plotly (about
    0.7 MB compressed), and text below the fold need not make a new visitor wait for it
    before the first figure draws; text a callback sends later (the user chose something)
    can be typeset at once."""
    return dcc.Markdown(text, id=component_id, mathjax=not lazy, className=LAZY_MATH if lazy else None)


def notices_box(notices: list[str], box_id: str) -> html.Div:
    """The visible list of what was wrong with the input and what was used instead."""
    return html.Div(notice_items(notices), id=box_id, className="notices", role="status")


def notice_items(notices: list[str]) -> list:
    return [html.Div(text, className="notice") for text in notices]


def number_box(cid: str, value, **extra) -> dcc.Input:
    """A number entry that sends whatever number is typed. No min, max or step: a browser
    marks a number outside them as invalid and Dash's Input then sends None, which the page
    cannot tell from an empty box, so a typed 7 would fall back to the default silently. The
    range is polyviz.state's: the callback clamps it with a notice, exactly as for a URL."""
    return dcc.Input(id=cid, type="number", value=value, step="any", debounce=True, className="num", **extra)


def control(label: str, component, help_text: str | None = None, control_id: str | None = None) -> html.Div:
    children = [html.Label(label, className="control-label", htmlFor=control_id)]
    children.append(component)
    if help_text:
        children.append(html.Div(help_text, className="control-help"))
    return html.Div(children, className="control")


def graph_card(graph_id: str, caption: str, height: int = 380) -> html.Div:
    return html.Div(
        [dcc.Graph(id=graph_id, config=GRAPH_CONFIG, style={"height": f"{height}px"}),
         html.Div(caption, className="caption")],
        className="card",
    )


def camera_store(store_id: str, state, graphs: dict[str, str]) -> dcc.Store:
    """The page's 3-D cameras: ``graphs`` maps each 3-D graph's id to its camera field of the
    state (polyviz.state.camera), and the store starts from the link's cameras. The browser
    keeps it equal to the views the user turned (assets/app.js keepCamera) and the address
    bar carries it; the figure callbacks read it (State) to draw a figure from its camera."""
    return dcc.Store(id=store_id, data={"graphs": dict(graphs),
                                        "cams": {field: getattr(state, field) for field in graphs.values()}})


def copy_link(clipboard_id: str) -> html.Div:
    return html.Div([dcc.Clipboard(id=clipboard_id, title="Copy a link to this exact view",
                                   className="clipboard"), html.Span("copy link", className="copy-label")],
                    className="copy-link")


def log_marks(lo: int, hi: int) -> dict:
    """Marks 1e<lo> … 1e<hi> of a log10 slider."""
    return {k: {"label": f"1e{k}"} for k in range(lo, hi + 1)}


def log_slider(cid: str, value: float, lo: int, hi: int, step: float, decimals: int | None = None,
               **extra) -> dcc.Slider:
    """A slider over 10**lo … 10**hi that holds log10 of ``value`` (rounded to ``decimals``);
    its callbacks map what it holds back with polyviz.state.from_log10."""
    return dcc.Slider(id=cid, min=lo, max=hi, step=step, value=st.to_log10(value, decimals),
                      marks=log_marks(lo, hi), allow_direct_input=False, **extra)


def python_copy(prefix: str) -> html.Div:
    """"Copy as Python": a button copying the code that makes this view's figures in a
    notebook (with the exact settings of the link), and the code itself, folded away. Its
    text comes from the page's callback (polyviz.notebook)."""
    code_id = f"{prefix}-python-code"
    return html.Div([
        html.Div([dcc.Clipboard(id=f"{prefix}-python-copy", target_id=code_id, title="Copy as Python",
                                className="clipboard"), html.Span("copy as Python", className="copy-label")],
                 className="copy-link"),
        html.Details([html.Summary("Python for this view"), html.Pre(id=code_id, className="python-code")],
                     className="python-details"),
    ], className="python-copy")


# a dashed drop box for dcc.Upload (your data on /train, a model file on /sphere)
UPLOAD_STYLE = {"border": "1.5px dashed #9aa3b5", "borderRadius": "8px", "padding": "10px", "textAlign": "center",
                "cursor": "pointer", "margin": "6px 0 4px", "fontSize": "13px"}


@dataclass(frozen=True)
class ExportIds:
    """The ids of a page's export row (:func:`export_row`): ``<prefix>-export-<part>``."""

    prefix: str

    def _id(self, part: str) -> str:
        return f"{self.prefix}-export-{part}"

    @property
    def which(self) -> str:  # the dropdown naming the figure
        return self._id("which")

    @property
    def figure(self) -> str:  # "Figure (.html)"
        return self._id("figure")

    @property
    def data(self) -> str:  # "Data (.csv)"
        return self._id("data")

    @property
    def download(self) -> str:  # the dcc.Download
        return self._id("download")

    @property
    def status(self) -> str:  # what went wrong, in words
        return self._id("status")


def export_row(ids: ExportIds, figures: dict[str, str], value: str, data_buttons=None,
               disabled: bool = False) -> html.Div:
    """A page's exports: a dropdown naming its figures (``figures``: value -> label), "Figure
    (.html)" (the chosen figure as a standalone HTML page), "Data (.csv)" (the data behind
    it), a status line and the dcc.Download. The server makes both files from the page's
    canonical query, never from a figure the browser sends. ``data_buttons``: (id, label,
    title) of the CSV buttons to show instead of "Data (.csv)" (/train's points and curves)."""
    if data_buttons is None:
        data_buttons = [(ids.data, "Data (.csv)", "The data behind the chosen figure, one column per quantity")]
    return html.Div([
        html.Span("Export", className="control-label", style={"margin": "0"}),
        dcc.Dropdown(id=ids.which, value=value, clearable=False, searchable=False, className="export-which",
                     options=[{"label": label, "value": key} for key, label in figures.items()],
                     style={"width": "210px", "fontSize": "13px"}),
        html.Button("Figure (.html)", id=ids.figure, className="secondary", n_clicks=0, disabled=disabled,
                    title="The chosen figure as a standalone HTML page (interactive, opens offline)"),
        *[html.Button(label, id=cid, className="secondary", n_clicks=0, disabled=disabled, title=title)
          for cid, label, title in data_buttons],
        html.Span("PNG: the camera button above each figure.", className="control-help"),
        html.Div(id=ids.status, className="control-help", role="status", style={"flexBasis": "100%"}),
        dcc.Download(id=ids.download),
    ], className="export-row")  # laid out in assets/style.css: an inline display would show it in a folded phone sheet
