"""The Toy classifiers page: state and links, limits, the training job (run in-process), the
cache, download, the watchdog, and the callbacks called directly and over HTTP."""

from __future__ import annotations

import base64
import io
import json
import re
import time
import zipfile
from urllib.parse import urlencode

import dash_http
import numpy as np
import pytest

from polyviz import state as st
from polyviz.pages.train import state_from_controls

LIMIT_QUERY = {"n": str(10**9), "width": "100", "depth": "50", "steps": str(10**6), "k": "1000"}
LIMIT_NOTICES = {
    "n": "n = 1000000000 is out of range (allowed: an integer from 4 to 20000)",
    "width": "width = 100 is out of range (allowed: an integer from 1 to 64)",
    "depth": "depth = 50 is out of range (allowed: an integer from 1 to 8)",
    "steps": "steps = 1000000 is out of range (allowed: an integer from 10 to 20000)",
    "k": "k = 1000 is out of range (allowed: an integer from 2 to 256)",
}


@pytest.fixture(scope="module")
def mods(dash_app):
    from callbacks import train as cb
    from layouts import train as ids
    from services import cache, run_store

    return cb, ids, run_store, cache


def spiral_state():
    from polyviz.pages.train import PRESETS, TrainState

    return st.validate(TrainState, PRESETS["spiral"]["values"])[0]


def controls_of(state):
    from polyviz.pages.train import control_values

    return control_values(state)


def run_training_job(job, set_progress=None):
    """The training job as the background callback runs it: one job-runner call."""
    from services import jobs

    return jobs.run_job(job, jobs.TRAIN, set_progress)


def run_sweep_job(job, set_progress=None):
    from services import jobs

    return jobs.run_job(job, jobs.SWEEP, set_progress)


def new_job(state, kind="train"):
    from services import jobs

    return jobs.new_job(state, kind)


def texts(notice_items) -> list[str]:
    return [item.children for item in notice_items]


def found_ids(page) -> dict:
    return {node.id: node for node in page._traverse() if isinstance(getattr(node, "id", None), str)}


def forget(services, key):
    services.cache.delete(key)


@pytest.fixture(scope="module")
def spiral_run(mods):
    """The spiral preset trained once by the job function, in this process."""
    cb, _ids, store, services = mods
    state = spiral_state()
    key = store.run_key(state.training_fields())
    forget(services, key)
    start = time.perf_counter()
    out = run_training_job(new_job(state, "train"))
    return {"state": state, "key": key, "out": out, "seconds": time.perf_counter() - start}


# --- state and links ---------------------------------------------------------------------------

def test_default_page_is_the_spiral_preset(mods):
    _cb, ids, _store, _services = mods
    page = ids.layout()
    found = found_ids(page)
    assert found[ids.DATASET].value == "spiral" and found[ids.WIDTH].value == 3 and found[ids.DEPTH].value == 2
    assert found[ids.NOTICES].children == []
    assert found[ids.QUERY].data == st.to_query(spiral_state())


def test_presets_from_the_url(mods):
    _cb, ids, _store, _services = mods
    found = found_ids(ids.layout(preset="octant_sphere"))
    assert found[ids.DATASET].value == "octant_sphere" and found[ids.DEPTH].value == 4
    assert "Octant sphere" in found[ids.PRESET_TEXT].children
    # other keys override the preset
    found = found_ids(ids.layout(preset="octant_sphere", seed="7"))
    assert found[ids.SEED].value == 7 and found[ids.DEPTH].value == 4
    found = found_ids(ids.layout(preset="nope"))
    assert any("preset = 'nope' is not allowed" in n for n in texts(found[ids.NOTICES].children))


def test_url_round_trip_reproduces_every_control(mods):
    cb, ids, _store, _services = mods
    from polyviz.pages.train import TrainState

    raw = dict(dataset="moons", noise=0.15, n=777, data_seed=5, ratio=0.65, depth=3, width=5, act="gelu",
               eps=3e-4, lr=0.0123, steps=1500, batch=64, seed=11, k=32)
    state, notices = st.validate(TrainState, raw)
    assert notices == []
    query = st.to_query(state)
    page = ids.layout(**dict(pair.split("=") for pair in query.split("&")))
    found = found_ids(page)
    assert found[ids.QUERY].data == query
    # the widgets' values (log sliders included) give back exactly the same state and query
    widget_values = [found[cid].value for cid in ids.CONTROL_IDS.values()]
    again, notices = state_from_controls(*widget_values)
    assert notices == [] and again == state and st.to_query(again) == query


def test_log_sliders_keep_round_numbers(mods):
    cb, *_ = mods
    state = spiral_state()
    values = controls_of(state)
    again, _ = state_from_controls(*values)
    assert again.lr == 0.02 and again.eps == 1e-5
    assert st.from_log10(-1.7, significant=3) == 0.02 and st.from_log10("abc", significant=3) == "abc"


