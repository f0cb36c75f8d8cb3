"""Typed records: the model file, a trained run and a seed sweep, as they travel between
pages, processes and the cache.

* **The model file** is ``<name>.safetensors`` (the state dict of
  :func:`polyviz.models.build_module`: ``"0.weight"``, ``"0.bias"``, ``"2.weight"``, ...) next
  to ``<name>.json`` (``{"format": MODEL_FORMAT, "model": ModelConfig, "extra": ...}``).
  :func:`encode_model` / :func:`decode_model` are the one encoder and decoder of it: the files
  of :func:`save_model` / :func:`load_model`, the weights a :class:`TrainedRun` keeps in the
  cache and the /train page's download (:meth:`TrainedRun.model_zip`) all go through them.
* :class:`TrainedRun`: a finished training run of the /train page (model, curves,
  checkpoints, how it ended); the sphere page reads trained layers from it.
* :class:`SweepRecord`: the per-seed outcome of a seed sweep, with each seed's final weights,
  curves and (within a size budget) checkpoints, so that opening a seed shows the very model
  the sweep measured (:meth:`SweepRecord.seed_run`), not a retrained one.

``to_dict`` gives plain data only (str, int, float, None, bytes, and lists and dicts of
them), never a pickled object; ``from_dict`` checks what it reads and raises ValueError for
anything else. Each record type carries a format version (``RUN_FORMAT``,
``SWEEP_FORMAT``): change it when the layout or the meaning of a record changes, so that
records written by older code are never read as new ones (the cache keys include it too).
"""

from __future__ import annotations

import io
import json
import math
import pathlib
import zipfile
import zlib
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from polyviz.models import MLPParams, ModelConfig, _as_params, build_module, params_from_module
from polyviz.training.config import TrainConfig
from polyviz.training.sweep import SweepResult

MODEL_FORMAT = "polyviz-mlp-1"
RUN_FORMAT = "polyviz-train-run-3"
SWEEP_FORMAT = "polyviz-seed-sweep-3"
# A sweep record keeps at most this many checkpoint numbers (seeds x checkpoints x
# parameters, float32): 4,000,000 is 16 MB before compression. Larger sweeps keep fewer.
SWEEP_CHECKPOINT_BUDGET = 4_000_000


# ------------------------------------------------------------------------------------------
# the model file: safetensors + JSON (no pickle)
# ------------------------------------------------------------------------------------------
def encode_model(params, extra: dict | None = None) -> tuple[bytes, dict]:
    """(safetensors bytes, JSON document) of a model (MLPParams, a TrainResult or a module
    from build_module). ``extra`` must be JSON-serialisable; by default the model's meta."""
    from safetensors.torch import save

    p = _as_params(params)
    state = {k: v.detach().contiguous() for k, v in build_module(p.config, p.flat).state_dict().items()}
    document = {"format": MODEL_FORMAT, "model": p.config.to_dict(), "extra": extra if extra is not None else p.meta}
    return save(state, metadata={"format": MODEL_FORMAT}), document


def decode_model(weights: bytes, document: dict) -> MLPParams:
    """The model of :func:`encode_model`'s output; the document's ``extra`` becomes ``meta``."""
    from safetensors.torch import load

    if not isinstance(document, dict) or document.get("format") != MODEL_FORMAT:
        found = document.get("format") if isinstance(document, dict) else type(document).__name__
        raise ValueError(f"not a polyviz model document (format {found!r})")
    config = ModelConfig.from_dict(document["model"])
    try:
        state = load(bytes(weights))
    except Exception as error:  # safetensors' own error type for damaged bytes
        raise ValueError(f"the weights are not readable safetensors ({error})") from None
    module = build_module(config)
    expected = {name: tuple(t.shape) for name, t in module.state_dict().items()}
    found = {name: tuple(t.shape) for name, t in state.items()}
    if found != expected:
        raise ValueError(f"the weights do not match the model configuration: {found} instead of {expected}")
    module = module.to(next(iter(state.values())).dtype)
    module.load_state_dict(state)
    params = params_from_module(module, config)
    params.meta = document.get("extra") or {}
    return params


def _paths(path) -> tuple[pathlib.Path, pathlib.Path]:
    p = pathlib.Path(path)
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_name(p.name + ".safetensors"), p.with_name(p.name + ".json")


