"""Links that always work: a trained run's links carry its /train settings, so a run that
expired or was evicted is trained again to the same weights and opened (the page says so); a
cache outage is told as an outage, not as "not found"; every configuration the limits accept
(2 training points, width 4 included) is shown and downloaded."""

from __future__ import annotations

import base64
import io
import zipfile
from urllib.parse import parse_qsl, urlparse

import numpy as np
import pytest
import torch

from polyviz import state as st


@pytest.fixture(scope="module")
def mods(dash_app):
    from callbacks import sphere as sphere_cb
    from callbacks import train as train_cb
    from layouts import sphere as sphere_ids
    from services import cache, jobs, run_store

    return train_cb, sphere_cb, sphere_ids, run_store, cache, jobs


def train(mods, query: str):
    """Train a /train query through the page's job runner; the run lands in the cache."""
    from polyviz.pages.train import TrainState

    train_cb, _s, _i, store, cache, jobs = mods
    state, notices = st.from_query(TrainState, query)
    assert notices == []
    cache.cache.delete(store.run_key(state.training_fields()))
    out = jobs.run_job(jobs.new_job(state, "train"), jobs.TRAIN)
    assert out.key is not None, out.status
    return state, out.key


def found(page) -> dict:
    return {node.id: node for node in page._traverse() if isinstance(getattr(node, "id", None), str)}


def query_of(href: str) -> dict:
    return dict(parse_qsl(urlparse(href).query, keep_blank_values=True))


def test_an_evicted_run_reopens_from_its_sphere_link_retrained_to_the_same_weights(mods):
    train_cb, sphere_cb, ids, store, cache, _jobs = mods
    _state, key = train(mods, "dataset=spiral&n=120&width=3&depth=3&steps=60&seed=11&data_seed=2")  # layer 3: the output
    before = store.load_run(key).params.flat.clone()
    links = [link.href for link in train_cb.render_results(key, key)[7] if hasattr(link, "href")]
    link = query_of(links[1])  # layer 2
    assert link["model"] == store.model_id(key) and link["layer"] == "2"

    cache.cache.delete(key)  # evicted (or expired)
    page = found(sphere_cb.layout(**link))
    notices = " ".join(str(item.children) for item in page[ids.NOTICES].children)
    assert "no longer in the cache (it expired or was evicted)" in notices and "Retrain this model" in notices
    assert page[ids.RETRAIN_BOX].style == {"display": "block"} and page[ids.TRAIN_QUERY].data == link["train"]

    job, words, watchdog_off, location = retrain_press(mods, link)
    assert isinstance(job, dict) and watchdog_off is False and location is sphere_cb.no_update
    assert words == "Starting…" or words.startswith("Waiting for a free slot")  # earlier tests' jobs may queue
    progress: list = []
    href, status, _off = sphere_cb.retrain_model(progress.append, job, link["model"], link["train"], 2)
    assert status.startswith("Trained 60 steps")
    assert sphere_cb.retrain_watchdog(1, job)[:2] == (sphere_cb.no_update, True)  # done: the watchdog stops
    again = store.load_run(key)
    assert again is not None and torch.equal(again.params.flat, before)  # the same weights, bit for bit
    reopened = query_of(href)
    assert reopened.pop("retrained") == "1" and reopened == link
    page = found(sphere_cb.layout(**query_of(href)))
    assert page[ids.RETRAIN_BOX].style == {"display": "none"}
    notices = " ".join(str(item.children) for item in page[ids.NOTICES].children)
    assert "it was trained again from the settings this link carries" in notices
    assert "Layer 2 of a trained model" in str(page[ids.SOURCE_HELP].children)


def test_a_link_whose_settings_train_another_model_offers_no_retrain(mods):
    _t, sphere_cb, ids, store, _cache, _jobs = mods
    other = "dataset=moons&n=100&width=3&depth=2&steps=20&seed=1"
    page = found(sphere_cb.layout(source="trained", model="e" * 40, layer="1", train=other))
    assert page[ids.RETRAIN_BOX].style == {"display": "none"}
    notices = " ".join(str(item.children) for item in page[ids.NOTICES].children)
    assert "is not in the cache (an unknown id" in notices
    assert store.retrain_state("e" * 40, other) is None
    job, status, watchdog_off, href = retrain_press(mods, {"model": "e" * 40, "train": other, "layer": "1"})
    assert job is sphere_cb.no_update and href is sphere_cb.no_update and watchdog_off is True
    assert "cannot be retrained" in status


def retrain_press(mods, link: dict, cookie: str = "") -> tuple:
    """The Retrain button's callback, in a request (admission reads the client's cookie and address)."""
    import app as app_module

    _t, sphere_cb, *_ = mods
    headers = {"Cookie": f"polyviz_client={cookie}"} if cookie else {}
    with app_module.server.test_request_context("/sphere", headers=headers):
        return sphere_cb.start_retrain(1, link["model"], link["train"], int(link["layer"]))