def test_limits_are_enforced_with_notices_naming_the_field(mods):
    _cb, ids, _store, _services = mods
    found = found_ids(ids.layout(**LIMIT_QUERY))
    notices = " ".join(texts(found[ids.NOTICES].children))
    for field, text in LIMIT_NOTICES.items():
        assert text in notices, field
    assert found[ids.N].value == 20000 and found[ids.WIDTH].value == 64 and found[ids.DEPTH].value == 8
    assert found[ids.STEPS].value == 20000


def test_cross_field_rules(mods):
    from polyviz.pages.train import TrainState

    state, notices = st.validate(TrainState, {"act": "layernorm", "width": 1})
    assert state.width == 2 and any("width = 1 is too small for layernorm" in n for n in notices)
    state, notices = st.validate(TrainState, {"n": 100, "batch": 5000})
    assert state.batch == 0 and any("batch = 5000 is more than the 80 training points" in n for n in notices)
    state, notices = st.validate(TrainState, {"n": 20000, "width": 64, "depth": 8, "k": 256})
    assert state.k < 256 and any(n.startswith("k = 256 seeds is too many") for n in notices)
    assert state.k * state.n_train * 65 * 8 <= 16_000_000 or state.k == 2


def test_callback_validates_its_payload(mods):
    cb, ids, _store, _services = mods
    controls = ["cube", "x", 10**9, -3, 7, 50, 100, "sigmoid", "nan", 99, 10**6, -1, None, 1000, "both", 0, "resnet",
                "../etc/passwd"]
    notices, query, key, *_ = cb.sync_state(*controls, None, None, None)
    text = " ".join(texts(notices))
    for field in ("dataset =", "noise =", "n =", "data_seed =", "ratio =", "depth =", "width =", "act =", "eps =",
                  "lr =", "steps =", "batch =", "k =", "origin =", "groups =", "architecture =", "data ="):
        assert field in text, field
    assert "n=20000" in query and "width=64" in query and key.startswith("polyviz-1:train-run:")


# --- the training job ------------------------------------------------------------------------

def test_the_job_trains_the_spiral_preset_and_caches_it(mods, spiral_run):
    from polyviz.records import TrainedRun

    cb, _ids, store, services = mods
    out = spiral_run["out"]
    assert out.key == spiral_run["key"] and out.percent == "100"
    assert out.status.startswith("Trained 3,000 steps")
    record = services.cache_get(out.key)
    run = TrainedRun.from_dict(record)
    assert run.status == "completed" and run.key == out.key
    assert run.final_test_acc >= 0.97
    assert run.phase_transitions, "the spiral preset's run passes a phase transition"
    # plain data only: bytes, str, numbers, lists and dicts of them
    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, (bytes, str, int, float))
    assert plain(record)


def test_a_second_run_of_the_same_configuration_is_a_cache_hit(mods, spiral_run, monkeypatch):
    from polyviz.pages import train as train_page

    cb, *_ = mods

    def no_training(*_args, **_kwargs):
        raise AssertionError("trained again instead of using the cache")

    monkeypatch.setattr(train_page, "train_for_state", no_training)
    start = time.perf_counter()
    out = run_training_job(new_job(spiral_run["state"], "train"))
    assert out.key == spiral_run["key"] and "cached" in out.status and out.percent == "100"
    assert time.perf_counter() - start < 0.5
    # Train on a cached configuration shows it without starting a job
    job, result_key, status, *_ = cb.start_training(1, None, *controls_of(spiral_run["state"]), None)
    assert job is cb.no_update and result_key == spiral_run["key"] and "cached" in status


def test_the_job_reports_progress_and_heartbeats(mods, monkeypatch):
    cb, _ids, store, services = mods
    from polyviz.pages.train import TrainState
    from services import jobs

    monkeypatch.setattr(jobs, "PROGRESS_S", 0.0)
    monkeypatch.setattr(jobs, "HEARTBEAT_S", 0.0)
    state, _ = st.validate(TrainState, {"n": 200, "steps": 200, "seed": 1})
    forget(services, store.run_key(state.training_fields()))
    job = new_job(state, "train")
    updates = []
    out = run_training_job(job, updates.append)
    assert out.key == store.run_key(state.training_fields())
    assert len(updates) >= 5
    percent, words, figure = updates[-1]
    assert 0 < int(percent) <= 100 and words.startswith("Training… step") and "loss" in words
    assert figure["data"][0]["name"] == "train loss"
    beat = services.cache_get(jobs.heartbeat_key(job["id"]))
    assert beat["phase"] == "done" and beat["job"] == job["id"]