def save_model(path, params, extra: dict | None = None) -> tuple[pathlib.Path, pathlib.Path]:
    """Write ``<path>.safetensors`` and ``<path>.json`` (see the module docstring). ``extra``
    must be JSON-serialisable (e.g. training config and final metrics). Returns both paths."""
    tensor_path, json_path = _paths(path)
    tensor_path.parent.mkdir(parents=True, exist_ok=True)
    weights, document = encode_model(params, extra)
    tensor_path.write_bytes(weights)
    json_path.write_text(json.dumps(document, indent=2, sort_keys=True))
    return tensor_path, json_path


def load_model(path) -> MLPParams:
    """Read a model written by :func:`save_model` (``path`` with or without the suffix).
    The JSON's ``extra`` comes back as ``MLPParams.meta``."""
    tensor_path, json_path = _paths(path)
    document: dict[str, Any] = json.loads(json_path.read_text())
    try:
        return decode_model(tensor_path.read_bytes(), document)
    except ValueError as error:
        raise ValueError(f"{tensor_path}: {error}") from None


MAX_MODEL_ZIP_BYTES = 16 * 1024 * 1024  # a width-64, depth-8 model is ~120 KB; room for far more
MODEL_ZIP_NAMES = {"model.safetensors", "model.json", "README.txt"}


def read_model_zip(data: bytes, max_bytes: int = MAX_MODEL_ZIP_BYTES) -> MLPParams:
    """The model in a .zip of :meth:`TrainedRun.model_zip` (an upload: anything can arrive).
    Only model.safetensors + model.json (+ README.txt) are read, sizes are capped before
    anything is unpacked, and nothing is unpickled; ValueError in words otherwise."""
    if not isinstance(data, (bytes, bytearray)) or len(data) > max_bytes:
        raise ValueError(f"the model file must be a .zip of at most {max_bytes // 2**20} MB")
    try:
        archive = zipfile.ZipFile(io.BytesIO(bytes(data)))
        infos = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError, NotImplementedError, OSError):
        raise ValueError("the model file is not a .zip (download one with “Download model” on /train)") from None
    names = {info.filename for info in infos}
    if not {"model.safetensors", "model.json"} <= names or names - MODEL_ZIP_NAMES or len(infos) != len(names):
        raise ValueError(f"the .zip must hold model.safetensors and model.json (and README.txt) only; it holds "
                         f"{sorted(names)[:10]}")
    if sum(info.file_size for info in infos) > max_bytes:  # a zip bomb is refused before it is unpacked
        raise ValueError(f"the unpacked model is larger than {max_bytes // 2**20} MB")
    try:
        document = json.loads(archive.read("model.json"))
        weights = archive.read("model.safetensors")
    except (ValueError, zipfile.BadZipFile, RuntimeError, OSError, EOFError, NotImplementedError,
            zlib.error) as error:  # what zipfile and zlib raise for damaged members, by kind
        raise ValueError(f"the .zip is damaged ({type(error).__name__}: {error})") from None
    try:
        return decode_model(weights, document)
    except (KeyError, TypeError) as error:
        raise ValueError(f"model.json is not a polyviz model document ({type(error).__name__}: {error})") from None


MODEL_README = """A polyviz toy classifier, trained on the /train page.

model.safetensors  the weights: the state dict of polyviz.models.build_module(config)
                   ("0.weight", "0.bias", "2.weight", ...; Linear layers at even indices)
model.json         {"format": "polyviz-mlp-1", "model": ModelConfig, "extra": data, training, metrics}

Load it back:

    from polyviz.models import build_module, predict_proba
    from polyviz.records import load_model
    params = load_model("model")          # reads model.safetensors and model.json
    module = build_module(params.config, params)   # a torch.nn.Sequential

or with safetensors alone:  safetensors.torch.load_file("model.safetensors")
"""


# ------------------------------------------------------------------------------------------
# plain-data helpers
# ------------------------------------------------------------------------------------------
def _bytes(a, dtype: str) -> bytes:
    return np.ascontiguousarray(np.asarray(a), dtype=np.dtype(dtype).newbyteorder("<")).tobytes()


def _array(data, dtype: str) -> np.ndarray:
    if not isinstance(data, (bytes, bytearray)):
        raise ValueError("expected bytes")
    return np.frombuffer(bytes(data), dtype=np.dtype(dtype).newbyteorder("<")).astype(np.dtype(dtype))