def test_retraining_is_admitted_like_a_training_job(mods, monkeypatch):
    """The Retrain button goes through admission (services/admission.py): a client with its share
    of jobs is refused in words and nothing starts; an admitted retrain is watched, and a lost one
    is reported."""
    import time

    from services import admission

    _t, sphere_cb, _ids, store, cache, jobs = mods
    query = "dataset=moons&n=100&width=3&depth=2&steps=20&seed=3"
    state, key = train(mods, query)
    link = {"model": store.model_id(key), "train": st.to_query(state), "layer": "1"}
    cache.cache.delete(key)
    monkeypatch.setenv("POLYVIZ_MAX_JOBS_PER_CLIENT", "1")
    cookie = "c0ffee" * 4
    first = retrain_press(mods, link, cookie)
    assert isinstance(first[0], dict) and first[2] is False
    with admission.ledger().locked() as entries:  # the press is in the ledger, counted against this client
        assert f"cookie:{cookie}" in entries[first[0]["id"]]["clients"]
    job, status, watchdog_off, href = retrain_press(mods, link, cookie)
    assert job is sphere_cb.no_update and watchdog_off is True and href is sphere_cb.no_update
    assert status.startswith("Not started: You already have 1 training jobs waiting or running")
    # the first job's process died without a word: the watchdog says so and gives the button back
    cache.cache_set(jobs.heartbeat_key(first[0]["id"]), {"job": first[0]["id"], "kind": "train",
                                                         "phase": "running", "beat": time.time() - 600, "step": 7})
    words, off, button_disabled = sphere_cb.retrain_watchdog(1, first[0])
    assert "training job stopped unexpectedly after step 7" in words and off is True and button_disabled is False
    admission.release(first[0]["id"])
    # cached meanwhile (another tab retrained it): reopened at once, no job
    train(mods, query)
    job, status, watchdog_off, href = retrain_press(mods, link, cookie)
    assert job is sphere_cb.no_update and "cached" in status and href.endswith("&retrained=1")


def test_a_cache_outage_is_reported_as_an_outage_not_as_not_found(mods, monkeypatch):
    train_cb, sphere_cb, ids, store, cache, jobs = mods
    _state, key = train(mods, "dataset=moons&n=100&width=3&depth=1&steps=20&seed=5")

    def down(*_args, **_kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(cache.cache, "get", down)
    page = found(sphere_cb.layout(source="trained", model=store.model_id(key), layer="1"))
    notices = " ".join(str(item.children) for item in page[ids.NOTICES].children)
    assert "cannot be reached right now" in notices and "not in the cache" not in notices
    out = train_cb.render_results(key, key)
    assert out[6] == jobs.UNAVAILABLE and "no longer in the cache" not in out[6]
    data, status = train_cb.download_model(1, key)
    assert data is train_cb.no_update and status == jobs.UNAVAILABLE


def test_two_training_points_and_width_4_are_shown_and_downloaded(mods):
    """/train?n=4&width=4: 2 training points give 2 principal axes, not 3 (it failed to draw)."""
    train_cb, _s, _i, store, _cache, _jobs = mods
    state, key = train(mods, "n=4&width=4&steps=30")
    assert state.n_train == 2
    curves, boundary, anim, ckpt, _cm, _cm_style, summary, links, download_disabled, shown, *_ = \
        train_cb.render_results(key, key)
    assert download_disabled is False and shown == key
    assert anim["frames"] and all(len(f["data"][0]["x"]) == 2 for f in anim["frames"][:3])
    data, status = train_cb.download_model(1, key)
    assert status is train_cb.no_update
    download = base64.b64decode(data["content"])
    assert {"model.safetensors", "model.json"} <= set(zipfile.ZipFile(io.BytesIO(download)).namelist())
    # the download reads back as the very model the page trained
    from polyviz.models import predict_proba
    from polyviz.pages.train import load_data
    from polyviz.records import read_model_zip

    loaded, cached = read_model_zip(download), store.load_run(key).params
    assert loaded.config == cached.config and torch.equal(loaded.flat, cached.flat)
    X_test = load_data(state)[1]
    np.testing.assert_array_equal(predict_proba(loaded, X_test), predict_proba(cached, X_test))


def test_the_embedding_of_two_points_is_exact_on_their_one_axis():
    from polyviz.embedding import fit_embedding

    A = np.array([[1.0, 2.0, 3.0, 4.0], [3.0, 2.0, 1.0, 0.0]])
    e = fit_embedding(A)
    E = e(A)
    assert E.shape == (2, 3) and e.method == "pca"
    # distances are kept: the one axis through two points carries all of their difference
    assert np.isclose(np.linalg.norm(E[0] - E[1]), np.linalg.norm(A[0] - A[1]), rtol=1e-6)


@pytest.mark.parametrize("act, name", [("dyt", "DyT"), ("group_layernorm", "grouped LN"), ("tanh", "tanh")])
def test_the_sphere_page_names_a_trained_models_activation_as_the_train_page_does(mods, act, name):
    """One table of activation names (polyviz.models.ACTIVATION_NAMES): the sphere page's copy
    lacked DyT and grouped LN and showed their raw ids."""
    from layouts import train as train_ids

    _t, sphere_cb, ids, store, _cache, _jobs = mods
    _state, key = train(mods, f"dataset=moons&n=100&width=4&depth=2&steps=20&seed=2&act={act}&groups=2")
    page = found(sphere_cb.layout(source="trained", model=store.model_id(key), layer="2"))
    notices = " ".join(str(item.children) for item in page[ids.NOTICES].children)
    assert f"reads {name} activations, which lie on no sphere" in notices, notices
    train_page = found(train_ids.layout(act=act))
    assert {o["value"]: o["label"].strip() for o in train_page[train_ids.ACT].options}[act] == name