def test_a_non_finite_loss_stops_the_run_with_words(mods, monkeypatch):
    cb, _ids, store, services = mods
    from polyviz.pages import train as train_page
    from polyviz.pages.train import TrainState

    real = train_page.load_data

    def poisoned(state, user=None):
        Xtr, Xte, ytr, yte = real(state, user)
        Xtr = Xtr.copy()
        Xtr[0, 0] = np.nan
        return Xtr, Xte, ytr, yte

    monkeypatch.setattr(train_page, "load_data", poisoned)
    state, _ = st.validate(TrainState, {"n": 100, "steps": 100, "seed": 2, "data_seed": 99})
    forget(services, store.run_key(state.training_fields()))
    out = run_training_job(new_job(state, "train"))
    assert "Training stopped at step 0: the training loss became non-finite at step 0" in out.status
    assert "start from smaller weights" in out.status
    assert store.load_run(out.key).status == "non_finite"


def test_the_job_validates_its_payload(mods):
    from services import jobs

    for bad in (None, "x", 5, [], {"id": "x"}, {"id": "0" * 32}, {"id": "g" * 32, "query": ""},
                {"id": "0" * 32, "query": "n=1" * 5000}):
        out = run_training_job(bad)
        assert out.key is None and "not understood" in out.status and out.percent == "0"
    job_id, state = jobs.parse_job({"id": "a" * 32, "query": "n=1000000000&width=100&depth=50&steps=1000000&k=1000"})
    assert (state.n, state.width, state.depth, state.steps) == (20000, 64, 8, 20000)
    assert state.k == 2  # the sweep memory bound for the largest model and data


def test_training_is_unavailable_when_the_cache_is_down(mods, monkeypatch):
    from services import jobs

    cb, _ids, _store, services = mods

    def down(*_args, **_kwargs):
        raise ConnectionError("redis is gone")

    monkeypatch.setattr(services.cache, "get", down)
    monkeypatch.setattr(services.cache, "set", down)
    out = run_training_job(new_job(spiral_state(), "train"))
    assert out.key is None and out.status == jobs.UNAVAILABLE and "unavailable right now" in out.status
    out = cb.start_training(1, None, *controls_of(spiral_state()), None)
    assert out[0] is cb.no_update and out[2] == jobs.UNAVAILABLE
    assert run_sweep_job(new_job(spiral_state(), "sweep")).status == jobs.UNAVAILABLE
    stop, message = jobs.watchdog_verdict(new_job(spiral_state(), "train"))
    assert not stop and "cannot be reached" in message
    # the page still answers, and says so
    out = cb.sync_state(*controls_of(spiral_state()), [], None, None)
    assert out[3] is cb.no_update and "unavailable right now" in out[5]


def test_jobs_leave_the_process_wide_torch_thread_count_alone(mods, monkeypatch):
    """torch.set_num_threads is process-wide: the app sets it once at start (see the next
    test), and a job runs with it and never sets or restores it (requests run concurrently)."""
    import torch

    from polyviz.pages import train as train_page
    from polyviz.pages.train import TrainState

    seen, calls = [], []
    real = train_page.train_for_state

    def spy(state, on_progress=None, user=None):
        seen.append(torch.get_num_threads())
        return real(state, on_progress, user)

    state, _ = st.validate(TrainState, {"n": 100, "steps": 20, "seed": 3})
    mods[3].cache.delete(mods[2].run_key(state.training_fields()))
    monkeypatch.setattr(train_page, "train_for_state", spy)
    monkeypatch.setattr(torch, "set_num_threads", calls.append)
    assert run_training_job(new_job(state, "train")).percent == "100"
    assert seen == [1] and calls == []


def test_the_app_sets_one_torch_thread_when_it_starts(tmp_path):
    import os
    import subprocess
    import sys

    code = "import torch; torch.set_num_threads(2); import app; print(torch.get_num_threads())"
    env = {**os.environ, "POLYVIZ_DATA_DIR": str(tmp_path)}
    env.pop("POLYVIZ_REDIS_URL", None)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env,
                          cwd=str(__import__("pathlib").Path(__file__).resolve().parent.parent))
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "1"


# --- the stored model: loader, download, links ------------------------------------------------

def test_load_run_by_key_or_id(mods, spiral_run):
    _cb, _ids, store, services = mods
    from polyviz.models import layer_weights

    key = spiral_run["key"]
    run, again = store.load_run(key), store.load_run(store.model_id(key))
    assert run is not None and again is not None
    assert run.data.name == "spiral" and run.query == st.to_query(spiral_run["state"])
    params, same = run.params, again.params
    assert params.config.width == 3 and params.config.depth == 2
    assert np.array_equal(params.flat.numpy(), same.flat.numpy())
    w, b = layer_weights(params, 1)
    assert w.shape == (3, 3) and b.shape == (3,)
    for bad in (None, "", "nope", "0" * 40, "polyviz-1:other:" + "0" * 40, "../../etc/passwd", 5, {"k": 1},
                "a" * 5000):
        assert store.load_run(bad) is None
    # a damaged record is a miss, not an error
    damaged = dict(services.cache_get(key), safetensors=b"not safetensors")
    fake = "polyviz-1:train-run:" + "d" * 40
    services.cache_set(fake, damaged)
    assert store.load_run(fake) is None
    # so is a record of another format (older code) or one with a field missing
    for stale in (dict(services.cache_get(key), format="polyviz-train-run-1"),
                  {k: v for k, v in services.cache_get(key).items() if k != "history"}):
        services.cache_set(fake, stale)
        assert store.load_run(fake) is None
    out = _cb.render_results(fake, fake)
    assert "no longer in the cache" in out[6] and out[8] is True