def _finite_or_none(values) -> list:
    return [float(v) if math.isfinite(float(v)) else None for v in np.asarray(values, dtype=np.float64)]


def _floats(values) -> np.ndarray:
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def _check_format(data, expected: str) -> None:
    if not isinstance(data, dict) or data.get("format") != expected:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise ValueError(f"not a {expected} record (format {found!r})")


def _optional_float(value) -> float | None:
    return None if value is None else float(value)


# ------------------------------------------------------------------------------------------
# a trained run
# ------------------------------------------------------------------------------------------
USER_DATA_PREFIX = "user-data:"


@dataclass(frozen=True)
class DataSource:
    """Which data a model was trained on: ``polyviz.datasets.make_dataset(name, n, noise,
    seed)`` split by ``train_test_split(..., train_ratio, seed)``, or your own data: name
    "user-data:<content hash>" (USER_DATA_PREFIX), split the same way."""

    name: str
    n: int
    noise: float
    seed: int
    train_ratio: float

    @property
    def user_data_hash(self) -> str | None:
        """The content hash of your own data this names, or None for a built-in data set."""
        return self.name[len(USER_DATA_PREFIX):] if self.name.startswith(USER_DATA_PREFIX) else None

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "DataSource":
        return cls(name=str(data["name"]), n=int(data["n"]), noise=float(data["noise"]), seed=int(data["seed"]),
                   train_ratio=float(data["train_ratio"]))


HISTORY_FIELDS = {"step": "i4", "train_loss": "f4", "train_acc": "f4", "test_step": "i4", "test_loss": "f4",
                  "test_acc": "f4"}


