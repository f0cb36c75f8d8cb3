"""Trained toy classifiers in the shared cache: the record format, its key, and loaders.

A finished training run is cached under a key made from its full configuration (every
training-relevant field of the /train page's validated state), so the same configuration
is found again by any gunicorn worker or Celery worker that shares the cache. The record
holds only plain values and bytes, never pickled objects:

    format          RUN_FORMAT
    key, query      the cache key and the page's canonical query string
    fields          the training-relevant fields (dict of str/int/float)
    config_json     the model's JSON document, exactly what polyviz.models.save_model writes
    safetensors     the model's weights as safetensors bytes (build_module's state dict)
    history         {name: float32 bytes} for step/train_loss/train_acc and
                    test_step/test_loss/test_acc (steps as int32)
    checkpoints     {"steps": [int], "flat": float32 bytes, shape (len(steps), P)}
    phase_transitions, status, message, steps_done, elapsed_s,
    final_train_acc, final_test_acc

Other pages use :func:`load_trained` (e.g. the sphere page's "trained" layer source:
``/sphere?source=trained&model=<model id>&layer=<k>``).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from urllib.parse import urlencode

import numpy as np

from callbacks import services
from polyviz.models import MLPParams, ModelConfig, build_module, params_from_module

RUN_FORMAT = "polyviz-train-run-1"
SWEEP_FORMAT = "polyviz-seed-sweep-1"
MODEL_FORMAT = "polyviz-mlp-1"  # the JSON document of polyviz.models.save_model
RUN_NAMESPACE = "train-run"
SWEEP_NAMESPACE = "train-sweep"
_ID = re.compile(r"^[0-9a-f]{40}$")
HISTORY_FIELDS = {"step": "i4", "train_loss": "f4", "train_acc": "f4", "test_step": "i4", "test_loss": "f4",
                  "test_acc": "f4"}
# Statuses whose result is final for its configuration (a run stopped by the time limit is
# not: pressing Train again trains it again).
FINAL_STATUSES = ("completed", "target_reached", "non_finite")


# -- keys ------------------------------------------------------------------------------------
def run_key(fields: dict) -> str:
    """The cache key of a training run: the same fields give the same key in every process."""
    return services.cache_key(RUN_NAMESPACE, RUN_FORMAT, dict(fields))


def sweep_key(fields: dict) -> str:
    return services.cache_key(SWEEP_NAMESPACE, SWEEP_FORMAT, dict(fields))


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
    key = f"{services.CACHE_VERSION}:{namespace}:{ident}"
    if ":" in value and value != key:
        return None
    return key


def sphere_href(key: str, layer: int) -> str:
    """Link to the sphere page showing Linear layer ``layer`` of the trained model."""
    return "/sphere?" + urlencode([("source", "trained"), ("model", model_id(key)), ("layer", int(layer))])


# -- encoding ----------------------------------------------------------------------------------
def _bytes(a, dtype: str) -> bytes:
    return np.ascontiguousarray(np.asarray(a), dtype=np.dtype(dtype).newbyteorder("<")).tobytes()


def _array(data, dtype: str) -> np.ndarray:
    if not isinstance(data, (bytes, bytearray)):
        raise ValueError("expected bytes")
    return np.frombuffer(bytes(data), dtype=np.dtype(dtype).newbyteorder("<")).astype(np.dtype(dtype))


def model_document(params: MLPParams, extra: dict) -> dict:
    """The JSON document save_model writes next to the weights."""
    return {"format": MODEL_FORMAT, "model": params.config.to_dict(), "extra": extra}


def safetensors_bytes(params: MLPParams) -> bytes:
    from safetensors.torch import save

    state = {k: v.detach().contiguous() for k, v in build_module(params.config, params.flat).state_dict().items()}
    return save(state, metadata={"format": MODEL_FORMAT})


def encode_run(key: str, query: str, fields: dict, result, extra: dict) -> dict:
    """The cache record of a finished :class:`polyviz.training.TrainResult`."""
    history = {name: _bytes(result.history[name], dtype) for name, dtype in HISTORY_FIELDS.items()}
    steps = sorted(int(s) for s in result.checkpoints)
    flat = (np.stack([np.asarray(result.checkpoints[s], dtype=np.float32) for s in steps]) if steps
            else np.zeros((0, result.params.config.param_count), np.float32))
    return {
        "format": RUN_FORMAT,
        "key": key,
        "query": query,
        "fields": dict(fields),
        "config_json": json.dumps(model_document(result.params, extra), sort_keys=True),
        "safetensors": safetensors_bytes(result.params),
        "history": history,
        "checkpoints": {"steps": steps, "flat": _bytes(flat, "f4")},
        "phase_transitions": [int(t) for t in result.phase_transitions],
        "status": str(result.status),
        "message": str(result.message),
        "steps_done": int(result.steps_done),
        "elapsed_s": float(result.elapsed_s),
        "final_train_acc": float(result.final_train_accuracy),
        "final_test_acc": None if result.final_test_accuracy is None else float(result.final_test_accuracy),
    }


# -- decoding ----------------------------------------------------------------------------------
def valid_record(record) -> bool:
    return (isinstance(record, dict) and record.get("format") == RUN_FORMAT
            and isinstance(record.get("safetensors"), (bytes, bytearray))
            and isinstance(record.get("config_json"), str) and isinstance(record.get("history"), dict)
            and isinstance(record.get("checkpoints"), dict) and isinstance(record.get("fields"), dict))


def model_config(record: dict) -> ModelConfig:
    doc = json.loads(record["config_json"])
    if doc.get("format") != MODEL_FORMAT:
        raise ValueError(f"not a polyviz model document (format {doc.get('format')!r})")
    return ModelConfig.from_dict(doc["model"])


def decode_params(record: dict) -> MLPParams:
    """The model of a record, read back from its safetensors bytes and JSON config."""
    from safetensors.torch import load

    config = model_config(record)
    state = load(bytes(record["safetensors"]))
    module = build_module(config)
    if set(module.state_dict()) != set(state):
        raise ValueError("the weights do not match the model configuration")
    module = module.to(next(iter(state.values())).dtype)
    module.load_state_dict(state)
    params = params_from_module(module, config)
    params.meta = json.loads(record["config_json"]).get("extra") or {}
    return params


def decode_history(record: dict) -> dict[str, np.ndarray]:
    return {name: _array(record["history"][name], dtype) for name, dtype in HISTORY_FIELDS.items()}


def decode_checkpoints(record: dict, config: ModelConfig) -> dict[int, np.ndarray]:
    steps = [int(s) for s in record["checkpoints"]["steps"]]
    flat = _array(record["checkpoints"]["flat"], "f4")
    if len(steps) == 0:
        return {}
    flat = flat.reshape(len(steps), config.param_count)
    return {s: flat[i].copy() for i, s in enumerate(steps)}


def load_record(key, required: bool = False) -> dict | None:
    """The cached record for a run key (or model id), or None when it is not cached, the key
    is not a run key, or the record is not one. ``required``: raise CacheUnavailable when the
    cache is down instead of answering None."""
    full = key_from_id(key)
    if full is None:
        return None
    record = services.cache_get(full, required=required)
    if not valid_record(record):
        return None
    try:
        decode_params(record)  # a damaged record is a miss: it is trained again
    except Exception:
        return None
    return record


def load_trained(key) -> MLPParams | None:
    """The trained model cached under ``key`` (a run key or its 40-hex model id), or None.

    For other pages: the sphere page's ``source=trained&model=<id>&layer=<k>`` reads the
    model with this and takes ``polyviz.models.layer_weights(params, k)``.
    """
    record = load_record(key)
    return None if record is None else decode_params(record)


# -- export ------------------------------------------------------------------------------------
README = """A polyviz toy classifier, trained on the /train page.

model.safetensors  the weights: the state dict of polyviz.models.build_module(config)
                   ("0.weight", "0.bias", "2.weight", ...; Linear layers at even indices)
model.json         {"format": "polyviz-mlp-1", "model": ModelConfig, "extra": data, training, metrics}

Load it back:

    from polyviz.models import load_model, build_module, predict_proba
    params = load_model("model")          # reads model.safetensors and model.json
    module = build_module(params.config, params)   # a torch.nn.Sequential

or with safetensors alone:  safetensors.torch.load_file("model.safetensors")
"""


def model_zip(record: dict) -> bytes:
    """A .zip holding model.safetensors, model.json (load with polyviz.models.load_model("model"))
    and a README."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("model.safetensors", bytes(record["safetensors"]))
        archive.writestr("model.json", json.dumps(json.loads(record["config_json"]), indent=2, sort_keys=True))
        archive.writestr("README.txt", README)
    return buffer.getvalue()