def test_run_keys_change_with_the_record_format_and_the_code_version(mods, monkeypatch):
    """A record written by older code is never found under a new key."""
    import polyviz

    _cb, _ids, store, _services = mods
    fields = spiral_state().training_fields()
    key = store.run_key(fields)
    assert key == store.run_key(dict(fields)) and key.startswith("polyviz-1:train-run:")
    monkeypatch.setattr(store, "RUN_FORMAT", "polyviz-train-run-999")
    assert store.run_key(fields) != key
    monkeypatch.undo()
    monkeypatch.setattr(polyviz, "__version__", "999.0")
    assert store.run_key(fields) != key


def test_download_is_a_zip_that_loads_back_with_identical_predictions(mods, spiral_run, tmp_path):
    cb, _ids, store, _services = mods
    from safetensors.torch import load_file

    from polyviz.models import predict_proba
    from polyviz.pages.train import load_data
    from polyviz.records import load_model

    data, status = cb.download_model(1, spiral_run["key"])
    assert status is cb.no_update and data["filename"].endswith(".zip")
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(data["content"])))
    assert set(archive.namelist()) == {"model.safetensors", "model.json", "README.txt"}
    archive.extractall(tmp_path)
    loaded = load_model(tmp_path / "model")
    tensors = load_file(str(tmp_path / "model.safetensors"))
    assert set(tensors) == {"0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"}
    doc = json.loads((tmp_path / "model.json").read_text())
    assert doc["model"]["activation"] == "u_eps" and doc["extra"]["data"]["name"] == "spiral"
    cached = store.load_run(spiral_run["key"]).params
    Xtr, Xte, _ytr, yte = load_data(spiral_run["state"])
    np.testing.assert_array_equal(predict_proba(loaded, Xte), predict_proba(cached, Xte))
    assert np.mean((predict_proba(loaded, Xte) > 0.5) == yte) >= 0.97
    # nothing cached under a key: words, not an error
    data, status = cb.download_model(1, "polyviz-1:train-run:" + "0" * 40)
    assert data is cb.no_update and "no longer in the cache" in status


def test_render_results_draws_every_figure_and_links_to_the_sphere(mods, spiral_run):
    cb, _ids, store, _services = mods
    key = spiral_run["key"]
    curves, boundary, anim, ckpt, confusion, confusion_style, summary, links, download_disabled, shown, class_name, \
        hint = cb.render_results(key, key)
    assert confusion is cb.no_update and confusion_style == {"display": "none"}  # binary: no confusion matrix
    assert curves["layout"]["meta"]["phase_transitions"] == spiral_run_record(mods, key)["phase_transitions"]
    assert boundary["data"][0]["type"] == "heatmap"
    assert len(anim["frames"]) == 12 * 2 + 1 + 24 and anim["layout"]["updatemenus"][0]["buttons"][0]["label"] == "▶"
    assert len(ckpt["frames"]) >= 30 and "phase transition at step" in ckpt["layout"]["title"]["text"]
    assert download_disabled is False and shown == key and class_name == "panels results" and hint is cb.no_update
    hrefs = [link.href for link in links if hasattr(link, "href")]
    model = store.model_id(key)
    train = urlencode([("train", store.load_run(key).query)])  # what retrains it after it expired
    assert hrefs == [f"/sphere?source=trained&model={model}&layer=1&{train}"]  # layer 2: the one-neuron output
    # results of other settings are shown greyed out
    assert cb.render_results(key, "polyviz-1:train-run:" + "1" * 40)[10] == "panels results stale"
    assert cb.render_results(None, None) == (cb.no_update,) * 12
    assert cb.render_results("garbage", None) == (cb.no_update,) * 12


def spiral_run_record(mods, key):
    return mods[3].cache_get(key)


def test_opening_a_cached_link_shows_the_results_at_once(mods, spiral_run):
    cb, *_ = mods
    out = cb.sync_state(*controls_of(spiral_run["state"]), [], None, None)
    assert out[3] == spiral_run["key"] and "trained before" in out[5]
    # already shown: no second download of the figures
    assert cb.sync_state(*controls_of(spiral_run["state"]), [], spiral_run["key"], None)[3] is cb.no_update


def test_animation_payload_is_bounded(mods, spiral_run):
    from plotly.io.json import to_json_plotly

    from polyviz.pages.train import run_figures

    _cb, _ids, store, _services = mods
    figures = run_figures(spiral_run["state"], store.load_run(spiral_run["key"]))
    sizes = {name: len(to_json_plotly(spec)) for name, spec in figures.items()}
    assert sizes["animation"] < 1_000_000 and sizes["checkpoints"] < 600_000 and sum(sizes.values()) < 2_000_000


