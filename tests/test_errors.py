"""Failures become words, never a 500 or a traceback."""

from __future__ import annotations

import json

import pytest

import dash_http


@pytest.mark.parametrize("body", ["not json", "{}", "[1, 2]", json.dumps({"output": "nope.children", "inputs": []}),
                                  json.dumps({"output": "sf-circle.figure", "inputs": "x"})])
def test_malformed_callback_requests_are_client_errors(client, body):
    response = client.post("/_dash-update-component", data=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert b"Traceback" not in response.data


def test_an_exception_inside_a_callback_becomes_a_message(client, monkeypatch):
    import callbacks.stretch_fold as module

    def broken(**_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(module.figures, "stretch_fold_specs", broken)
    dep = dash_http.find_callback(dash_http.dependencies(client), "sf-circle", "figure")
    response = dash_http.post(client, dash_http.payload(dep, {"sf-committed-t.data": 1.0}, ["sf-n.value"]))
    assert response.status_code == 200
    body = response.get_json()
    assert "RuntimeError" in body["sideUpdate"]["app-error"]["children"]
    assert "boom" not in response.get_data(as_text=True)  # no internals leak to the browser


def test_oversized_request_is_refused(client):
    response = client.post("/_dash-update-component", data="x" * (3 * 1024 * 1024),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413


# --- the page router (dash.page_container) ------------------------------------------------

def router_call(client, pathname, search, changed=("_pages_location.pathname",)):
    dep = dash_http.find_callback(dash_http.dependencies(client), "_pages_content", "children")
    body = dash_http.payload(dep, {"_pages_location.pathname": pathname, "_pages_location.search": search},
                             list(changed))
    return client.post("/_dash-update-component", data=json.dumps(body), headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("pathname, search", [(7, ""), ("/train", 3.5), ({"a": 1}, None), ("/sphere", ["?k=1"]), ("<script>", ""),
                                              (True, "")])
def test_wrong_types_sent_to_the_page_router_are_a_client_error(client, caplog, pathname, search):
    with caplog.at_level("WARNING"):
        response = router_call(client, pathname, search)
    assert response.status_code == 400
    assert "the page address" in response.get_json()["detail"]
    assert [r.levelname for r in caplog.records if r.levelno >= 30] == ["WARNING"]
    assert not any(r.exc_info for r in caplog.records)  # no traceback in the log


def page_text(response) -> str:
    """Every string in the page the router sends (its component tree, flattened)."""
    found = []

    def walk(node):
        if isinstance(node, str):
            found.append(node)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            walk(node.get("props", {}).get("children"))
    walk(response.get_json()["response"]["_pages_content"]["children"])
    return " ".join(found)


def test_a_repeated_query_field_takes_its_last_value_with_a_notice(client, caplog):
    with caplog.at_level("WARNING"):
        response = router_call(client, "/train", "?preset=spiral&preset=spiral")
    assert response.status_code == 200
    body = response.get_json()
    assert "app-error" not in (body.get("sideUpdate") or {}) or not body["sideUpdate"]["app-error"]["children"]
    text = page_text(response)
    assert "preset is given 2 times in the link ('spiral', 'spiral'); using the last one, 'spiral'." in text
    assert "Toy classifiers" in response.get_data(as_text=True)  # the page itself, not an error
    assert not [r for r in caplog.records if r.levelno >= 40]
    # the last value wins: the sphere page with k=1 then k=3 draws k = 3
    response = router_call(client, "/sphere", "?k=1&k=3")
    assert "k is given 2 times in the link ('1', '3'); using the last one, '3'." in page_text(response)
    assert '"value": 3.0' in json.dumps(response.get_json()) or '"value": 3' in json.dumps(response.get_json())


def test_from_query_takes_the_last_of_a_repeated_field():
    from polyviz import state as st
    from polyviz.pages.stretch_fold import StretchFoldState

    state, notices = st.from_query(StretchFoldState, "t=1&op=shift&t=-2")
    assert state.t == -2.0 and state.op == "shift"
    assert notices == ["t is given 2 times in the link ('1', '-2'); using the last one, '-2'."]


# --- the error banner clears -----------------------------------------------------------------

def banner_of(response):
    side = response.get_json().get("sideUpdate") or {}
    return side["app-error"]["children"] if "app-error" in side else "untouched"


def test_the_error_banner_clears_when_the_next_callback_succeeds_or_the_user_navigates(client, monkeypatch):
    import callbacks.stretch_fold as module

    dep = dash_http.find_callback(dash_http.dependencies(client), "sf-circle", "figure")
    real = module.figures.stretch_fold_specs

    def broken(**_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(module.figures, "stretch_fold_specs", broken)
    failed = dash_http.post(client, dash_http.payload(dep, {"sf-committed-t.data": 1.0}, ["sf-n.value"]))
    assert "Something went wrong" in banner_of(failed)
    monkeypatch.setattr(module.figures, "stretch_fold_specs", real)
    # the next callback the user sets off succeeds: its answer clears the banner
    ok = dash_http.post(client, dash_http.payload(dep, {"sf-committed-t.data": 1.0}, ["sf-n.value"]))
    assert ok.status_code == 200 and banner_of(ok) is None
    assert ok.get_json()["response"]["sf-circle"]["figure"]["data"]  # and the figures still arrive
    # navigating clears it too (the page router's answer)
    assert banner_of(router_call(client, "/sphere", "")) is None
    # a page's first draw (no changed input) leaves it, so a failure among those stays visible
    first = dash_http.post(client, dash_http.payload(dep, {"sf-committed-t.data": 1.0}, []))
    assert first.status_code == 200 and banner_of(first) == "untouched"