@dataclass
class TrainedRun:
    """A finished training run of the /train page.

    ``key``: its cache key; ``query``: the /train query that reopens it; ``fields``: the
    page's training-relevant fields (the content of the key). ``history`` (float32 curves,
    see :class:`polyviz.training.TrainResult`), ``checkpoints`` ({step: flat float32
    parameters}). ``status``: the library's status, or "time_limit" when the server's time
    budget stopped it. ``sweep_seeds``: 0 for a run trained on its own; k when this is one
    seed of a k-seed sweep, exactly as the sweep trained it (see :meth:`SweepRecord.seed_run`).
    """

    key: str
    query: str
    fields: dict
    data: DataSource
    train_config: TrainConfig
    params: MLPParams
    history: dict[str, np.ndarray]
    checkpoints: dict[int, np.ndarray]
    phase_transitions: list[int]
    status: str
    message: str
    steps_done: int
    elapsed_s: float
    time_to_target_s: float | None
    final_train_loss: float
    final_train_acc: float
    final_test_acc: float | None
    sweep_seeds: int = 0

    @property
    def config(self) -> ModelConfig:
        return self.params.config

    @classmethod
    def from_result(cls, result, *, key: str, query: str, fields: dict, data: DataSource,
                    status: str | None = None, sweep_seeds: int = 0) -> "TrainedRun":
        """The record of a :class:`polyviz.training.TrainResult` (its curves as float32)."""
        history = {name: _array(_bytes(result.history[name], dtype), dtype) for name, dtype in HISTORY_FIELDS.items()}
        return cls(
            key=key, query=query, fields=dict(fields), data=data, train_config=result.train_config,
            params=MLPParams(result.params.config, result.params.flat.detach().clone()),
            history=history,
            checkpoints={int(s): np.asarray(c, dtype=np.float32) for s, c in sorted(result.checkpoints.items())},
            phase_transitions=[int(t) for t in result.phase_transitions],
            status=str(status or result.status), message=str(result.message), steps_done=int(result.steps_done),
            elapsed_s=float(result.elapsed_s), time_to_target_s=_optional_float(result.time_to_target_s),
            final_train_loss=float(result.final_train_loss), final_train_acc=float(result.final_train_accuracy),
            final_test_acc=_optional_float(result.final_test_accuracy), sweep_seeds=int(sweep_seeds),
        )

    # -- the model file ----------------------------------------------------------------------
    def extra(self) -> dict:
        """The model document's "extra": where the data came from, how it was trained, how
        well it did (for people reading model.json)."""
        metrics = {"status": self.status, "message": self.message, "steps_done": self.steps_done,
                   "time_to_target_s": self.time_to_target_s, "final_train_loss": self.final_train_loss,
                   "final_train_accuracy": self.final_train_acc, "final_test_accuracy": self.final_test_acc,
                   "phase_transitions": list(self.phase_transitions)}
        source = "polyviz /train" + (f" (seed of a {self.sweep_seeds}-seed sweep)" if self.sweep_seeds else "")
        return {"source": source, "query": self.query, "data": self.data.to_dict(),
                "train": self.train_config.to_dict(), "metrics": metrics}

    def model_zip(self) -> bytes:
        """A .zip holding model.safetensors, model.json (``load_model("model")`` reads them)
        and a README."""
        weights, document = encode_model(self.params, self.extra())
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("model.safetensors", weights)
            archive.writestr("model.json", json.dumps(document, indent=2, sort_keys=True))
            archive.writestr("README.txt", MODEL_README)
        return buffer.getvalue()

    # -- plain data ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        weights, document = encode_model(self.params, self.extra())
        steps = sorted(self.checkpoints)
        flat = (np.stack([self.checkpoints[s] for s in steps]) if steps
                else np.zeros((0, self.config.param_count), np.float32))
        return {
            "format": RUN_FORMAT, "key": self.key, "query": self.query, "fields": dict(self.fields),
            "data": self.data.to_dict(), "train_config": self.train_config.to_dict(),
            "model_json": json.dumps(document, sort_keys=True), "safetensors": weights,
            "history": {name: _bytes(self.history[name], dtype) for name, dtype in HISTORY_FIELDS.items()},
            "checkpoints": {"steps": steps, "flat": _bytes(flat, "f4")},
            "phase_transitions": list(self.phase_transitions), "status": self.status, "message": self.message,
            "steps_done": self.steps_done, "elapsed_s": self.elapsed_s, "time_to_target_s": self.time_to_target_s,
            "final_train_loss": self.final_train_loss, "final_train_acc": self.final_train_acc,
            "final_test_acc": self.final_test_acc, "sweep_seeds": self.sweep_seeds,
        }

    @classmethod
    def from_dict(cls, data) -> "TrainedRun":
        """The run back from :meth:`to_dict`'s plain data; ValueError when it is not one
        (another format, damaged weights, wrong shapes)."""
        _check_format(data, RUN_FORMAT)
        try:
            params = decode_model(data["safetensors"], json.loads(data["model_json"]))
            steps = [int(s) for s in data["checkpoints"]["steps"]]
            flat = _array(data["checkpoints"]["flat"], "f4").reshape(len(steps), params.config.param_count)
            if not isinstance(data["fields"], dict):
                raise ValueError("fields must be a dict")
            return cls(
                key=str(data["key"]), query=str(data["query"]), fields=dict(data["fields"]),
                data=DataSource.from_dict(data["data"]), train_config=TrainConfig.from_dict(data["train_config"]),
                params=params,
                history={name: _array(data["history"][name], dtype) for name, dtype in HISTORY_FIELDS.items()},
                checkpoints={s: flat[i].copy() for i, s in enumerate(steps)},
                phase_transitions=[int(t) for t in data["phase_transitions"]], status=str(data["status"]),
                message=str(data["message"]), steps_done=int(data["steps_done"]),
                elapsed_s=float(data["elapsed_s"]), time_to_target_s=_optional_float(data["time_to_target_s"]),
                final_train_loss=float(data["final_train_loss"]), final_train_acc=float(data["final_train_acc"]),
                final_test_acc=_optional_float(data["final_test_acc"]), sweep_seeds=int(data["sweep_seeds"]),
            )
        except ValueError:
            raise
        except Exception as error:  # a damaged record: missing keys, wrong types, bad bytes
            raise ValueError(f"damaged {RUN_FORMAT} record ({type(error).__name__}: {error})") from None


# ------------------------------------------------------------------------------------------
# a seed sweep
# ------------------------------------------------------------------------------------------
def _packed(a, dtype: str) -> bytes:
    """Little-endian bytes of an array, zlib-compressed (accuracy curves shrink ~10x)."""
    return zlib.compress(_bytes(a, dtype), 6)