# --- watchdog ------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, words", [
    ("train", ["training job stopped unexpectedly after step 1,200", "Press Train to start it again"]),
    ("sweep", ["seed sweep stopped unexpectedly after step 1,200", "Sweep k seeds"])])
def test_watchdog_reports_a_stale_heartbeat_in_words(mods, kind, words):
    """A lost job's words; its button back, Cancel off and its last progress line hidden."""
    from callbacks import sweep as sweep_callbacks
    from services import jobs

    cb, _ids, _store, services = mods
    watchdog = cb.train_watchdog if kind == "train" else sweep_callbacks.sweep_watchdog
    job = new_job(spiral_state(), kind)
    services.cache_set(jobs.heartbeat_key(job["id"]),
                       {"job": job["id"], "kind": kind, "phase": "running", "beat": time.time() - 60, "step": 1200})
    message, disabled, button_disabled, cancel_disabled, live_style = watchdog(3, job)
    assert all(w in message for w in words), message
    assert "60 s" in message or "61 s" in message
    assert disabled is True and button_disabled is False and cancel_disabled is True
    assert live_style == {"display": "none"}


def test_watchdog_is_quiet_while_the_job_is_alive_or_done(mods):
    from services import jobs

    cb, _ids, _store, _services = mods
    job = new_job(spiral_state(), "train")
    jobs.write_heartbeat(job["id"], "train", "running", step=5)
    assert cb.train_watchdog(1, job) == (cb.no_update,) * 5
    jobs.write_heartbeat(job["id"], "train", "done")
    assert cb.train_watchdog(2, job) == (cb.no_update, True, cb.no_update, cb.no_update, cb.no_update)
    jobs.write_heartbeat(job["id"], "train", "queued")
    assert jobs.watchdog_verdict(job) == (False, None)
    stop, message = jobs.watchdog_verdict(job, now=time.time() + jobs.QUEUE_GRACE_S + 5)
    assert stop and "did not start" in message
    # a job that never wrote a heartbeat
    ghost = new_job(spiral_state(), "sweep")
    ghost["started"] = time.time() - 1000
    stop, message = jobs.watchdog_verdict(ghost)
    assert stop and "seed sweep never reported back" in message
    for bad in (None, "x", {"id": 5}, [1, 2]):
        assert cb.train_watchdog(1, bad) == (cb.no_update, True, cb.no_update, cb.no_update, cb.no_update)


@pytest.mark.parametrize("kind, words", [("train", "Cancelled. Press Train to start again."),
                                         ("sweep", "Cancelled.")])
def test_cancel_marks_the_heartbeat(mods, kind, words):
    from callbacks import sweep as sweep_callbacks
    from services import jobs

    cb, *_ = mods
    cancel = cb.cancel_training if kind == "train" else sweep_callbacks.cancel_sweep
    watchdog = cb.train_watchdog if kind == "train" else sweep_callbacks.sweep_watchdog
    job = new_job(spiral_state(), kind)
    jobs.write_heartbeat(job["id"], kind, "running")
    assert cancel(1, job) == (words, True, "0")
    assert jobs.watchdog_verdict(job) == (True, None)
    assert watchdog(2, job) == (cb.no_update, True, cb.no_update, cb.no_update, cb.no_update)  # it stops quietly


# --- seed sweep -------------------------------------------------------------------------------

def test_sweep_job_and_opening_a_seed(mods):
    from callbacks import sweep as sweep_callbacks

    cb, _ids, store, services = mods
    from polyviz.pages.train import TrainState

    state, _ = st.validate(TrainState, {"n": 200, "steps": 300, "k": 6})
    key = store.sweep_key(state.sweep_fields())
    forget(services, key)
    out = run_sweep_job(new_job(state, "sweep"))
    assert out.key == key and out.percent == "100" and out.status.startswith("6 seeds trained")
    figure = sweep_callbacks.render_sweep(key)
    # plain lists: Dash's clickData takes the seed from the figure as sent
    seeds = sorted(s for trace in figure["data"] if "customdata" in trace for s in trace["customdata"])
    assert seeds == list(range(6))
    assert run_sweep_job(new_job(state, "sweep")).status.startswith("Opened the cached sweep")
    assert cb.clicked_seed({"points": [{"curveNumber": 0, "customdata": 3, "x": 100, "y": 0.9}]}) == 3
    # a clicked seed opens as the sweep's own model: same accuracy and transition as the sweep showed
    import dataclasses

    from services import jobs

    record = store.load_sweep(key)
    for seed in (1, 3, 5):
        seed_state = dataclasses.replace(state, seed=seed, origin="sweep")
        run_key = jobs.cached_run(seed_state)
        assert run_key == store.run_key(seed_state.training_fields())
        run = store.load_run(run_key)
        assert run.sweep_seeds == 6 and run.final_test_acc == record.final_test_acc[seed]
        assert (run.phase_transitions[:1] or [-1]) == [record.transition_step[seed]]
        assert "origin=sweep" in run.query
        assert "as the 6-seed sweep trained it" in str(cb.summary_children(run, seed_state))
    # over the page's own parse: a seed the sweep did not train is trained on its own, with a notice
    from polyviz.pages.train import state_from_link

    other, notices, _ = state_from_link(n="200", steps="300", k="6", seed="9", origin="sweep")
    assert other.origin == "run" and any("origin = sweep needs a seed the sweep trained" in n for n in notices)

    for bad in (None, {}, {"points": []}, {"points": [{"customdata": "x"}]}, {"points": [{"customdata": -1}]},
                {"points": [{"customdata": 1.5}]}, {"points": [{"customdata": True}]}):
        assert cb.clicked_seed(bad) is None


