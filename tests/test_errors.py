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
