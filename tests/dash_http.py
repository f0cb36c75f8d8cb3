"""Fire real Dash callbacks over HTTP, as the browser does: POST /_dash-update-component.

Used by the callback tests, the fuzz tests and the benchmarks, so that what is measured
is the server path a user's browser takes (routing, validation, serialisation).
"""

from __future__ import annotations

import json
from typing import Any


def _split_output(output: str) -> list[dict]:
    """'..a.figure...b.children..' or 'a.figure' -> [{'id': 'a', 'property': 'figure'}, ...]."""
    text = output.strip(".")
    parts = text.split("...") if output.startswith("..") else [text]
    specs = []
    for part in parts:
        # ids can hold dots only in pattern-matching (JSON) form; ours are plain strings
        ident, _, prop = part.rpartition(".")
        specs.append({"id": ident.split("@")[0], "property": prop.split("@")[0]})
    return specs


def server_callbacks(dependencies: list[dict]) -> list[dict]:
    """The callbacks that run on the server (clientside ones never reach it)."""
    return [dep for dep in dependencies if not dep.get("clientside_function")]


def find_callback(dependencies: list[dict], output_id: str, output_prop: str) -> dict:
    for dep in server_callbacks(dependencies):
        for spec in _split_output(dep["output"]):
            if spec["id"] == output_id and spec["property"] == output_prop:
                return dep
    raise KeyError(f"no server callback outputs {output_id}.{output_prop}")


def payload(dep: dict, values: dict[str, Any], changed: list[str] | None = None) -> dict:
    """A request body for callback `dep`; values maps 'id.prop' to the value sent."""
    def items(kind):
        return [dict(id=i["id"], property=i["property"], value=values.get(f"{i['id']}.{i['property']}"))
                for i in dep.get(kind, [])]

    inputs = items("inputs")
    outputs = _split_output(dep["output"])
    return {
        "output": dep["output"],
        "outputs": outputs if dep["output"].startswith("..") else outputs[0],
        "inputs": inputs,
        "state": items("state"),
        "changedPropIds": changed if changed is not None else [f"{inputs[0]['id']}.{inputs[0]['property']}"],
    }


def post(client, body: dict):
    """POST a callback body with a Flask test client or a requests.Session-like object."""
    data = json.dumps(body)
    headers = {"Content-Type": "application/json"}
    if hasattr(client, "open"):  # Flask test client
        return client.post("/_dash-update-component", data=data, headers=headers)
    return client.post(client.base_url + "/_dash-update-component", data=data, headers=headers, timeout=60)


def dependencies(client) -> list[dict]:
    if hasattr(client, "open"):
        return client.get("/_dash-dependencies").get_json()
    return client.get(client.base_url + "/_dash-dependencies", timeout=30).json()


# --- pages: what the browser shows for a URL --------------------------------------------
# A GET of any page returns the same app shell; the page itself comes from Dash Pages'
# router callback, which the browser fires with the URL's path and query. These post it.

def route(client, url: str) -> dict:
    """The page layout (component JSON) the router sends for `url`, plus its title."""
    path, _, query = url.partition("?")
    router = find_callback(dependencies(client), "_pages_content", "children")
    values = {"_pages_location.pathname": path, "_pages_location.search": f"?{query}" if query else ""}
    response = post(client, payload(router, values, ["_pages_location.pathname"]))
    assert response.status_code == 200, response.data[:300]
    body = response.get_json()["response"]
    return {"layout": body["_pages_content"]["children"], "title": body["_pages_store"]["data"]["title"]}


def components(tree) -> list[dict]:
    """Every component in a layout's JSON, depth first."""
    found = []

    def walk(node):
        if isinstance(node, list):
            for child in node:
                walk(child)
        elif isinstance(node, dict) and "props" in node:
            found.append(node)
            for value in node["props"].values():
                walk(value)

    walk(tree)
    return found


def by_id(tree) -> dict[str, dict]:
    """Component props by (string) id."""
    return {c["props"]["id"]: c["props"] for c in components(tree) if isinstance(c["props"].get("id"), str)}


def text(tree) -> str:
    """The text a reader sees in a layout's JSON (children strings and numbers)."""
    if isinstance(tree, (str, int, float)) and not isinstance(tree, bool):
        return str(tree)
    if isinstance(tree, list):
        return " ".join(filter(None, (text(child) for child in tree)))
    if isinstance(tree, dict) and "props" in tree:
        return text(tree["props"].get("children"))
    return ""
