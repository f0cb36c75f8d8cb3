"""Typed records: a trained run and a sweep survive the trip through plain data exactly, the
model file and the cache share one encoder, and anything else is refused with a ValueError."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import torch

from polyviz.datasets import make_dataset, train_test_split
from polyviz.models import ModelConfig, predict_proba
from polyviz.records import (
    RUN_FORMAT,
    DataSource,
    SweepRecord,
    TrainedRun,
    decode_model,
    encode_model,
    load_model,
    save_model,
)
from polyviz.training import TrainConfig, seed_sweep, train
from services import plain_data

DATA = DataSource(name="moons", n=200, noise=0.1, seed=0, train_ratio=0.8)


@pytest.fixture(scope="module")
def split():
    X, y = make_dataset(DATA.name, DATA.n, DATA.noise, DATA.seed)
    return train_test_split(X, y, DATA.train_ratio, DATA.seed)


@pytest.fixture(scope="module")
def run(split):
    Xtr, Xte, ytr, yte = split
    result = train(ModelConfig(width=4, depth=2, activation="gelu"), TrainConfig(steps=120, checkpoint_every=40),
                   Xtr, ytr, Xte, yte)
    return TrainedRun.from_result(result, key="polyviz-1:train-run:" + "a" * 40, query="dataset=moons",
                                  fields={"dataset": "moons", "steps": 120}, data=DATA)


def plain(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(plain(v) for v in value)
    return value is None or isinstance(value, (bytes, str, int, float))


def test_a_trained_run_round_trips_through_plain_data(run, split):
    data = run.to_dict()
    assert plain(data) and data["format"] == RUN_FORMAT
    again = TrainedRun.from_dict(plain_data.loads(plain_data.dumps(data)))  # as the cache stores it
    assert again.config == run.config and torch.equal(again.params.flat, run.params.flat)
    assert again.data == DATA and again.train_config == run.train_config
    for name, values in run.history.items():
        np.testing.assert_array_equal(again.history[name], values)
    assert sorted(again.checkpoints) == [0, 40, 80, 120]
    for step, flat in run.checkpoints.items():
        np.testing.assert_array_equal(again.checkpoints[step], flat)
    assert (again.status, again.steps_done, again.final_test_acc) == (run.status, run.steps_done, run.final_test_acc)
    Xte = split[1]
    np.testing.assert_array_equal(predict_proba(again.params, Xte), predict_proba(run.params, Xte))


def test_the_model_file_the_download_and_the_cache_use_the_same_bytes(run, tmp_path):
    weights, document = encode_model(run.params, run.extra())
    tensor_path, json_path = save_model(tmp_path / "model", run.params, run.extra())
    assert tensor_path.read_bytes() == weights == run.to_dict()["safetensors"]
    assert json.loads(json_path.read_text()) == document == json.loads(run.to_dict()["model_json"])
    archive = zipfile.ZipFile(io.BytesIO(run.model_zip()))
    assert archive.read("model.safetensors") == weights
    assert json.loads(archive.read("model.json")) == document
    assert document["extra"]["data"]["name"] == "moons" and document["extra"]["metrics"]["steps_done"] == 120
    assert torch.equal(load_model(tmp_path / "model").flat, run.params.flat)


@pytest.mark.parametrize("damage", [
    lambda d: {**d, "format": "polyviz-train-run-1"},  # written by older code
    lambda d: {**d, "safetensors": b"not safetensors"},
    lambda d: {**d, "model_json": "{"},
    lambda d: {k: v for k, v in d.items() if k != "history"},
    lambda d: {**d, "checkpoints": {"steps": [0, 1], "flat": b"\x00" * 12}},
    lambda d: {**d, "data": {"name": "moons"}},
    lambda d: "a string",
])
def test_anything_else_is_refused_with_a_value_error(run, damage):
    with pytest.raises(ValueError):
        TrainedRun.from_dict(damage(run.to_dict()))


def test_decode_refuses_weights_of_another_shape(run):
    weights, document = encode_model(run.params)
    document = {**document, "model": {**document["model"], "width": 5}}
    with pytest.raises(ValueError, match="do not match the model configuration"):
        decode_model(weights, document)


def test_a_sweep_round_trips_with_its_diverged_seeds(split):
    Xtr, Xte, ytr, yte = split
    sweep = seed_sweep(ModelConfig(), TrainConfig(steps=60), Xtr, ytr, Xte, yte, n_seeds=4)
    sweep.final_test_acc[2] = np.nan  # as for a seed whose loss became non-finite
    record = SweepRecord.from_result(sweep, key="k", fields={"k": 4}, status="time_limit")
    data = record.to_dict()
    assert plain(data) and data["final_test_acc"][2] is None
    again = SweepRecord.from_dict(data)
    np.testing.assert_array_equal(again.final_test_acc, sweep.final_test_acc)
    np.testing.assert_array_equal(again.seeds, [0, 1, 2, 3])
    assert again.train_config.steps == 60 and again.status == "time_limit"
    with pytest.raises(ValueError, match="different lengths|bytes for shape"):
        SweepRecord.from_dict({**data, "seeds": [0, 1]})


def test_a_sweep_seed_opens_as_the_model_the_sweep_measured():
    """Issue 9 item 1: in a 64-seed sweep of the spiral preset, a seed opened from the sweep
    record has exactly the sweep's accuracy and phase-transition step (and its weights give
    that accuracy again); a seed trained on its own may differ, which is why the sweep keeps
    its own models."""
    import torch

    from polyviz.models import predict
    from polyviz.pages.train import PRESETS, TrainState, sweep_for_state
    from polyviz.state import validate
    from polyviz.training import detect_phase_transitions

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        state, _ = validate(TrainState, {**PRESETS["spiral"]["values"], "k": 64})
        sweep = sweep_for_state(state)
    finally:
        torch.set_num_threads(threads)
    record = SweepRecord.from_dict(SweepRecord.from_result(sweep, key="k", fields=state.sweep_fields()).to_dict())
    Xtr, Xte, ytr, yte = state_data(state)
    opened_with_transition = 0
    for seed in (0, 1, 6, 7, 12, 40):
        run = record.seed_run(seed, key="r", query="q", fields={}, data=state.data_source)
        again = TrainedRun.from_dict(run.to_dict())
        assert again.sweep_seeds == 64
        assert again.final_test_acc == sweep.final_test_acc[seed]
        assert again.final_train_acc == sweep.final_train_acc[seed]
        first = again.phase_transitions[0] if again.phase_transitions else -1
        assert first == sweep.transition_step[seed]
        assert detect_phase_transitions(again.history["train_loss"]) == sweep.phase_transitions[seed]
        assert float(np.mean(predict(again.params, Xte) == yte)) == sweep.final_test_acc[seed]
        assert sorted(again.checkpoints)[0] == 0 and sorted(again.checkpoints)[-1] == state.steps
        opened_with_transition += first >= 0
    assert opened_with_transition >= 1  # the check covers seeds that leave the plateau
    size = len(pickle_free_size(record.to_dict()))
    assert size < 2_500_000, size  # compact: the 64 seeds' curves, weights and checkpoints


def state_data(state):
    from polyviz.pages.train import load_data

    return load_data(state)


def pickle_free_size(data) -> bytes:
    """Bytes of the record's plain data (its bytes values plus the JSON of the rest)."""
    blobs = []

    def walk(value):
        if isinstance(value, (bytes, bytearray)):
            blobs.append(bytes(value))
            return None
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    rest = json.dumps(walk(data)).encode()
    return rest + b"".join(blobs)


