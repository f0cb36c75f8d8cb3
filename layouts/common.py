"""Building blocks shared by the page layouts."""

from __future__ import annotations

from dash import dcc, html

GRAPH_CONFIG = {"displaylogo": False, "responsive": True,
                "toImageButtonOptions": {"format": "png", "scale": 2}}


def notices_box(notices: list[str], box_id: str) -> html.Div:
    """The visible list of what was wrong with the input and what was used instead."""
    return html.Div(notice_items(notices), id=box_id, className="notices", role="status")


def notice_items(notices: list[str]) -> list:
    return [html.Div(text, className="notice") for text in notices]


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


def copy_link(clipboard_id: str) -> html.Div:
    return html.Div([dcc.Clipboard(id=clipboard_id, title="Copy a link to this exact view",
                                   className="clipboard"), html.Span("copy link", className="copy-label")],
                    className="copy-link")
