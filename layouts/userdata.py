"""The /train page's "Your data" box (upload a CSV, draw points) and its export buttons:
components and ids only. The callbacks are callbacks/userdata.py and callbacks/exports.py;
parsing and validation are :mod:`polyviz.userdata`."""

from __future__ import annotations

from dash import dcc, html

from polyviz.userdata import MAX_BYTES, MAX_CLASSES, MAX_ROWS

from .common import GRAPH_CONFIG, UPLOAD_STYLE, ExportIds, export_row

# The data's content hash: a hidden input, so that it is one of the page's controls (it is
# the `data` field of the state and of every link).
DATA = "tr-data"
UPLOAD, DATA_ERROR, DATA_INFO, DATA_FIG = "tr-upload", "tr-data-error", "tr-data-info", "tr-data-fig"
DRAW_CLASS, CLEAR, BUILTIN = "tr-draw-class", "tr-clear", "tr-builtin"
DRAWING = "tr-drawing"  # True on the empty canvas after Clear (until the first click stores a drawing)
EXPORT = ExportIds("tr")
EXPORT_POINTS, EXPORT_CURVES, EXPORT_FIGURE, EXPORT_WHICH = (
    "tr-export-points", "tr-export-curves", EXPORT.figure, EXPORT.which)
EXPORT_DOWNLOAD = EXPORT.download

DRAW_CLASSES = ("0", "1", "2", "3")  # the classes offered for drawing before any data has names
EXPORT_FIGURES = {"boundary": "decision boundary", "curves": "training curves", "animation": "layer animation",
                  "checkpoints": "checkpoint scrubber"}

FORMAT_HELP = (f"CSV: 2 or 3 number columns, then a label column (numbers or words, {2} to {MAX_CLASSES} classes); "
               f"a header row is optional. At most {MAX_ROWS:,} rows and {MAX_BYTES / 1e6:.0f} MB.")




def data_section(data_hash: str) -> html.Div:
    return html.Div([
        html.H4("Your data", className="subsection"),
        dcc.Input(id=DATA, type="hidden", value=data_hash),
        dcc.Upload(id=UPLOAD, children=html.Div(["Drop a CSV file here or ", html.A("choose one")]),
                   className="upload", multiple=False, accept=".csv,.txt,.tsv,text/csv,text/plain",
                   style=UPLOAD_STYLE),
        html.Div(FORMAT_HELP, className="control-help"),
        html.Div(id=DATA_ERROR, className="notice upload-error", role="alert", style={"display": "none"}),
        html.Div([
            html.Span("Click the figure to add a point of class ", className="control-help"),
            dcc.RadioItems(id=DRAW_CLASS, value=DRAW_CLASSES[0], inline=True, className="radio",
                           options=[{"label": f" {c}", "value": c} for c in DRAW_CLASSES]),
        ], className="draw-row"),
        dcc.Graph(id=DATA_FIG, config={**GRAPH_CONFIG, "displayModeBar": False}, style={"height": "300px"},
                  className="data-canvas"),
        html.Div(id=DATA_INFO, className="control-help", role="status"),
        html.Div([
            html.Button("Clear (draw from scratch)", id=CLEAR, className="secondary", n_clicks=0),
            html.Button("Built-in data", id=BUILTIN, className="secondary", n_clicks=0,
                        title="Back to the data set chosen above"),
        ], className="button-row"),
        dcc.Store(id=DRAWING, data=False),
    ], className="user-data")


def export_buttons() -> html.Div:
    """/train's export row (layouts.common.export_row) with its two CSV buttons: the points with
    the model's predictions, and the training curves. Off until a run is shown."""
    return export_row(EXPORT, EXPORT_FIGURES, "boundary", disabled=True, data_buttons=[
        (EXPORT_POINTS, "Data (.csv)", "Every training and test point: features, label, P(class 1), predicted class"),
        (EXPORT_CURVES, "Curves (.csv)", "Loss and accuracy per evaluated step, train and test")])