def test_a_downloaded_zip_reads_back_and_anything_else_is_refused_in_words(run, split):
    from polyviz.records import read_model_zip

    params = read_model_zip(run.model_zip())
    assert params.config == run.config and torch.equal(params.flat, run.params.flat)
    Xte = split[1]
    np.testing.assert_array_equal(predict_proba(params, Xte), predict_proba(run.params, Xte))

    def zipped(files: dict) -> bytes:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, content in files.items():
                archive.writestr(name, content)
        return buffer.getvalue()

    download = zipfile.ZipFile(io.BytesIO(run.model_zip()))
    good = {name: download.read(name) for name in ("model.safetensors", "model.json")}
    marker = []

    class Planted:
        def __reduce__(self):
            return (marker.append, ("unpickled",))

    import pickle

    cases = {
        b"not a zip": "not a .zip",
        zipped({"model.pt": pickle.dumps(Planted()), "model.json": good["model.json"]}): "must hold",
        zipped({**good, "evil.pkl": pickle.dumps(Planted())}): "must hold",
        zipped({**good, "model.safetensors": pickle.dumps(Planted())}): "not readable safetensors",
        zipped({**good, "model.json": b"{"}): "damaged",
        zipped({**good, "model.json": b'{"format": "other"}'}): "not a polyviz model document",
        zipped({**good, "model.json": b'{"format": "polyviz-mlp-1"}'}): "not a polyviz model document",
        zipped({**good, "README.txt": b"\0" * (17 * 2**20)}): "larger than 16 MB",
        b"PK" + b"\0" * (17 * 2**20): "at most 16 MB",
    }
    for data, words in cases.items():
        with pytest.raises(ValueError, match=words):
            read_model_zip(data)
    assert marker == []  # nothing was ever unpickled


def test_a_damaged_zip_is_refused_in_words_whatever_bytes_are_hit(run):
    """Random byte damage anywhere in a downloaded .zip: read back, or a ValueError in words
    (zipfile and zlib raise EOFError, zlib.error, NotImplementedError... for some bytes)."""
    import random

    from polyviz.records import read_model_zip

    original = run.model_zip()
    rng = random.Random(0)
    outcomes = set()
    for _ in range(1500):
        data = bytearray(original)
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        try:
            read_model_zip(bytes(data))
            outcomes.add("read")
        except ValueError as error:
            outcomes.add(str(error).split(" (")[0][:30])
    assert "the .zip is damaged" in outcomes and "read" in outcomes
