"""Small MLP classifiers built from normalisation: configuration, parameters, forward passes,
export to ``torch.nn`` (the model file, safetensors + JSON, is :mod:`polyviz.records`).

A model is ``Linear -> act -> Linear -> act -> ... -> Linear`` with ``depth`` hidden layers
of ``width`` units and one output logit (binary classification, class 1 when the logit is
positive). The research default is width 3, depth 2, ``u_eps``::

    Linear(2, 3) -> u_eps -> Linear(3, 3) -> u_eps -> Linear(3, 1)

Parameters live in ONE flat tensor (see :func:`layer_views`): layer ``l`` is an
``(out, in + 1)`` row-major block ``[W | b]`` (the bias is the last column), layers in
order. The same layout with a leading dimension ``(K, P)`` holds K models (a seed sweep).

Activations (``eps`` applies to the first three):

* ``u_eps``: x / sqrt(|x|^2 + eps)
* ``layernorm``: (x - mean) / sqrt(var + eps), no affine (the next Linear absorbs it);
  equals sqrt(n) * u_{n*eps}(x - mean(x))
* ``rmsnorm``: x / sqrt(mean(x^2) + eps), no affine; equals sqrt(n) * u_{n*eps}(x)
* ``group_layernorm``: LayerNorm over each of ``groups`` equal groups of consecutive
  neurons (torch's ``nn.GroupNorm(groups, width, affine=False)`` on (N, width)); groups = 1
  is ``layernorm``
* ``dyt``: Dynamic Tanh, tanh(alpha * x) with one learnable scalar alpha per hidden layer
  (initialised to :data:`DYT_ALPHA0`); the alphas sit after all Linear blocks in the flat
  tensor (:func:`dyt_alpha_view`)
* ``none``: the identity (a linear network, as a baseline)
* ``relu``, ``gelu`` (exact, erf), ``tanh``

Architectures (``architecture``):

* ``mlp`` (above): Linear -> act -> ... -> Linear.
* ``preln``: the pre-LN MLP block of a transformer, stacked ``depth`` times on a residual
  stream of ``width`` numbers, between an input Linear and the output Linear::

      h = Linear(in_dim, width)(x)
      for each block:  h = h + Linear(hidden, width)(act(Linear(width, hidden)(LayerNorm(h))))
      logit = Linear(width, 1)(h)

  ``act`` is ``relu`` or ``gelu``; the LayerNorm has no affine (the first Linear absorbs it)
  and uses ``eps``; ``hidden`` is ``block_hidden`` (0: the same as ``width``). The first
  Linear of block k reads the stream's LayerNorm images, which lie on a sphere of radius
  sqrt(width) (exactly when eps -> 0) in the hyperplane of mean-zero vectors:
  :func:`sphere_layer` gives that Linear, the images and the sphere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from polyviz.geometry import layer_norm, u_eps
from polyviz.plain_fields import PlainFields

ACTIVATIONS = ("u_eps", "layernorm", "rmsnorm", "group_layernorm", "dyt", "relu", "gelu", "tanh", "none")
# how pages and captions name each activation (one per entry of ACTIVATIONS)
ACTIVATION_NAMES = {"u_eps": "u_ε", "layernorm": "LayerNorm", "rmsnorm": "RMSNorm", "group_layernorm": "grouped LN",
                    "dyt": "DyT", "relu": "ReLU", "gelu": "GELU", "tanh": "tanh", "none": "none (linear)"}
NORM_ACTIVATIONS = ("u_eps", "layernorm", "rmsnorm", "group_layernorm")
ARCHITECTURES = ("mlp", "preln")
BLOCK_ACTIVATIONS = ("relu", "gelu")  # the non-linearity inside a pre-LN block
DYT_ALPHA0 = 0.5  # DyT's default initial alpha (Zhu et al. 2025)

MAX_IN_DIM = 64
MAX_WIDTH = 256
MAX_DEPTH = 16
MAX_EPS = 10.0
MAX_CLASSES = 10


@dataclass
class ModelConfig(PlainFields):
    """Shape of the classifier. Plain values only, so it round-trips through JSON.

    in_dim in [1, 64]; width in [1, 256] (>= 2 for layernorm); depth (hidden layers) in
    [0, 16]; activation one of :data:`ACTIVATIONS`; eps in (0, 10] (used by the normalising
    activations, ignored by the others); groups in [1, width] (group_layernorm only: it must
    divide width into groups of at least 2 neurons); architecture one of
    :data:`ARCHITECTURES` (``preln``: activation relu or gelu, width >= 2, depth = number of
    blocks); block_hidden in [0, 256], the hidden width inside a pre-LN block (0: width);
    n_classes in [2, 10]: two classes have one output logit (class 1 when positive, the
    logistic loss), more have one logit per class (the largest wins, softmax cross-entropy).
    """

    in_dim: int = 2
    width: int = 3
    depth: int = 2
    activation: str = "u_eps"
    eps: float = 1e-5
    groups: int = 1
    architecture: str = "mlp"
    block_hidden: int = 0
    n_classes: int = 2

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for name, low, high in (("in_dim", 1, MAX_IN_DIM), ("width", 1, MAX_WIDTH), ("depth", 0, MAX_DEPTH)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
            if not low <= value <= high:
                raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
            setattr(self, name, int(value))
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {self.activation!r}")
        try:
            eps = float(self.eps)
        except (TypeError, ValueError):
            raise ValueError(f"eps must be a number in (0, {MAX_EPS:g}], got {self.eps!r}") from None
        if not (math.isfinite(eps) and 0.0 < eps <= MAX_EPS):
            raise ValueError(f"eps must be in (0, {MAX_EPS:g}], got {self.eps!r}")
        self.eps = eps
        if self.activation == "layernorm" and self.width < 2 and self.depth > 0:
            raise ValueError(f"width must be >= 2 for layernorm (a centred 1-vector is 0), got {self.width}")
        g = self.groups
        if isinstance(g, bool) or not isinstance(g, (int, np.integer)) or not 1 <= g <= MAX_WIDTH:
            raise ValueError(f"groups must be an integer in [1, {MAX_WIDTH}], got {g!r}")
        self.groups = int(g)
        if self.activation == "group_layernorm" and self.depth > 0 and (
                self.width % self.groups or self.width // self.groups < 2):
            raise ValueError(f"groups must divide width = {self.width} into groups of at least 2 neurons "
                             f"(group_layernorm), got {self.groups}")
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {', '.join(ARCHITECTURES)}; got {self.architecture!r}")
        h = self.block_hidden
        if isinstance(h, bool) or not isinstance(h, (int, np.integer)) or not 0 <= h <= MAX_WIDTH:
            raise ValueError(f"block_hidden must be an integer in [0, {MAX_WIDTH}] (0: the width), got {h!r}")
        self.block_hidden = int(h)
        c = self.n_classes
        if isinstance(c, bool) or not isinstance(c, (int, np.integer)) or not 2 <= c <= MAX_CLASSES:
            raise ValueError(f"n_classes must be an integer in [2, {MAX_CLASSES}], got {c!r}")
        self.n_classes = int(c)
        if self.architecture == "preln":
            if self.activation not in BLOCK_ACTIVATIONS:
                raise ValueError(f"activation must be one of {', '.join(BLOCK_ACTIVATIONS)} in a pre-LN block "
                                 f"(architecture preln), got {self.activation!r}")
            if self.width < 2:
                raise ValueError(f"width must be >= 2 for the pre-LN block (its LayerNorm of a 1-vector is 0), "
                                 f"got {self.width}")

    # -- shapes -------------------------------------------------------------------------
    @property
    def n_outputs(self) -> int:
        """Output logits: 1 for two classes, else one per class."""
        return 1 if self.n_classes == 2 else self.n_classes

    @property
    def hidden(self) -> int:
        """The hidden width inside a pre-LN block."""
        return self.block_hidden or self.width

    def layer_shapes(self) -> list[tuple[int, int]]:
        """(out, in) of each Linear layer, input to output (pre-LN: the input Linear, then
        each block's two Linears, then the output Linear)."""
        if self.architecture == "preln":
            w, h = self.width, self.hidden
            return [(w, self.in_dim)] + [(h, w), (w, h)] * self.depth + [(self.n_outputs, w)]
        dims = [self.in_dim] + [self.width] * self.depth + [self.n_outputs]
        return [(dims[i + 1], dims[i]) for i in range(len(dims) - 1)]

    @property
    def n_layers(self) -> int:
        """Number of Linear layers (mlp: depth + 1; preln: 2 * depth + 2)."""
        return len(self.layer_shapes())

    @property
    def linear_param_count(self) -> int:
        """Parameters of the Linear layers (the first part of the flat tensor)."""
        return sum(o * (i + 1) for o, i in self.layer_shapes())

    @property
    def extra_param_count(self) -> int:
        """Parameters after the Linear layers: one DyT alpha per hidden layer."""
        return self.depth if self.activation == "dyt" else 0

    @property
    def param_count(self) -> int:
        return self.linear_param_count + self.extra_param_count


def architecture_text(config: ModelConfig, act_label: str | None = None) -> str:
    """The model's layers in one line, e.g. "Linear(2→3) → u_ε → Linear(3→3) → u_ε → Linear(3→1)"."""
    act = act_label or config.activation
    shapes = config.layer_shapes()
    if config.architecture != "preln":
        return f" → {act} → ".join(f"Linear({i}→{o})" for o, i in shapes)
    (w, d), (o, _) = shapes[0], shapes[-1]
    h = config.hidden
    text = f"Linear({d}→{w})"
    if config.depth:
        text += (f" → {config.depth} × [x + Linear({h}→{w})({act}(Linear({w}→{h})(LayerNorm(x))))]")
    return text + f" → Linear({w}→{o})"


@dataclass
class MLPParams:
    """A model: its config and its flat parameter tensor (shape (P,))."""

    config: ModelConfig
    flat: torch.Tensor
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        flat = torch.as_tensor(self.flat)
        if flat.shape != (self.config.param_count,):
            raise ValueError(f"flat must have shape ({self.config.param_count},), got {tuple(flat.shape)}")
        self.flat = flat

    def layers(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """(W, b) views of each Linear layer."""
        return [(a[:, :-1], a[:, -1]) for a in layer_views(self.config, self.flat)]


def layer_views(config: ModelConfig, flat: torch.Tensor) -> list[torch.Tensor]:
    """Views ``(..., out, in + 1)`` (``[W | b]``) of each layer into a flat ``(..., P)`` tensor."""
    views, offset = [], 0
    lead = flat.shape[:-1]
    for out, inp in config.layer_shapes():
        size = out * (inp + 1)
        views.append(flat[..., offset : offset + size].view(*lead, out, inp + 1))
        offset += size
    return views


def dyt_alpha_view(config: ModelConfig, flat: torch.Tensor) -> torch.Tensor:
    """The DyT alphas (..., depth) of a flat (..., P) tensor (empty for other activations)."""
    start = config.linear_param_count
    return flat[..., start : start + config.extra_param_count]


def init_params(config: ModelConfig, seed: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """PyTorch's default Linear initialisation, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for W and b,
    drawn layer by layer (W then b) from ``torch.Generator().manual_seed(seed)`` in float64
    and cast, so the same seed gives the same model in every dtype and in a seed sweep."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise ValueError(f"seed must be an integer in [0, 2**63), got {seed!r}")
    gen = torch.Generator().manual_seed(int(seed))
    flat = torch.empty(config.param_count, dtype=torch.float64)
    for view, (out, inp) in zip(layer_views(config, flat), config.layer_shapes()):
        bound = 1.0 / math.sqrt(inp)
        w = torch.rand(out, inp, generator=gen, dtype=torch.float64) * (2 * bound) - bound
        b = torch.rand(out, generator=gen, dtype=torch.float64) * (2 * bound) - bound
        view[:, :-1] = w
        view[:, -1] = b
    dyt_alpha_view(config, flat).fill_(DYT_ALPHA0)
    return flat.to(dtype)


# -- activations (reference, differentiable) ----------------------------------------------
def group_layer_norm(z: torch.Tensor, groups: int, eps: float) -> torch.Tensor:
    """LayerNorm over each of ``groups`` equal groups of consecutive entries of the last
    dimension (no affine), as plain differentiable torch ops."""
    shape = z.shape
    zg = z.reshape(*shape[:-1], groups, shape[-1] // groups)
    return layer_norm(zg, eps).reshape(shape)


def apply_activation(name: str, z: torch.Tensor, eps: float, groups: int = 1, alpha=None) -> torch.Tensor:
    """The activation over the last dimension, as plain differentiable torch ops (``alpha``:
    DyT's scalar, a tensor broadcasting against z's leading dimensions)."""
    if name == "none":
        return z
    if name == "dyt":
        return torch.tanh(alpha * z)
    if name == "group_layernorm":
        return group_layer_norm(z, groups, eps)
    if name == "u_eps":
        return u_eps(z, eps)
    if name == "layernorm":
        return layer_norm(z, eps)
    if name == "rmsnorm":
        return z * torch.rsqrt((z * z).mean(dim=-1, keepdim=True) + eps)
    if name == "relu":
        return torch.relu(z)
    if name == "gelu":
        return torch.nn.functional.gelu(z)
    if name == "tanh":
        return torch.tanh(z)
    raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {name!r}")


def forward(config: ModelConfig, flat: torch.Tensor, X: torch.Tensor, return_activations: bool = False):
    """Reference forward pass with ordinary (autograd-capable) torch ops.

    ``flat`` (P,) or (K, P); ``X`` (N, d) (shared) or (K, N, d). Returns the logits
    ((N,) or (K, N); multiclass (N, C) or (K, N, C)); with ``return_activations`` also the list of hidden activations
    (each (..., N, width)), input excluded.
    """
    if config.architecture == "preln":
        return _preln_forward(config, flat, X, return_activations)
    h = X
    acts = []
    views = layer_views(config, flat)
    alphas = dyt_alpha_view(config, flat)
    for index, a in enumerate(views):
        w, b = a[..., :-1], a[..., -1]
        h = torch.matmul(h, w.transpose(-1, -2)) + b.unsqueeze(-2)
        if index < len(views) - 1:
            alpha = alphas[..., index, None, None] if config.activation == "dyt" else None
            h = apply_activation(config.activation, h, config.eps, config.groups, alpha)
            acts.append(h)
    logits = h.squeeze(-1)
    return (logits, acts) if return_activations else logits


def _linear(a: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """h (..., N, in) through the [W | b] block a (..., out, in + 1)."""
    return torch.matmul(h, a[..., :-1].transpose(-1, -2)) + a[..., -1].unsqueeze(-2)


def _block_act(config: ModelConfig, z: torch.Tensor) -> torch.Tensor:
    return torch.relu(z) if config.activation == "relu" else torch.nn.functional.gelu(z)


def _preln_forward(config: ModelConfig, flat: torch.Tensor, X: torch.Tensor, return_activations: bool):
    """The pre-LN architecture; the activations are the residual stream after the input
    Linear and after each block (depth + 1 arrays of (..., N, width))."""
    views = layer_views(config, flat)
    h = _linear(views[0], X)
    acts = [h]
    for k in range(config.depth):
        z = _linear(views[1 + 2 * k], layer_norm(h, config.eps))
        h = h + _linear(views[2 + 2 * k], _block_act(config, z))
        acts.append(h)
    logits = _linear(views[-1], h).squeeze(-1)
    return (logits, acts) if return_activations else logits


def _as_params(params) -> MLPParams:
    if isinstance(params, MLPParams):
        return params
    inner = getattr(params, "params", None)  # a TrainResult
    if isinstance(inner, MLPParams):
        return inner
    if isinstance(params, nn.Module):
        return params_from_module(params)
    raise TypeError(f"expected MLPParams, a TrainResult or a module from build_module, got {type(params).__name__}")


def _as_tensor(X, dtype) -> torch.Tensor:
    return torch.as_tensor(np.asarray(X), dtype=dtype)


@torch.no_grad()
def hidden_activations(params, X) -> tuple[list[np.ndarray], np.ndarray]:
    """Per-layer activations for the embedding animation.

    Returns ``([X, act_1, ..., act_depth], logits)`` as float32 NumPy arrays; ``act_l`` is
    (N, width), ``logits`` (N,).
    """
    p = _as_params(params)
    Xt = _as_tensor(X, p.flat.dtype)
    logits, acts = forward(p.config, p.flat, Xt, return_activations=True)
    out = [np.asarray(X, dtype=np.float32)] + [a.numpy().astype(np.float32) for a in acts]
    return out, logits.numpy().astype(np.float32)


@torch.no_grad()
def predict_proba(params, X) -> np.ndarray:
    """Binary: probability of class 1 for each row of X, float32 (N,). Multiclass: the
    softmax, float32 (N, n_classes)."""
    p = _as_params(params)
    logits = forward(p.config, p.flat, _as_tensor(X, p.flat.dtype))
    probs = torch.sigmoid(logits) if p.config.n_classes == 2 else torch.softmax(logits, -1)
    return probs.numpy().astype(np.float32)


def predicted_class(config: ModelConfig, logits: torch.Tensor) -> torch.Tensor:
    """Class of each logit row: binary 1 where the logit is positive, else the largest."""
    return (logits > 0).long() if config.n_classes == 2 else logits.argmax(-1)


@torch.no_grad()
def predict(params, X) -> np.ndarray:
    """Predicted class (int64 (N,)): binary 1 where the logit is positive; multiclass the
    class of the largest logit (the first on a tie)."""
    p = _as_params(params)
    logits = forward(p.config, p.flat, _as_tensor(X, p.flat.dtype))
    return predicted_class(p.config, logits).numpy().astype(np.int64)


def layer_weights(params, layer_index: int) -> tuple[np.ndarray, np.ndarray]:
    """``(W, b)`` of Linear layer ``layer_index`` (0 = first; negative counts from the
    output) as float64 NumPy arrays, W of shape (out, in): the neuron hyperplanes
    ``W x + b = 0`` a trained layer contributes (e.g. as a ReLU-layer source)."""
    p = _as_params(params)
    n = p.config.n_layers
    if isinstance(layer_index, bool) or not isinstance(layer_index, (int, np.integer)) or not -n <= layer_index < n:
        raise ValueError(f"layer_index must be an integer in [{-n}, {n - 1}], got {layer_index!r}")
    w, b = p.layers()[int(layer_index)]
    return w.detach().double().numpy().copy(), b.detach().double().numpy().copy()


@dataclass
class SphereLayer:
    """A Linear layer that reads points on a sphere, and the data's points on it.

    ``W`` (out, n), ``b`` (out,): the Linear (its pre-activations are ``points @ W.T + b``).
    ``points`` (N, n): what that Linear reads for each data point. The points lie on (for eps
    > 0: just inside) the sphere of radius ``radius`` around the origin of the
    ``sphere_dim + 1``-dimensional subspace spanned by the orthonormal columns of ``basis``
    (n, sphere_dim + 1): for LayerNorm images the mean-zero vectors (sphere_dim = n - 2),
    for u_eps and RMSNorm all of R^n (sphere_dim = n - 1). ``norms`` (N,): each point's
    distance from the origin (at most ``radius``; ``radius - norms`` is what eps costs).
    ``kind``: "layernorm", "u_eps" or "rmsnorm"; ``name``: which layer, in words.
    """

    W: np.ndarray
    b: np.ndarray
    points: np.ndarray
    basis: np.ndarray
    sphere_dim: int
    radius: float
    norms: np.ndarray
    kind: str
    name: str

    @property
    def pre_activations(self) -> np.ndarray:
        """``points @ W.T + b`` (N, out)."""
        return self.points @ self.W.T + self.b

    def intrinsic(self) -> tuple[np.ndarray, np.ndarray]:
        """(points, W) in the sphere's own coordinates (``basis``): points (N, sphere_dim + 1)
        and W (out, sphere_dim + 1), so W_i @ p_i + b equals the pre-activations."""
        return self.points @ self.basis, self.W @ self.basis


def _mean_zero_basis(n: int) -> np.ndarray:
    """Orthonormal basis (n, n - 1) of the vectors whose entries sum to zero: the left
    singular vectors of the centring projector I - 1/n with singular value 1."""
    u, _, _ = np.linalg.svd(np.eye(n) - 1.0 / n)
    return u[:, : n - 1]


@torch.no_grad()
def sphere_layer(params, X, layer: int) -> SphereLayer:
    """The Linear layer ``layer`` reads from a sphere, with the data ``X``'s points on it.

    * pre-LN (``architecture="preln"``): ``layer`` = block k in [0, depth): the block's first
      Linear (W, b) after its LayerNorm, and the stream's LayerNorm images
      ``sqrt(width) * u_{width*eps}(h - mean(h))`` on the sphere of radius sqrt(width) in the
      mean-zero hyperplane of R^width.
    * mlp with u_eps, layernorm or rmsnorm: ``layer`` = hidden layer k in [0, depth): the
      Linear after it (the next hidden Linear, or the output Linear for the last) and that
      layer's activations (u_eps: unit sphere of R^width; rmsnorm: radius sqrt(width);
      layernorm: radius sqrt(width) in the mean-zero hyperplane).

    Computed in float64 from the model's parameters.
    """
    p = _as_params(params)
    cfg = p.config
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= layer < cfg.depth:
        raise ValueError(f"layer must be an integer in [0, {cfg.depth - 1}] (a block or hidden layer of this "
                         f"depth-{cfg.depth} model), got {layer!r}")
    layer = int(layer)
    flat = p.flat.detach().double()
    Xt = _as_tensor(X, torch.float64)
    _, acts = forward(cfg, flat, Xt, return_activations=True)
    views = layer_views(cfg, flat)
    w = cfg.width
    if cfg.architecture == "preln":
        points = layer_norm(acts[layer], cfg.eps)
        lin = views[1 + 2 * layer]
        kind, name = "layernorm", f"block {layer + 1}'s first Linear, after its LayerNorm"
    elif cfg.activation in ("u_eps", "layernorm", "rmsnorm"):
        points = acts[layer]
        lin = views[layer + 1]
        kind = cfg.activation
        name = (f"Linear layer {layer + 2}, after hidden layer {layer + 1}'s {kind}" if layer + 1 < cfg.depth
                else f"the output Linear, after hidden layer {layer + 1}'s {kind}")
    else:
        raise ValueError(f"a {cfg.activation} layer's outputs do not lie on a sphere: sphere_layer needs "
                         f"architecture preln, or activation u_eps, layernorm or rmsnorm")
    pts = points.numpy()
    if kind == "layernorm":
        basis, radius = _mean_zero_basis(w), math.sqrt(w)
    else:
        basis, radius = np.eye(w), (1.0 if kind == "u_eps" else math.sqrt(w))
    return SphereLayer(W=lin[:, :-1].numpy().copy(), b=lin[:, -1].numpy().copy(), points=pts, basis=basis,
                       sphere_dim=basis.shape[1] - 1, radius=radius, norms=np.linalg.norm(pts, axis=1),
                       kind=kind, name=name)


# -- torch.nn export -----------------------------------------------------------------------
class UEps(nn.Module):
    """u_eps(x) = x / sqrt(|x|^2 + eps) over the last dimension."""

    def __init__(self, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = float(eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return u_eps(x, self.eps)

    def extra_repr(self) -> str:
        return f"eps={self.eps:g}"


class DyT(nn.Module):
    """Dynamic Tanh without its affine (the next Linear absorbs it): tanh(alpha * x)."""

    def __init__(self, alpha0: float = DYT_ALPHA0, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.full((1,), float(alpha0), dtype=dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.alpha * x)


class PreLNBlock(nn.Module):
    """x + fc2(act(fc1(LayerNorm(x)))), the pre-LN MLP block (LayerNorm without affine)."""

    def __init__(self, width: int, hidden: int, activation: str, eps: float, dtype: torch.dtype) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width, eps=eps, elementwise_affine=False)
        self.fc1 = nn.Linear(width, hidden, dtype=dtype)
        self.act = nn.ReLU() if activation == "relu" else nn.GELU()
        self.fc2 = nn.Linear(hidden, width, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(self.act(self.fc1(self.norm(x))))


def _activation_module(config: ModelConfig, dtype: torch.dtype = torch.float32) -> nn.Module:
    name, eps, width = config.activation, config.eps, config.width
    if name == "none":
        return nn.Identity()
    if name == "dyt":
        return DyT(dtype=dtype)
    if name == "group_layernorm":
        return nn.GroupNorm(config.groups, width, eps=eps, affine=False)
    if name == "u_eps":
        return UEps(eps)
    if name == "layernorm":
        return nn.LayerNorm(width, eps=eps, elementwise_affine=False)
    if name == "rmsnorm":
        return nn.RMSNorm(width, eps=eps, elementwise_affine=False)
    return {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh}[name]()


def build_module(config: ModelConfig, params: torch.Tensor | MLPParams | None = None) -> nn.Sequential:
    """An ``nn.Sequential`` of Linear and activation modules (the export form).

    Linear layers sit at even indices (``0``, ``2``, ...), so the state dict keys are
    ``"0.weight"``, ``"0.bias"``, ``"2.weight"``, ... With ``params`` (a flat tensor or
    MLPParams) the weights are copied in; otherwise they are :func:`init_params` with seed 0.
    """
    if isinstance(params, MLPParams):
        config, params = params.config, params.flat
    flat = init_params(config, 0) if params is None else torch.as_tensor(params)
    if flat.shape != (config.param_count,):
        raise ValueError(f"params must have shape ({config.param_count},), got {tuple(flat.shape)}")
    if config.architecture == "preln":
        return _build_preln_module(config, flat)
    modules: list[nn.Module] = []
    views = layer_views(config, flat.detach())
    alphas = dyt_alpha_view(config, flat.detach())
    for index, ((out, inp), a) in enumerate(zip(config.layer_shapes(), views)):
        lin = nn.Linear(inp, out, dtype=flat.dtype)
        with torch.no_grad():
            lin.weight.copy_(a[:, :-1])
            lin.bias.copy_(a[:, -1])
        modules.append(lin)
        if index < len(views) - 1:
            act = _activation_module(config, flat.dtype)
            if isinstance(act, DyT):
                with torch.no_grad():
                    act.alpha.copy_(alphas[index : index + 1])
            modules.append(act)
    seq = nn.Sequential(*modules)
    seq.polyviz_config = config  # lets params_from_module find the config again
    return seq


def _copy_linear(lin: nn.Linear, a: torch.Tensor) -> None:
    with torch.no_grad():
        lin.weight.copy_(a[:, :-1])
        lin.bias.copy_(a[:, -1])


def _build_preln_module(config: ModelConfig, flat: torch.Tensor) -> nn.Sequential:
    """Linear, PreLNBlock x depth, Linear: state dict keys "0.weight", "1.fc1.weight",
    "1.fc2.weight", ..., f"{depth + 1}.weight"."""
    views = layer_views(config, flat.detach())
    dtype = flat.dtype
    first = nn.Linear(config.in_dim, config.width, dtype=dtype)
    _copy_linear(first, views[0])
    modules: list[nn.Module] = [first]
    for k in range(config.depth):
        block = PreLNBlock(config.width, config.hidden, config.activation, config.eps, dtype)
        _copy_linear(block.fc1, views[1 + 2 * k])
        _copy_linear(block.fc2, views[2 + 2 * k])
        modules.append(block)
    last = nn.Linear(config.width, views[-1].shape[-2], dtype=dtype)
    _copy_linear(last, views[-1])
    modules.append(last)
    seq = nn.Sequential(*modules)
    seq.polyviz_config = config
    return seq


def params_from_module(module: nn.Module, config: ModelConfig | None = None) -> MLPParams:
    """Flatten a module made by :func:`build_module` back into :class:`MLPParams`."""
    config = config or getattr(module, "polyviz_config", None)
    if config is None:
        raise ValueError("config is required for a module not made by build_module")
    linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
    if len(linears) != config.n_layers:
        raise ValueError(f"module has {len(linears)} Linear layers, config needs {config.n_layers}")
    dtype = linears[0].weight.dtype
    flat = torch.empty(config.param_count, dtype=dtype)
    for lin, view in zip(linears, layer_views(config, flat)):
        view[:, :-1] = lin.weight.detach()
        view[:, -1] = lin.bias.detach()
    dyts = [m for m in module.modules() if isinstance(m, DyT)]
    if len(dyts) != config.extra_param_count:
        raise ValueError(f"module has {len(dyts)} DyT layers, config needs {config.extra_param_count}")
    for index, m in enumerate(dyts):
        dyt_alpha_view(config, flat)[index] = m.alpha.detach()[0]
    return MLPParams(config, flat)