def test_grouped_layernorm_groups_are_checked_with_a_notice(mods):
    from polyviz.pages.train import model_config, state_from_link

    state, notices, _ = state_from_link(act="group_layernorm", width="6", groups="4")
    assert state.groups == 3 and any("groups = 4 does not split width 6" in n and "1, 2, 3" in n for n in notices)
    assert model_config(state).groups == 3 and "groups=3" in st.to_query(state)
    plain, _, _ = state_from_link(act="relu", groups="3")
    assert plain.groups == 1
    for act in ("dyt", "none", "group_layernorm"):
        assert state_from_link(act=act)[0].act == act


# --- over HTTP -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def deps(client):
    return dash_http.dependencies(client)


def test_train_callbacks_are_registered_as_designed(deps):
    background = [d for d in deps if d.get("background")]
    outputs = " ".join(d["output"] for d in background)
    assert "tr-result-key.data" in outputs and "tr-sweep-key.data" in outputs
    train = next(d for d in background if "tr-result-key.data" in d["output"])
    assert [i["id"] for i in train["inputs"]] == ["tr-train-job"]
    watchdog = dash_http.find_callback(deps, "tr-train", "disabled")
    assert watchdog["inputs"][0] == {"id": "tr-train-watchdog", "property": "n_intervals"}


def sync_values(**overrides):
    from polyviz.pages.train import control_values

    values = {f"{cid}.value": v for cid, v in zip(
        ["tr-dataset", "tr-noise", "tr-n", "tr-data-seed", "tr-ratio", "tr-depth", "tr-width", "tr-act", "tr-log-eps",
         "tr-log-lr", "tr-steps", "tr-batch", "tr-seed", "tr-k", "tr-origin", "tr-groups", "tr-architecture"], control_values(spiral_state()))}
    values.update(overrides)
    return values


def test_http_limits_give_notices_never_a_500(client, deps):
    dep = dash_http.find_callback(deps, "tr-query", "data")
    bad = {"tr-n.value": 10**9, "tr-width.value": 100, "tr-depth.value": 50, "tr-steps.value": 10**6,
           "tr-k.value": 1000}
    response = dash_http.post(client, dash_http.payload(dep, sync_values(**bad), ["tr-n.value"]))
    assert response.status_code == 200
    body = response.get_json()["response"]
    notices = " ".join(item["props"]["children"] for item in body["tr-notices"]["children"])
    for field, text in LIMIT_NOTICES.items():
        assert text in notices, field
    assert "n=20000" in body["tr-query"]["data"]


def test_http_train_press_starts_a_job(client, deps, mods):
    from services import jobs

    cb, _ids, store, services = mods
    from polyviz.pages.train import TrainState

    dep = dash_http.find_callback(deps, "tr-train-job", "data")
    values = sync_values(**{"tr-train.n_clicks": 1, "tr-seed.value": 123456, "tr-steps.value": 50})
    state, _ = st.validate(TrainState, {**spiral_state().training_fields(), "seed": 123456, "steps": 50})
    forget(services, store.run_key(state.training_fields()))
    response = dash_http.post(client, dash_http.payload(dep, values, ["tr-train.n_clicks"]))
    assert response.status_code == 200
    body = response.get_json()["response"]
    job = body["tr-train-job"]["data"]
    assert re.fullmatch(r"[0-9a-f]{32}", job["id"]) and "seed=123456" in job["query"]
    assert services.cache_get(jobs.heartbeat_key(job["id"]))["phase"] == "queued"


