"""The sphere page's "Open a downloaded model (.zip)" box: the .zip of /train's "Download
model", posted to the upload callback over HTTP as the browser posts it, opens on /sphere
as its trained run does; a bad file is refused in the page's notices, naming what is wrong."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

import dash_http
from test_sphere_page import layer_args, train_tiny

UPLOAD = "sp-model-upload"


def upload_dep(client) -> dict:
    for dep in dash_http.server_callbacks(dash_http.dependencies(client)):
        if [(i["id"], i["property"]) for i in dep["inputs"]] == [(UPLOAD, "contents")]:
            return dep
    raise KeyError("no server callback reads the model upload box")


def upload(client, contents) -> dict:
    """What the upload callback answers for these contents (never a server error)."""
    body = dash_http.payload(upload_dep(client), {f"{UPLOAD}.contents": contents})
    response = dash_http.post(client, body)
    assert response.status_code == 200, response.data[:300]
    return response.get_json()["response"]


def as_upload(data: bytes, kind: str = "application/zip") -> str:
    """A file as dcc.Upload sends it: a base64 data URL."""
    return f"data:{kind};base64," + base64.b64encode(data).decode()


def rezip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def trained_run(dash_app):
    from services import run_store

    model = train_tiny(3)
    return model, run_store.load_run(model)


def test_a_downloaded_zip_opens_as_its_trained_run(client, trained_run):
    from callbacks import sphere as cb

    model, run = trained_run
    answer = upload(client, as_upload(run.model_zip()))
    href = answer["_pages_location"]["href"]
    url = urlsplit(href)
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert url.path == "/sphere" and query["source"] == "trained" and query["layer"] == "1"
    uploaded = query["model"]
    # the same model, whatever the .zip's file dates: the id is the content's hash
    members = {name: zipfile.ZipFile(io.BytesIO(run.model_zip())).read(name) for name in ("model.json",
                                                                                          "model.safetensors")}
    assert upload(client, as_upload(rezip(members)))["_pages_location"]["href"] == href
    # the same weights, layer by layer, as the run's own
    original, opened = cb.trained_model(model), cb.trained_model(uploaded)
    assert len(opened.layers) == len(original.layers) == 3  # input layer, hidden layer 1, output
    for (W, b), (W0, b0) in zip(opened.layers, original.layers):
        assert np.array_equal(W, W0) and np.array_equal(b, b0)
    # the page the link opens: the trained layer with its layer picker, as the run's own link
    page = dash_http.route(client, href)["layout"]
    own = dash_http.route(client, f"/sphere?source=trained&model={model}&layer=1")["layout"]
    controls, own_controls = dash_http.by_id(page), dash_http.by_id(own)
    assert controls["sp-layer"]["options"] == own_controls["sp-layer"]["options"]
    assert [o["disabled"] for o in controls["sp-layer"]["options"]] == [False, True]  # the output layer: 1 neuron
    help_text = dash_http.text(controls["sp-source-help"]["children"])
    assert "Layer 1 of a trained model" in help_text and "spiral, width 3, depth 2" in help_text
    assert f"Model {uploaded[:8]}…" in help_text and controls["sp-notices"]["children"] == []
    # and the same regions as the page counts for the original run
    for layer in (1,):
        drawn = cb.update_scene(*layer_args(4, 12, 0, source="trained", model=uploaded, layer=layer),
                                30, 20, 160, -15, 2.0, 10)
        own_drawn = cb.update_scene(*layer_args(4, 12, 0, source="trained", model=model, layer=layer),
                                    30, 20, 160, -15, 2.0, 10)
        assert drawn[0]["layout"]["meta"]["regions"] == own_drawn[0]["layout"]["meta"]["regions"] > 1
        assert drawn[1] == own_drawn[1].replace(model[:8], uploaded[:8])


def bad_files(run) -> list:
    archive = zipfile.ZipFile(io.BytesIO(run.model_zip()))
    members = {name: archive.read(name) for name in archive.namelist()}
    zipped = run.model_zip()
    damaged = bytearray(zipped)
    start = 30 + len("model.safetensors") + 40  # inside the first member's compressed bytes
    damaged[start:start + 16] = bytes(16)
    document = json.loads(members["model.json"])
    return [
        ("a CSV file", as_upload(b"x,y,label\n0,1,0\n", "text/csv"), "the model file is not a .zip"),
        ("too big", as_upload(b"\0" * (2**20 + 4096)), "bytes; at most 1,048,576 are allowed"),
        ("a bomb", as_upload(rezip({**members, "model.safetensors": bytes(2**20 + 1)})),
         "the unpacked model is larger than 1 MB"),
        ("no weights", as_upload(rezip({"model.json": members["model.json"]})),
         "the .zip must hold model.safetensors and model.json (and README.txt) only; it holds ['model.json']"),
        ("an extra member", as_upload(rezip({**members, "evil.pkl": b"\x80\x04."})),
         "the .zip must hold model.safetensors and model.json (and README.txt) only"),
        ("damaged bytes", as_upload(bytes(damaged)), "the .zip is damaged"),
        ("another document", as_upload(rezip({**members, "model.json": json.dumps({**document, "format": "x"})})),
         "not a polyviz model document (format 'x')"),
        ("a number", 12345, "expected a file's contents"),
        ("a list", ["data:application/zip;base64,AAAA"], "expected a file's contents"),
        ("not base64", "data:application/zip;base64,@@@@", "its base64 encoding is damaged"),
        ("not a data URL", "hello, world", "expected a base64-encoded file"),
    ]


def test_bad_files_are_refused_in_the_notices_with_what_is_wrong(client, trained_run):
    _, run = trained_run
    for case, contents, words in bad_files(run):
        answer = upload(client, contents)
        assert "_pages_location" not in answer, case  # the page stays where it is
        shown = dash_http.text(answer["sp-notices"]["children"])
        assert shown.startswith("The model file was not opened: ") and words in shown, (case, shown)


def test_an_empty_upload_box_changes_nothing(client):
    """The router draws a fresh upload box (contents None) on every visit: not a bad file."""
    assert upload(client, None) == {}  # no navigation, no notice


def test_a_cache_outage_is_said_not_hidden(client, trained_run, monkeypatch):
    from services import cache, run_store

    def down(*args, **kwargs):
        raise cache.CacheUnavailable("connection refused")

    monkeypatch.setattr(cache, "cache_set", down)
    answer = upload(client, as_upload(trained_run[1].model_zip()))
    assert "_pages_location" not in answer
    assert ("The model file was not opened: the shared cache (Redis) cannot be reached right now"
            in dash_http.text(answer["sp-notices"]["children"]))
    assert run_store.load_uploaded_model("0" * 40) is None