def _unpacked(data, dtype: str, shape: tuple) -> np.ndarray:
    if not isinstance(data, (bytes, bytearray)):
        raise ValueError("expected bytes")
    # the size is known from the shape: refuse anything that inflates beyond it
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = zlib.decompressobj().decompress(bytes(data), size + 1)
    if len(raw) != size:
        raise ValueError(f"expected {size} bytes for shape {shape}, got {len(raw)}")
    return _array(raw, dtype).reshape(shape)


def thin_checkpoints(steps, seeds: int, params: int, budget: int = SWEEP_CHECKPOINT_BUDGET) -> list[int]:
    """The checkpoint steps a sweep record keeps: all of them when seeds x steps x params
    fits the budget, else evenly thinned (the first and last stay), else none."""
    steps = sorted(int(s) for s in steps)
    room = budget // max(1, seeds * params)
    if len(steps) <= room:
        return steps
    if room < 2:
        return []
    picks = np.unique(np.round(np.linspace(0, len(steps) - 1, room)).astype(int))
    return [steps[i] for i in picks]


@dataclass
class SweepRecord:
    """The per-seed outcome of a seed sweep (arrays in seed order; NaN accuracy for a seed
    whose loss became non-finite; -1 for no transition / never diverged). ``train_config``
    as trained (its ``steps`` scales the sweep figure).

    It also keeps what opening one seed needs (:meth:`seed_run`): the model config, each
    seed's final float32 weights ``flat`` (K, P), its curves ``history`` (``train_loss`` and
    ``train_acc`` (K, steps_done + 1), ``test_step`` (E,), ``test_loss``/``test_acc`` (K, E)),
    its phase transitions, and checkpoints {step: (K, P)} thinned to
    :data:`SWEEP_CHECKPOINT_BUDGET`. These are the sweep's own numbers: a seed opened from a
    sweep has exactly the accuracy and transition step the sweep reported.
    """

    key: str
    fields: dict
    train_config: TrainConfig
    seeds: np.ndarray
    final_train_acc: np.ndarray
    final_test_acc: np.ndarray
    transition_step: np.ndarray
    diverged_step: np.ndarray
    elapsed_s: float
    status: str
    model_config: ModelConfig
    flat: np.ndarray
    history: dict[str, np.ndarray]
    phase_transitions: list[list[int]]
    checkpoints: dict[int, np.ndarray]
    steps_done: int
    message: str

    @classmethod
    def from_result(cls, sweep, *, key: str, fields: dict, status: str | None = None) -> "SweepRecord":
        """The record of a :class:`polyviz.training.SweepResult`."""
        K, P = sweep.flat.shape
        kept = thin_checkpoints(sweep.checkpoints, K, P)
        history = {name: np.asarray(sweep.history[name], dtype=np.dtype(dtype))
                   for name, dtype in HISTORY_FIELDS.items() if name != "step"}
        return cls(key=key, fields=dict(fields), train_config=sweep.train_config,
                   seeds=np.asarray(sweep.seeds, dtype=np.int64),
                   final_train_acc=np.asarray(sweep.final_train_acc, dtype=np.float64),
                   final_test_acc=np.asarray(sweep.final_test_acc, dtype=np.float64),
                   transition_step=np.asarray(sweep.transition_step, dtype=np.int64),
                   diverged_step=np.asarray(sweep.diverged_step, dtype=np.int64),
                   elapsed_s=float(sweep.elapsed_s), status=str(status or sweep.status),
                   model_config=sweep.model_config, flat=sweep.flat.detach().numpy().astype(np.float32),
                   history=history, phase_transitions=[[int(t) for t in tr] for tr in sweep.phase_transitions],
                   checkpoints={s: np.asarray(sweep.checkpoints[s], dtype=np.float32) for s in kept},
                   steps_done=int(sweep.steps_done), message=str(sweep.message))

    def seed_index(self, seed: int) -> int | None:
        where = np.flatnonzero(self.seeds == int(seed))
        return int(where[0]) if len(where) else None

    def seed_run(self, seed: int, *, key: str, query: str, fields: dict, data: DataSource) -> TrainedRun | None:
        """Seed ``seed`` of this sweep as a :class:`TrainedRun` (None when it was not swept):
        the sweep's own weights, curves, checkpoints and phase transitions."""
        index = self.seed_index(seed)
        if index is None:
            return None
        steps = np.arange(self.history["train_loss"].shape[1], dtype=np.int64)
        result = SweepResult(
            model_config=self.model_config, train_config=self.train_config, seeds=self.seeds,
            final_train_acc=self.final_train_acc, final_test_acc=self.final_test_acc,
            transition_step=self.transition_step, phase_transitions=self.phase_transitions,
            diverged_step=self.diverged_step, history={"step": steps, **self.history},
            flat=torch.from_numpy(self.flat.copy()), status=self.status, elapsed_s=self.elapsed_s,
            checkpoints=self.checkpoints, steps_done=self.steps_done, message=self.message,
        ).seed_result(index)
        status = self.status if self.status == "time_limit" and result.status != "non_finite" else None
        return TrainedRun.from_result(result, key=key, query=query, fields=fields, data=data, status=status,
                                      sweep_seeds=len(self.seeds))

    def to_dict(self) -> dict:
        steps = sorted(self.checkpoints)
        K, P = self.flat.shape
        ckpt = np.stack([self.checkpoints[s] for s in steps]) if steps else np.zeros((0, K, P), np.float32)
        return {
            "format": SWEEP_FORMAT, "key": self.key, "fields": dict(self.fields),
            "train_config": self.train_config.to_dict(), "seeds": [int(s) for s in self.seeds],
            "final_train_acc": _finite_or_none(self.final_train_acc),
            "final_test_acc": _finite_or_none(self.final_test_acc),
            "transition_step": [int(s) for s in self.transition_step],
            "diverged_step": [int(s) for s in self.diverged_step],
            "elapsed_s": self.elapsed_s, "status": self.status,
            "model": self.model_config.to_dict(), "flat": _packed(self.flat, "f4"),
            "history_steps": int(self.history["train_loss"].shape[1]), "n_evals": len(self.history["test_step"]),
            "history": {name: _packed(self.history[name], HISTORY_FIELDS[name]) for name in self.history},
            "phase_transitions": [list(tr) for tr in self.phase_transitions],
            "checkpoints": {"steps": steps, "flat": _packed(ckpt, "f4")},
            "steps_done": self.steps_done, "message": self.message,
        }

    @classmethod
    def from_dict(cls, data) -> "SweepRecord":
        _check_format(data, SWEEP_FORMAT)
        try:
            seeds = np.asarray([int(s) for s in data["seeds"]], dtype=np.int64)
            model = ModelConfig.from_dict(data["model"])
            K, P, T, E = len(seeds), model.param_count, int(data["history_steps"]), int(data["n_evals"])
            shapes = {"train_loss": (K, T), "train_acc": (K, T), "test_step": (E,), "test_loss": (K, E),
                      "test_acc": (K, E)}
            steps = [int(s) for s in data["checkpoints"]["steps"]]
            ckpt = _unpacked(data["checkpoints"]["flat"], "f4", (len(steps), K, P))
            record = cls(
                key=str(data["key"]), fields=dict(data["fields"]),
                train_config=TrainConfig.from_dict(data["train_config"]), seeds=seeds,
                final_train_acc=_floats(data["final_train_acc"]), final_test_acc=_floats(data["final_test_acc"]),
                transition_step=np.asarray([int(s) for s in data["transition_step"]], dtype=np.int64),
                diverged_step=np.asarray([int(s) for s in data["diverged_step"]], dtype=np.int64),
                elapsed_s=float(data["elapsed_s"]), status=str(data["status"]), model_config=model,
                flat=_unpacked(data["flat"], "f4", (K, P)),
                history={name: _unpacked(data["history"][name], HISTORY_FIELDS[name], shape)
                         for name, shape in shapes.items()},
                phase_transitions=[[int(t) for t in tr] for tr in data["phase_transitions"]],
                checkpoints={s: ckpt[i].copy() for i, s in enumerate(steps)},
                steps_done=int(data["steps_done"]), message=str(data["message"]),
            )
        except ValueError:
            raise
        except Exception as error:
            raise ValueError(f"damaged {SWEEP_FORMAT} record ({type(error).__name__}: {error})") from None
        lengths = {len(record.seeds), len(record.final_train_acc), len(record.final_test_acc),
                   len(record.transition_step), len(record.diverged_step), len(record.phase_transitions)}
        if len(lengths) != 1:
            raise ValueError(f"damaged {SWEEP_FORMAT} record: per-seed lists of different lengths")
        return record