def test_http_clicking_a_sweep_seed_opens_it(client, deps, mods):
    cb, _ids, store, services = mods
    dep = dash_http.find_callback(deps, "tr-train-job", "data")
    click = {"points": [{"curveNumber": 0, "pointNumber": 2, "customdata": 987654, "x": 1500, "y": 0.99}]}
    values = sync_values(**{"tr-sweep-fig.clickData": click, "tr-steps.value": 40})
    response = dash_http.post(client, dash_http.payload(dep, values, ["tr-sweep-fig.clickData"]))
    assert response.status_code == 200
    body = response.get_json()["response"]
    assert body["tr-seed"]["value"] == 987654
    assert "seed=987654" in body["tr-train-job"]["data"]["query"]
    assert body["tr-origin"]["value"] == "run"  # not a seed of the 64-seed sweep: trained on its own
    values["tr-sweep-fig.clickData"] = {"points": [{"curveNumber": 0, "pointNumber": 2, "customdata": 2}]}
    body = dash_http.post(client, dash_http.payload(dep, values, ["tr-sweep-fig.clickData"])).get_json()["response"]
    assert body["tr-seed"]["value"] == 2 and body["tr-origin"]["value"] == "sweep"
    # a click on the histogram (no seed) does nothing
    values["tr-sweep-fig.clickData"] = {"points": [{"curveNumber": 4, "x": 3, "y": 0.9}]}
    response = dash_http.post(client, dash_http.payload(dep, values, ["tr-sweep-fig.clickData"]))
    assert response.status_code in (200, 204)
    assert response.status_code == 204 or "tr-train-job" not in response.get_json().get("response", {})


def _end_id(client, path="/train"):
    html = client.get(path).get_data(as_text=True)
    return re.search(r'"end_id":"([^"]+)"', html).group(1)


def test_http_background_job_runs_and_caches(client, deps, mods):
    """The real background callback over HTTP, as the browser drives it: start, poll, result."""
    cb, _ids, store, services = mods
    from polyviz.pages.train import TrainState

    state, _ = st.validate(TrainState, {"n": 300, "steps": 300, "seed": 77, "data_seed": 77})
    key = store.run_key(state.training_fields())
    forget(services, key)
    job = new_job(state, "train")
    dep = next(d for d in deps if d.get("background") and "tr-result-key.data" in d["output"])
    body = dash_http.payload(dep, {"tr-train-job.data": job}, ["tr-train-job.data"])
    end_id = _end_id(client)
    first = client.post(f"/_dash-update-component?endId={end_id}", data=json.dumps(body),
                        headers={"Content-Type": "application/json"})
    assert first.status_code == 200
    handles = first.get_json()
    assert "cacheKey" in handles and "job" in handles
    deadline = time.time() + 60
    while time.time() < deadline:
        poll = client.post(f"/_dash-update-component?endId={end_id}&cacheKey={handles['cacheKey']}"
                           f"&job={handles['job']}", data=json.dumps(body), headers={"Content-Type": "application/json"})
        assert poll.status_code == 200
        data = poll.get_json()
        if "response" in data:
            break
        time.sleep(0.2)
    else:
        pytest.fail("the background job did not finish within 60 s")
    values = list(data["response"].values())
    assert any(v.get("data") == key for v in values)
    assert store.load_run(key) is not None


def test_http_render_and_download(client, deps, spiral_run):
    dep = dash_http.find_callback(deps, "tr-animation", "figure")
    response = dash_http.post(client, dash_http.payload(dep, {"tr-result-key.data": spiral_run["key"],
                                                              "tr-run-key.data": spiral_run["key"]},
                                                        ["tr-result-key.data"]))
    assert response.status_code == 200
    body = response.get_json()["response"]
    assert len(body["tr-animation"]["figure"]["frames"]) == 49
    dep = dash_http.find_callback(deps, "tr-download", "data")
    response = dash_http.post(client, dash_http.payload(dep, {"tr-download-button.n_clicks": 1,
                                                              "tr-shown-key.data": spiral_run["key"]},
                                                        ["tr-download-button.n_clicks"]))
    assert response.status_code == 200
    content = response.get_json()["response"]["tr-download"]["data"]
    assert zipfile.ZipFile(io.BytesIO(base64.b64decode(content["content"]))).testzip() is None


def test_http_preset_buttons_set_every_control(client, deps):
    dep = dash_http.find_callback(deps, "tr-preset-text", "children")
    response = dash_http.post(client, dash_http.payload(dep, {"tr-preset-octant_sphere.n_clicks": 1},
                                                        ["tr-preset-octant_sphere.n_clicks"]))
    assert response.status_code == 200
    body = response.get_json()["response"]
    assert body["tr-dataset"]["value"] == "octant_sphere" and body["tr-depth"]["value"] == 4
    assert body["tr-steps"]["value"] == 6000 and body["tr-seed"]["value"] == 23
    assert body["tr-log-lr"]["value"] == pytest.approx(np.log10(0.02), abs=1e-4)
    assert body["tr-preset-text"]["children"].startswith("Octant sphere")


