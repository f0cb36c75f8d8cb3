"""The /transformer page on MiniLM: layout(**query), the callbacks called as functions and over
HTTP, the numbers each view shows against the library's and against direct computation from
the weights, and bad input (notices naming the field and range, never a 500)."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pytest

import dash_http
from polyviz import state as st
from polyviz import transformer as tf
from polyviz.pages.transformer import TEXT_MAX_LINK_BYTES, TransformerState


@pytest.fixture(scope="module")
def page(dash_app):
    from callbacks import transformer as cb
    from layouts import transformer as lay

    return cb, lay


@pytest.fixture(scope="module")
def minilm():
    model = tf.load("minilm")
    tokens, R = model.residuals(tf.DEFAULT_TEXT)
    return model, tokens, R


def found(tree) -> dict:
    return {node.id: node for node in tree._traverse() if isinstance(getattr(node, "id", None), str)}


def text_of(children) -> str:
    if isinstance(children, str):
        return children
    return " ".join(str(getattr(item, "children", item)) for item in (children or []))


def preacts(model, R, layer, x):
    W, b = model.mlp_in(layer)
    return W @ model.normalize(x[None, :])[0] + b


# --- links ------------------------------------------------------------------------------

def test_default_state_round_trips_and_every_control_is_in_the_query():
    query = st.to_query(TransformerState())
    for name in ("model", "layer", "text", "a", "b", "pick", "pairs", "seed", "kmax", "wkind", "wtok", "g1", "g2",
                 "wdim", "amax", "mdim", "smax"):
        assert f"{name}=" in query, name
    assert st.from_query(TransformerState, query) == (TransformerState(), [])


def test_layout_restores_the_state_and_names_the_layernorm(page, minilm):
    cb, lay = page
    model, _, _ = minilm
    text = "Rivers run to the sea. The sea is salt."
    nodes = found(cb.layout(layer="1", text=text, a="3", b="5", kmax="2.5", wkind="basis", wdim="7", pick="b"))
    assert nodes[lay.LAYER].value == 1 and nodes[lay.LAYER].max == model.n_layers - 1
    assert nodes[lay.TEXT].data == text and nodes[lay.TEXT_BOX].value == text
    assert (nodes[lay.A].value, nodes[lay.B].value, nodes[lay.PICK].value) == (3, 5, "b")
    assert nodes[lay.KMAX].value == 2.5 and nodes[lay.WKIND].value == "basis" and nodes[lay.WDIM].value == 7
    assert nodes[lay.NOTICES].children == []
    assert model.ln_description(1) in text_of(nodes[lay.LN_TEXT].children)
    assert "encoder.layer.1.attention.output.LayerNorm" in text_of(nodes[lay.LN_TEXT].children)
    strip = [button.children for button in nodes[lay.TOKENS].children]
    assert strip == model.tokenize(text) and strip[0] == "[CLS]" and strip[-1] == "[SEP]"
    assert "tf-tok-a" in nodes[lay.TOKENS].children[3].className
    assert "tf-tok-b" in nodes[lay.TOKENS].children[5].className


BAD = [
    ({"model": "gpt-nope"}, "model = 'gpt-nope' is not allowed (one of minilm); using minilm."),
    ({"layer": "6"}, "layer = 6 is out of range (allowed: 0 to 5 for minilm); using 5."),
    ({"layer": "abc"}, "layer = 'abc' is not a number"),
    ({"a": "38"}, "a = 38 is beyond the text (allowed: 0 to 37, its 38 tokens); using 2."),
    ({"b": "400"}, "b = 400 is beyond the text (allowed: 0 to 37, its 38 tokens); using 17."),
    ({"a": "4", "b": "4"}, "a and b are the same token (4); b must be another of 0 to 37: using 5."),
    ({"text": "   "}, "text = '   ' is not allowed (a non-empty text"),
    ({"text": "word " * 1000}, f"bytes in a link (allowed: 1 to {TEXT_MAX_LINK_BYTES:,})"),
    ({"text": "a " * 1400}, "text has more than 512 tokens for minilm (allowed: 1 to 512"),
    ({"wdim": "500"}, "wdim = 500 is out of range (allowed: 0 to 383, the residual dimensions of minilm)"),
]


@pytest.mark.parametrize(("query", "notice"), BAD)
def test_a_bad_link_names_the_field_and_range_and_still_draws(page, query, notice):
    cb, lay = page
    nodes = found(cb.layout(**query))
    notices = text_of(nodes[lay.NOTICES].children)
    assert notice in notices, notices
    state, _ = st.from_query(TransformerState, nodes[lay.QUERY].data)
    spec, words = cb.update_circle(state.model, state.layer, state.text, state.a, state.b)
    assert spec["layout"]["meta"]["crossing_neurons"] > 0 and words.startswith("A = ")


def test_over_long_text_is_cut_to_fit_tokens_and_link(page, minilm):
    cb, lay = page
    model, _, _ = minilm
    nodes = found(cb.layout(text="a " * 1400))
    state, notices = st.from_query(TransformerState, nodes[lay.QUERY].data)
    assert notices == [] and len(model.tokenize(state.text)) <= model.max_tokens


def test_the_page_over_http_shows_notices_for_a_bad_link(client):
    controls = dash_http.by_id(dash_http.route(client, "/transformer?layer=99&a=-4&model=%00")["layout"])
    notices = dash_http.text(controls["tf-notices"]["children"])
    assert "layer = 99 is out of range" in notices and "a = -4 is out of range" in notices and "model" in notices
    assert controls["tf-layer"]["value"] == 5 and controls["tf-a"]["value"] == 0


# --- the views against the library and the weights ----------------------------------------

def test_circle_counts_agree_with_the_library_and_the_weights(page, minilm):
    cb, _ = page
    model, tokens, R = minilm
    spec, words = cb.update_circle("minilm", 2, None, 1, 21)
    meta = spec["layout"]["meta"]
    W, b = model.mlp_in(2)
    crossings = tf.circle_crossings(W, b, tf.great_circle(R[2][1], R[2][21]))
    assert meta["crossing_neurons"] == crossings.n_crossing_neurons
    assert meta["arc_crossings"] == crossings.count_between(0.0, crossings.theta_b)
    # codes at A and B straight from the weights, not from the circle
    code_a, code_b = preacts(model, R, 2, R[2][1]) > 0, preacts(model, R, 2, R[2][21]) > 0
    assert meta["active_a"] == code_a.sum() and meta["active_b"] == code_b.sum()
    assert meta["hamming_b"] == np.count_nonzero(code_a != code_b)
    assert meta["arc_crossings"] >= meta["hamming_b"] and (meta["arc_crossings"] - meta["hamming_b"]) % 2 == 0
    markers = sum(len(np.frombuffer(__import__("base64").b64decode(t["x"]["bdata"]), "<f4"))
                  for t in spec["data"][:2])
    assert markers == 2 * crossings.n_crossing_neurons
    assert "neuron %{y}" in spec["data"][0]["hovertemplate"]
    assert f"{meta['arc_crossings']:,} neuron boundaries" in words and "'paris'" not in words
    assert f"A = 1: {tokens[1]!r}" in words


def test_rotation_view_shows_the_library_figures_in_words(page, minilm):
    cb, _ = page
    model, _, R = minilm
    spec, words = cb.update_rotation("minilm", 4, None, 10_000, 0)
    W, b = model.mlp_in(4)
    W_raw, b_raw = model.raw_mlp_in(4)
    summary = tf.rotation_probe(W, b, R[4], W_raw, b_raw).summary()
    with_ln, without = summary["crossings_per_radian"]["median"], summary["crossings_per_radian_raw"]["median"]
    assert f"median of {with_ln:.0f} (quartiles" in words and f"crosses {without:.0f} (quartiles" in words
    assert "703 token pairs (all pairs of the 38 tokens)" in words and "subsample of 200 pairs" in words
    hist = [t for t in spec["data"] if t["name"] == "with LayerNorm"][0]
    assert np.frombuffer(__import__("base64").b64decode(hist["y"]["bdata"]), "<i4").sum() == 703


def test_scaling_view_counts_rays_without_layernorm_from_the_weights(page, minilm):
    cb, _ = page
    model, _, R = minilm
    spec, words = cb.update_scaling("minilm", 3, None, 10)
    meta = spec["layout"]["meta"]
    W_raw, b_raw = model.raw_mlp_in(3)
    with np.errstate(divide="ignore"):
        k_cross = -b_raw[None, :] / (R[3] @ W_raw.T)  # where k x crosses each neuron's hyperplane
    direct = ((k_cross > 0) & (k_cross <= 10)).sum(axis=1)
    assert meta["raw_median"] == np.median(direct)
    assert meta["ln_above_total"] == 0 and meta["ln_k_largest"] < 1e-3  # only in LayerNorm's eps region
    assert "0 crossings with LayerNorm over all tokens" in words


def test_direction_and_massive_views_agree_with_the_library(page, minilm):
    cb, _ = page
    model, tokens, R = minilm
    spec, words = cb.update_direction("minilm", 3, None, 2, "token", 12, "", "", 0, 4)
    X = R[3]
    W, b = model.mlp_in(3)
    typical = np.median(np.linalg.norm(tf.center(X), axis=1))
    w = X[12] * typical / np.linalg.norm(tf.center(X[12]))
    lines = tf.direction_crossings(W, b, X, w, 4, model.ln_eps)
    assert spec["layout"]["meta"]["a_end"] == lines.counts[2]
    assert spec["layout"]["meta"]["median_end"] == np.median(lines.counts)
    assert "token 12: 'paris'" in words

    spec, words, table = cb.update_massive("minilm", 3, None, -1, 10)
    meta = spec["layout"]["meta"]
    top = tf.massive_dimensions(X, 1)[0]
    assert (meta["dim"], meta["token"]) == (top.dim, top.token)
    x0 = X[top.token].copy()
    x0[top.dim] = 0.0  # s = 0: the dimension removed; LayerNorm's scale from its definition
    scale = lambda v: math.sqrt(384) / math.sqrt(np.sum((v - v.mean()) ** 2) + 384 * model.ln_eps)  # noqa: E731
    assert meta["rest_at_0"] == pytest.approx(scale(x0) / scale(X[top.token]), rel=1e-9)
    flips = np.count_nonzero((preacts(model, R, 3, x0) > 0) != (preacts(model, R, 3, X[top.token]) > 0))
    assert meta["flips_at_0"] == flips and f"{flips:,} MLP neurons flip at s = 0" in words
    assert f"{top.dim}" in text_of(table.children[1].children[3 * 3].children)  # layer 3's first row


def test_groups_that_name_no_token_say_so(page):
    cb, _ = page
    spec, words = cb.update_direction("minilm", 3, None, 2, "groups", 0, "200-300", "1", 0, 4)
    assert "Group 1 names no token of the text (allowed: indices 0 to 37" in words and spec["data"] == []


def test_download_gives_the_views_numbers_over_http(client):
    deps = dash_http.dependencies(client)
    dep = dash_http.find_callback(deps, "tf-download", "data")
    values = {"tf-model.value": "minilm", "tf-layer.value": 3, "tf-text.data": tf.DEFAULT_TEXT,
              "tf-pairs.value": 100, "tf-dl-rotation-csv.n_clicks": 1}
    response = dash_http.post(client, dash_http.payload(dep, values, ["tf-dl-rotation-csv.n_clicks"]))
    assert response.status_code == 200
    sent = response.get_json()["response"]["tf-download"]["data"]
    rows = list(csv.DictReader(io.StringIO(sent["content"])))
    assert len(rows) == 100 and {"i", "j", "crossings", "per_radian", "crossings_raw", "tv"} <= set(rows[0])
    assert sent["filename"] == "polyviz-transformer-rotation-minilm-layer3.csv"
    assert "\r" not in sent["content"] and sent["content"].count("\n") == 101  # polyviz.exports' line endings
    values = {**values, "tf-dl-massive-json.n_clicks": 1}
    response = dash_http.post(client, dash_http.payload(dep, values, ["tf-dl-massive-json.n_clicks"]))
    data = json.loads(response.get_json()["response"]["tf-download"]["data"]["content"])
    assert len(data["largest_dimensions"]) == 6 * 3 and data["summary"]["dim"] == 99


def test_a_model_that_cannot_load_is_said_in_words(page, monkeypatch, tmp_path, client):
    cb, lay = page
    monkeypatch.setenv(tf.MODELS_ENV, f"minilm,broken={tmp_path / 'missing'}")
    nodes = found(cb.layout(model="broken"))
    problem = nodes[lay.PROBLEM].children
    assert "Model 'broken' is configured on this server but cannot be loaded" in problem and "does not exist" in problem
    spec, words = cb.update_circle("broken", 0, None, 1, 2)
    assert spec["data"] == [] and "cannot be loaded" in spec["layout"]["annotations"][0]["text"]
    assert client.get("/sphere").status_code == 200
    assert cb.update_circle("minilm", 0, None, 1, 2)[0]["layout"]["meta"]["crossing_neurons"] > 0
