"""Trained runs and seed sweeps in the shared cache: their keys, and loading and storing them
as typed records (:class:`polyviz.records.TrainedRun`, :class:`polyviz.records.SweepRecord`).

A run is cached under a key made from its full configuration (every training-relevant field
of the /train page's validated state) and the code that made it (the record format and
polyviz's version), so the same configuration is found again by any gunicorn or Celery
worker that shares the cache, and a record written by older code is never read back. The
cache holds the records' plain data (``to_dict``), never pickled objects of ours.

Other pages read a trained model with :func:`load_run` (e.g. the sphere page's "trained"
layer source: ``/sphere?source=trained&model=<model id>&layer=<k>``, see :func:`sphere_href`).

A model a user uploads (the .zip of "Download model", read by
:func:`polyviz.records.read_model_zip`) is kept by content hash (:func:`store_uploaded_model`):
its id is a model id too, so the same link opens it in any worker that shares the cache.
"""

from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import urlencode

import polyviz
from polyviz.models import MLPParams
from polyviz.records import RUN_FORMAT, SWEEP_FORMAT, SweepRecord, TrainedRun, decode_model, encode_model
from services import cache

RUN_NAMESPACE = "train-run"
SWEEP_NAMESPACE = "train-sweep"
UPLOAD_NAMESPACE = "uploaded-model"
_ID = re.compile(r"^[0-9a-f]{40}$")
# Statuses whose result is final for its configuration (a run stopped by the time limit is
# not: pressing Train again trains it again).
FINAL_STATUSES = ("completed", "target_reached", "non_finite")


# -- keys ------------------------------------------------------------------------------------
def run_key(fields: dict) -> str:
    """The cache key of a training run: the same fields give the same key in every process;
    another record format or polyviz version gives another key."""
    return cache.cache_key(RUN_NAMESPACE, RUN_FORMAT, polyviz.__version__, dict(fields))


def sweep_key(fields: dict) -> str:
    return cache.cache_key(SWEEP_NAMESPACE, SWEEP_FORMAT, polyviz.__version__, dict(fields))


def model_id(key: str) -> str:
    """The short, URL-safe part of a run key (40 hex digits)."""
    return key.rsplit(":", 1)[-1]


def key_from_id(value, namespace: str = RUN_NAMESPACE) -> str | None:
    """A full cache key from a run key or its model id; None for anything else (links and
    payloads can hold anything)."""
    if not isinstance(value, str) or len(value) > 200:
        return None
    ident = value.rsplit(":", 1)[-1]
    if not _ID.match(ident):
        return None
    key = f"{cache.CACHE_VERSION}:{namespace}:{ident}"
    if ":" in value and value != key:
        return None
    return key


def sphere_href(key: str, layer: int, train_query: str = "") -> str:
    """Link to the sphere page showing Linear layer ``layer`` of the trained model. With
    ``train_query`` (the run's /train query) the link also carries what trains the model
    again, so it keeps working after the run expired or was evicted (:func:`retrain_state`)."""
    pairs = [("source", "trained"), ("model", model_id(key)), ("layer", int(layer))]
    return "/sphere?" + urlencode(pairs + ([("train", train_query)] if train_query else []))


def retrain_state(model, train_query):
    """The /train state that trains model ``model`` again, from the query a link carries; None
    when the query is missing, or trains another model (its run key is not this model's)."""
    from polyviz import state as st
    from polyviz.pages.train import TrainState

    if not isinstance(model, str) or not _ID.match(model) or not isinstance(train_query, str) or not train_query:
        return None
    state, _notices = st.from_query(TrainState, train_query[:4000])
    return state if model_id(run_key(state.training_fields())) == model else None


# -- loading and storing ---------------------------------------------------------------------
def _load(key, namespace: str, record_type, required: bool):
    full = key_from_id(key, namespace)
    if full is None:
        return None
    data = cache.cache_get(full, required=required)
    if data is None:
        return None
    try:
        return record_type.from_dict(data)
    except ValueError:
        return None


def load_run(key, required: bool = False) -> TrainedRun | None:
    """The cached run for a run key (or model id), or None when it is not cached, the key is
    not a run key, or the cached value is not a readable record of this code's format (a
    damaged record is a miss: it is trained again). ``required``: raise
    CacheUnavailable when the cache is down instead of answering None."""
    return _load(key, RUN_NAMESPACE, TrainedRun, required)


def store_run(run: TrainedRun, required: bool = True) -> bool:
    return cache.cache_set(run.key, run.to_dict(), required=required)


def load_sweep(key, required: bool = False) -> SweepRecord | None:
    """The cached sweep for a sweep key, or None (as :func:`load_run`)."""
    return _load(key, SWEEP_NAMESPACE, SweepRecord, required)


def store_sweep(sweep: SweepRecord, timeout: int | None = None, required: bool = True) -> bool:
    return cache.cache_set(sweep.key, sweep.to_dict(), timeout=timeout, required=required)


def open_sweep_seed(state, required: bool = False) -> TrainedRun | None:
    """The /train state's seed as its cached sweep trained it (``state.origin == "sweep"``):
    the sweep record's own weights and curves as a run, cached under the state's run key so
    a link opens it again. None when the state is not a sweep seed or the sweep is not cached."""
    from polyviz import state as st

    if getattr(state, "origin", "run") != "sweep":
        return None
    sweep = load_sweep(sweep_key(state.sweep_fields()), required=required)
    if sweep is None:
        return None
    key = run_key(state.training_fields())
    run = sweep.seed_run(state.seed, key=key, query=st.to_query(state), fields=state.training_fields(),
                         data=state.data_source)
    if run is not None:
        store_run(run, required=required)
    return run


# -- uploaded models -------------------------------------------------------------------------
def store_uploaded_model(params: MLPParams, required: bool = True) -> str:
    """Keep an uploaded model in the cache under the hash of its weights and model document
    (the same model gives the same id, whatever the .zip's file dates); returns its model id."""
    weights, document = encode_model(params)
    model_json = json.dumps(document, sort_keys=True)
    key = cache.cache_key(UPLOAD_NAMESPACE, hashlib.sha256(weights).hexdigest(), model_json)
    cache.cache_set(key, {"safetensors": weights, "model_json": model_json}, required=required)
    return model_id(key)


def load_uploaded_model(model, required: bool = False) -> MLPParams | None:
    """The uploaded model with this id, or None (not a model id, not cached, or damaged: the
    cache holds only bytes and a JSON string, decoded as an upload is, never unpickled)."""
    full = key_from_id(model, UPLOAD_NAMESPACE)
    if full is None:
        return None
    record = cache.cache_get(full, required=required)
    try:
        return decode_model(record["safetensors"], json.loads(record["model_json"]))
    except (TypeError, KeyError, ValueError):
        return None