def test_the_explanation_fits_the_chosen_data_set(client, deps):
    """Issue 9.6: "Why three u_ε neurons solve a spiral" was shown for every data set."""
    from layouts import train as ids

    def title(children):
        return children[0].children if hasattr(children[0], "children") else children[0]["props"]["children"]

    assert "spiral" in title(found_ids(ids.layout())[ids.EXPLAIN].children)
    found = found_ids(ids.layout(dataset="xor"))
    assert title(found[ids.EXPLAIN].children) == "Why XOR needs two u_ε layers"
    dep = dash_http.find_callback(deps, "tr-explain", "children")
    titles = {}
    from polyviz.datasets import DATASET_NAMES

    for dataset in DATASET_NAMES:  # digits showed the spiral's words
        response = dash_http.post(client, dash_http.payload(dep, {"tr-dataset.value": dataset}, ["tr-dataset.value"]))
        assert response.status_code == 200
        children = response.get_json()["response"]["tr-explain"]["children"]
        titles[dataset] = title(children)
        assert ("spiral" in titles[dataset]) == (dataset == "spiral")
    assert len(set(titles.values())) == len(DATASET_NAMES)  # each its own
    assert "digits" in titles["digits"]
    assert ids.explanation("not-a-data-set") == [] and ids.explanation(None) == []  # no other set's words
    # the page's first answer typesets its formulas once scrolled to (assets/app.js); the
    # explanation of a data set the user chose comes typeset at once
    text = found_ids(ids.layout())[ids.EXPLAIN_TEXT]
    assert text.mathjax is False and text.className == "lazy-math"
    assert children[1]["props"]["mathjax"] is True


def test_the_octant_preset_shows_the_plateau_its_text_promises():
    """Issue 9.6: the text promised plateaus that seed 0 did not show (no phase transition)."""
    import torch

    from polyviz.pages.train import PRESETS
    from polyviz.training import train_preset

    assert "plateau" in PRESETS["octant_sphere"]["text"]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result, _ = train_preset("octant_sphere", checkpoint_every=0)
    finally:
        torch.set_num_threads(threads)
    assert len(result.phase_transitions) >= 1
    first = result.phase_transitions[0]
    loss = np.asarray(result.history["train_loss"])
    assert loss[first - 300] > 2 * loss[min(first + 300, len(loss) - 1)]  # a plateau, then a drop
    assert result.history["test_acc"][-1] >= 0.95


def test_sphere_links_offer_only_the_layers_the_sphere_page_draws(mods):
    """Issue 9.4: the one-neuron output layer and layers fed by no sphere get no link."""
    from polyviz.models import ModelConfig

    cb, _ids, _store, _services = mods

    def links(**config):
        children = cb.sphere_links("polyviz-1:train-run:" + "ab" * 20, ModelConfig(**config))
        return [c.children for c in children if getattr(c, "href", None)], children[-1].children

    assert links(width=3, depth=2)[0] == ["Open layer 1 on the sphere page"]
    assert links(width=3, depth=4, activation="layernorm")[0] == [f"Open layer {k} on the sphere page" for k in (1, 2, 3)]
    texts, note = links(width=3, depth=2, activation="relu")
    assert texts == [] and "this model has none" in note


def test_architecture_control_is_validated_with_notices_and_in_the_url(mods):
    from polyviz.models import architecture_text
    from polyviz.pages.train import model_config, state_from_link

    state, notices, _ = state_from_link(architecture="preln", act="u_eps", width="1")
    assert state.architecture == "preln" and state.act == "relu" and state.width == 2
    assert any("act = u_eps cannot be the non-linearity of a pre-LN block" in n for n in notices)
    assert any("width = 1 is too small for a pre-LN block" in n for n in notices)
    assert "architecture=preln" in st.to_query(state)
    cfg = model_config(state)
    assert cfg.architecture == "preln" and cfg.n_layers == 2 * state.depth + 2
    assert "LayerNorm(x)" in architecture_text(cfg)
    bad, notices, _ = state_from_link(architecture="resnet")
    assert bad.architecture == "mlp" and any("architecture" in n and "mlp, preln" in n for n in notices)
    gelu, notices, _ = state_from_link(architecture="preln", act="gelu")
    assert gelu.act == "gelu" and not notices



def test_digits_preset_trains_and_draws_confusion_and_layer_embeddings(mods):
    from polyviz.pages.train import PRESETS, model_config, run_figures, state_from_link, train_for_state

    assert "digits" in PRESETS
    state, notices, preset = state_from_link(preset="digits")
    assert preset == "digits" and not notices and state.n == 1797 and state.n_train == 1438
    assert model_config(state).n_classes == 10
    result, data = train_for_state(state)
    assert result.final_test_accuracy >= 0.95
    specs = run_figures(state, result, data)
    cm = np.array(specs["confusion"]["data"][0]["text"]).astype(int)
    assert cm.shape == (10, 10) and cm.sum() == len(data[1])
    assert np.trace(cm) / cm.sum() == pytest.approx(result.final_test_accuracy)
    names = specs["animation"]["layout"]["meta"]["stage_names"]
    assert names[0] == "input (3-D projection of 64-D: PCA)" and "projection" in names[-1]
    assert len(specs["animation"]["data"]) == 10  # one trace per digit
    assert "No decision-boundary picture for 64-D input" in str(specs["boundary"])
    big, notices, _ = state_from_link(dataset="digits", n="5000")
    assert big.n == 1797 and any("n = 5000 does not fit the digits set" in n for n in notices)
