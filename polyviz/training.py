"""Training the toy classifiers: a fast hand-written Adam loop, seed sweeps, phase
transitions, checkpoints, progress/cancel, presets.

Speed
-----
The networks are tiny (the spiral model has 28 parameters), so per-operation overhead is the
whole cost. The engine (:class:`_Engine`) therefore

* keeps all parameters of K models in ONE flat tensor of shape (K, P) with per-layer views
  (layout: :func:`polyviz.models.layer_views`), and the gradient, Adam moments likewise, so
  Adam is six in-place ops on the whole tensor;
* writes the forward and backward by hand (no autograd): activations are stored
  channel-major, (K, width + 1, N) with a constant row of ones, so each Linear layer (bias
  included) is one ``bmm`` forward and one ``bmm`` for its gradient; when the input is shared
  by all models (full batch) the first layer is a single ``mm``;
* preallocates every buffer and uses ``out=`` / in-place ops, so the loop allocates no large
  tensor (large allocations would page-fault on every step);
* runs under ``torch.inference_mode``.

The backward of the normalising activations follows from y = c * s * x~, s = (|x~|^2 +
eps')^-1/2, x~ the (centred, for layernorm) input, c = 1 for u_eps and sqrt(n) for
layernorm/rmsnorm (eps' = n * eps): dx~ = c * s * (dy - y^ (y^ . dy)) with y^ = y / c, the
u_eps Jacobian-vector product; layernorm then centres dx~. ReLU, GELU and tanh use ATen's
backward kernels. ``tests/test_training.py`` checks every activation against autograd in
float64.

One model is the same program with K = 1; a seed sweep trains K <= 256 seeds at once, each
seed's model bit-for-bit the model :func:`train` would start from.

Recording
---------
Every step records the training loss and accuracy of the parameters *before* that step's
update (they come out of the forward pass for free), so ``history["train_loss"][t]`` belongs
to the parameters after t updates, t = 0..steps (the last entry is one extra forward pass).
The loss is the mean binary cross-entropy with logits; the logit margin is clamped at -80
before the sigmoid, which caps one point's loss at 80 nats (far beyond anything a working
run sees) so that float32 never turns a finite loss into inf. Accuracy per step comes from the
sign of the margin (a logit of exactly 0 counts as half right); final accuracies are exact.
Test loss and accuracy are evaluated every ``eval_every`` steps (and at step 0 and at the
end), on the parameters after that many updates: ``history["test_step"]`` lists those steps.
With minibatches the per-step training figures are those of the step's batch.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Callable

import numpy as np
import torch

from polyviz.models import (
    ModelConfig,
    MLPParams,
    init_params,
    layer_views,
    load_model,  # noqa: F401  (re-exported: save/load live with the model)
    save_model,  # noqa: F401
)

MAX_STEPS = 1_000_000
MAX_SEEDS = 256
MAX_SWEEP_MODEL_STEPS = 20_000_000
MARGIN_CLAMP = -80.0

ProgressFn = Callable[[int, int, dict], "bool | None"]


# ------------------------------------------------------------------------------------------
# configuration
# ------------------------------------------------------------------------------------------
@dataclass
class TrainConfig:
    """How to train. Plain values only (JSON round trip via to_dict/from_dict).

    * ``steps`` in [1, 1e6]; ``lr`` in (0, 1]; Adam ``beta1``, ``beta2`` in [0, 1),
      ``adam_eps`` in (0, 1].
    * ``batch_size``: 0 = full batch, else in [1, n_train]; minibatches are drawn without
      replacement from a per-epoch permutation (remainder dropped), seeded by ``seed``.
    * ``seed``: the initialisation and the minibatch order.
    * ``eval_every``: test metrics every k steps, k in [1, steps].
    * ``target_accuracy``: stop as soon as an evaluation reaches this test accuracy
      (in (0, 1]; None = run all steps).
    * ``checkpoint_every`` (0 = off) and ``checkpoint_steps``: keep a copy of the parameters
      after those numbers of updates (step 0 and the final step are added when either is set).
    * ``progress_every``: call ``on_progress`` every k steps (also the non-finite check).
    * ``dtype``: "float32" or "float64".
    """

    steps: int = 3000
    lr: float = 0.02
    batch_size: int = 0
    seed: int = 0
    beta1: float = 0.9
    beta2: float = 0.999
    adam_eps: float = 1e-8
    eval_every: int = 10
    target_accuracy: float | None = None
    checkpoint_every: int = 0
    checkpoint_steps: list[int] = field(default_factory=list)
    progress_every: int = 100
    dtype: str = "float32"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        def integer(name, low, high):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
            if not low <= value <= high:
                raise ValueError(f"{name} must be in [{low}, {high}], got {value}")
            setattr(self, name, int(value))

        def number(name, low, high, low_open, high_open):
            value = getattr(self, name)
            ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
            value = float(value) if ok else value
            ok = ok and math.isfinite(value)
            ok = ok and (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
            if not ok:
                rng = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
                raise ValueError(f"{name} must be in {rng}, got {getattr(self, name)!r}")
            setattr(self, name, value)

        integer("steps", 1, MAX_STEPS)
        number("lr", 0.0, 1.0, True, False)
        integer("batch_size", 0, 10**7)
        integer("seed", 0, 2**63 - 1)
        number("beta1", 0.0, 1.0, False, True)
        number("beta2", 0.0, 1.0, False, True)
        number("adam_eps", 0.0, 1.0, True, False)
        integer("eval_every", 1, MAX_STEPS)
        if self.target_accuracy is not None:
            number("target_accuracy", 0.0, 1.0, True, False)
        integer("checkpoint_every", 0, MAX_STEPS)
        steps = []
        for s in self.checkpoint_steps:
            if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 0 <= s <= self.steps:
                raise ValueError(f"checkpoint_steps must be integers in [0, {self.steps}], got {s!r}")
            steps.append(int(s))
        self.checkpoint_steps = sorted(set(steps))
        integer("progress_every", 1, MAX_STEPS)
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")

    @property
    def torch_dtype(self) -> torch.dtype:
        return torch.float64 if self.dtype == "float64" else torch.float32

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown TrainConfig field(s) {unknown}; allowed: {', '.join(sorted(known))}")
        return cls(**data)

    def replace(self, **changes) -> "TrainConfig":
        return TrainConfig.from_dict({**self.to_dict(), **changes})


# ------------------------------------------------------------------------------------------
# the engine: K models, hand-written forward/backward, flat Adam
# ------------------------------------------------------------------------------------------
def _activation_kind(name: str, width: int, eps: float):
    """(kind, c, eps', centre) for the activation."""
    if name == "u_eps":
        return "norm", 1.0, eps, False
    if name == "rmsnorm":
        return "norm", math.sqrt(width), width * eps, False
    if name == "layernorm":
        return "norm", math.sqrt(width), width * eps, True
    return name, 1.0, 0.0, False


class _Engine:
    """Forward (+ backward + Adam) for K models on one fixed set of N points.

    ``shared_input=True``: X (N, d) is the same for every model (full batch, evaluation).
    ``shared_input=False``: a (K, d, N) input is loaded per step (per-seed minibatches).
    With ``train=False`` only the forward pass and metrics are built.
    """

    def __init__(self, config: ModelConfig, flat: torch.Tensor, n: int, *, shared_input: bool, train: bool,
                 grad: torch.Tensor | None = None):
        # Every view used in the loop is made here once: creating a view costs as much as a
        # small op, and the loop runs ~50 ops per step.
        self.config = config
        self.flat = flat
        K, P = flat.shape
        dtype = flat.dtype
        self.K, self.N, self.dtype = K, n, dtype
        self.shared = shared_input
        self.train = train
        w, D, d = config.width, config.depth, config.in_dim
        self.D = D
        self.kind, self.c, self.eps2, self.centre = _activation_kind(config.activation, w, config.eps)
        self.inv_c2 = -1.0 / (self.c * self.c)
        E = lambda *shape: torch.empty(*shape, dtype=dtype)  # noqa: E731
        self.W = layer_views(config, flat)
        out0 = w if D > 0 else 1
        # input: shared (d+1, N) with a ones row, or per model (K, d+1, N)
        if shared_input:
            self.Xa = torch.ones(d + 1, n, dtype=dtype)
            self.W0c = E(K * out0, d + 1)  # contiguous copy of layer 0's weights
            self.W0cv = self.W0c.view(K, out0, d + 1)
        else:
            self.Xin = torch.ones(K, d + 1, n, dtype=dtype)
            self.XinT = self.Xin.transpose(1, 2)
        self.sgn = E(1 if shared_input else K, n)  # +1 / -1 targets
        self.sgnN = E(1 if shared_input else K, n)  # targets / N
        # hidden layers
        self.Z = [E(K, w, n) for _ in range(D)]  # pre-activations
        self.Zflat = [z.view(K * w, n) for z in self.Z]
        self.Zp = [[z[:, j] for j in range(w)] for z in self.Z]
        self.A = [torch.ones(K, w + 1, n, dtype=dtype) for _ in range(D)]  # [act; 1]
        self.AT = [a.transpose(1, 2) for a in self.A]
        self.Y = [a[:, :w] for a in self.A]
        self.Yp = [[y[:, j] for j in range(w)] for y in self.Y]
        self.S = [E(K, n) for _ in range(D)] if self.kind == "norm" else []
        self.Su = [s.unsqueeze(1) for s in self.S]
        if self.centre:
            self.M = E(K, 1, n)
        if self.kind == "norm" and w > 4:
            self.T = E(K, w, n)
        self.Zo = E(K, 1, n)
        self.Zo2 = self.Zo.view(K, n)
        self.MG = E(K, n)
        self.Pb = E(K, n)
        self.Pbu = self.Pb.unsqueeze(1)
        self.Lg = E(K, n)
        if train:
            self.grad = torch.zeros_like(flat) if grad is None else grad
            self.G = layer_views(config, self.grad)
            self.gbuf = [E(K, o, i + 1) for o, i in config.layer_shapes()]
            if shared_input:
                self.g0T = E(d + 1, K * out0)
                self.g0Tv = self.g0T.t().view(K, out0, d + 1)
            if D > 0:
                # for u_eps / rmsnorm the pre-activation buffers are free in the backward pass
                reuse = self.kind == "norm" and not self.centre and D >= 2
                self.dY = [self.Z[-1], self.Z[-2]] if reuse else [E(K, w, n), E(K, w, n)]
                self.dYflat = [b.view(K * w, n) for b in self.dY]
                self.dYp = [[b[:, j] for j in range(w)] for b in self.dY]
                self.dot = E(K, n)
                self.dotu = self.dot.unsqueeze(1)
                if self.kind in ("relu", "tanh", "gelu"):
                    self.dZ = E(K, w, n)
                    self.dZflat = self.dZ.view(K * w, n)
                self.WoT = self.W[D][:, 0, :w].unsqueeze(2)  # (K, w, 1)
                self.bo = self.W[D][:, 0, w:]  # (K, 1) output bias
                self.WsT = [self.W[l][:, :, :w].transpose(1, 2) for l in range(1, D + 1)]
            self.m = torch.zeros_like(flat)
            self.v = torch.zeros_like(flat)
            self.den = torch.zeros_like(flat)
            self.t = 0

    # -- data ----------------------------------------------------------------------------
    def set_data(self, X: torch.Tensor, y: torch.Tensor) -> None:
        """Shared input: X (N, d), y (N,) in {0, 1}."""
        self.Xa[:-1].copy_(X.t())
        s = y.to(self.dtype) * 2 - 1
        self.sgn.copy_(s.view(1, -1))
        self.sgnN.copy_(s.view(1, -1) / self.N)

    def set_batch(self, XaT_full: torch.Tensor, sgn_full: torch.Tensor, idx: torch.Tensor) -> None:
        """Per-model input: rows ``idx`` (K, N) of XaT_full (n, d+1) and of sgn_full (n,)."""
        self.Xin.copy_(XaT_full[idx].transpose(1, 2))
        torch.index_select(sgn_full, 0, idx.reshape(-1), out=self.sgn.view(-1))
        torch.mul(self.sgn, 1.0 / self.N, out=self.sgnN)

    # -- channel sums ----------------------------------------------------------------------
    def _chan_dot(self, a, b, ap: list, bp: list, out: torch.Tensor) -> None:
        """out = sum over channels of a * b; ap/bp are the channel planes of a and b."""
        w = len(ap)
        if w <= 4:
            torch.mul(ap[0], bp[0], out=out)
            for j in range(1, w):
                out.addcmul_(ap[j], bp[j])
        else:
            torch.sum(torch.mul(a, b, out=self.T), 1, out=out)

    # -- forward ---------------------------------------------------------------------------
    def forward(self, loss_out: torch.Tensor, acc_out: torch.Tensor) -> None:
        """Forward pass; writes sum(log p) and sum(sign margin) per model into the outputs."""
        D = self.D
        W = self.W
        if self.shared:
            self.W0cv.copy_(W[0])
        if D == 0:
            if self.shared:
                torch.mm(self.W0c, self.Xa, out=self.Zo2)
            else:
                torch.bmm(W[0], self.Xin, out=self.Zo)
        for l in range(D):
            if l == 0:
                if self.shared:
                    torch.mm(self.W0c, self.Xa, out=self.Zflat[0])
                else:
                    torch.bmm(W[0], self.Xin, out=self.Z[0])
            else:
                torch.bmm(W[l], self.A[l - 1], out=self.Z[l])
            self._act_forward(l)
        if D > 0:
            torch.bmm(W[D], self.A[D - 1], out=self.Zo)
        MG = torch.mul(self.Zo2, self.sgn, out=self.MG)
        torch.sigmoid(MG.clamp_(min=MARGIN_CLAMP), out=self.Pb)
        torch.sum(torch.log(self.Pb, out=self.Lg), 1, out=loss_out)
        torch.sum(MG.sign_(), 1, out=acc_out)

    def _act_forward(self, l: int) -> None:
        Z = self.Z[l]
        Y = self.Y[l]
        kind = self.kind
        if kind == "norm":
            if self.centre:
                Z.sub_(torch.mean(Z, 1, keepdim=True, out=self.M))
            S = self.S[l]
            self._chan_dot(Z, Z, self.Zp[l], self.Zp[l], S)
            S.add_(self.eps2).rsqrt_()
            if self.c != 1.0:
                S.mul_(self.c)
            torch.mul(Z, self.Su[l], out=Y)
        elif kind == "relu":
            torch.clamp(Z, min=0, out=Y)
        elif kind == "tanh":
            torch.tanh(Z, out=Y)
        elif kind == "gelu":
            torch.ops.aten.gelu.out(Z, approximate="none", out=Y)
        else:  # pragma: no cover - validated by ModelConfig
            raise ValueError(kind)

    # -- backward + Adam ---------------------------------------------------------------------
    def backward(self) -> None:
        """Gradient of the mean BCE of every model (into self.grad), after forward()."""
        D = self.D
        self.Pb.sub_(1.0).mul_(self.sgnN)  # (K, N): d loss / d logit
        dZo, dZou = self.Pb, self.Pbu
        if D == 0:
            if self.shared:
                torch.mm(self.Xa, dZo.t(), out=self.g0T)
                self.G[0].copy_(self.g0Tv)
            else:
                torch.bmm(dZou, self.XinT, out=self.gbuf[0])
                self.G[0].copy_(self.gbuf[0])
            return
        torch.bmm(dZou, self.AT[D - 1], out=self.gbuf[D])
        self.G[D].copy_(self.gbuf[D])
        buf = 0
        torch.mul(self.WoT, dZou, out=self.dY[buf])
        if self.kind == "norm":
            # y . dy = y . (w dz) = dz (w . y) = dz (logit - b): two ops instead of a channel sum
            torch.sub(self.Zo2, self.bo, out=self.dot).mul_(dZo)
        for l in range(D - 1, -1, -1):
            dZ, dZflat = self._act_backward(l, buf, dot_ready=(l == D - 1))
            if l == 0:
                if self.shared:
                    torch.mm(self.Xa, dZflat.t(), out=self.g0T)
                    self.G[0].copy_(self.g0Tv)
                else:
                    torch.bmm(dZ, self.XinT, out=self.gbuf[0])
                    self.G[0].copy_(self.gbuf[0])
            else:
                torch.bmm(dZ, self.AT[l - 1], out=self.gbuf[l])
                self.G[l].copy_(self.gbuf[l])
                buf = 1 - buf
                torch.bmm(self.WsT[l - 1], dZ, out=self.dY[buf])

    def _act_backward(self, l: int, buf: int, dot_ready: bool = False):
        """Turn dY (in self.dY[buf]) into dZ; returns (dZ, its (K*w, N) view)."""
        kind = self.kind
        dY = self.dY[buf]
        if kind == "norm":
            Y = self.Y[l]
            if not dot_ready:
                self._chan_dot(Y, dY, self.Yp[l], self.dYp[buf], self.dot)
            dY.addcmul_(Y, self.dotu, value=self.inv_c2).mul_(self.Su[l])
            if self.centre:
                dY.sub_(torch.mean(dY, 1, keepdim=True, out=self.M))
            return dY, self.dYflat[buf]
        if kind == "relu":
            torch.ops.aten.threshold_backward.grad_input(dY, self.Y[l], 0, grad_input=self.dZ)
        elif kind == "tanh":
            torch.ops.aten.tanh_backward.grad_input(dY, self.Y[l], grad_input=self.dZ)
        else:
            torch.ops.aten.gelu_backward.grad_input(dY, self.Z[l], approximate="none", grad_input=self.dZ)
        return self.dZ, self.dZflat

    def adam(self, lr: float, beta1: float, beta2: float, eps: float) -> None:
        """One Adam update of the flat (K, P) parameters (torch.optim.Adam's formula)."""
        self.t += 1
        bc1 = 1.0 - beta1**self.t
        bc2 = 1.0 - beta2**self.t
        root = math.sqrt(bc2)
        g = self.grad
        self.m.lerp_(g, 1.0 - beta1)
        self.v.mul_(beta2).addcmul_(g, g, value=1.0 - beta2)
        # lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps) == lr*sqrt(bc2)/bc1 * m / (sqrt(v) + eps*sqrt(bc2))
        torch.sqrt(self.v, out=self.den).add_(eps * root)
        self.flat.addcdiv_(self.m, self.den, value=-lr * root / bc1)


def loss_and_grad(config: ModelConfig, flat: torch.Tensor, X, y) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean BCE loss and its gradient by the hand-written backward (one or K models).

    ``flat`` (P,) or (K, P); returns (loss (K,) or scalar, grad like flat). For tests and
    notebooks; training uses the same engine without the allocation.
    """
    single = flat.dim() == 1
    F = flat.detach().reshape(1, -1) if single else flat.detach()
    F = F.clone()
    X = torch.as_tensor(np.asarray(X), dtype=F.dtype)
    y = torch.as_tensor(np.asarray(y))
    eng = _Engine(config, F, X.shape[0], shared_input=True, train=True)
    eng.set_data(X, y)
    loss = torch.empty(F.shape[0], dtype=F.dtype)
    acc = torch.empty(F.shape[0], dtype=F.dtype)
    with torch.inference_mode():
        eng.forward(loss, acc)
        eng.backward()
    loss = (-loss / X.shape[0]).clone()
    grad = eng.grad.clone()
    return (loss[0], grad[0]) if single else (loss, grad)


# ------------------------------------------------------------------------------------------
# phase transitions
# ------------------------------------------------------------------------------------------
def detect_phase_transitions(loss, *, smooth: int = 25, plateau: int = 100, plateau_tol: float = 0.1,
                             drop_factor: float = 2.0, drop_window: int = 250) -> list[int]:
    """Steps where the training loss leaves a plateau with a sharp drop.

    Definition: let L be the loss curve, smoothed by a centred moving average of ``smooth``
    steps on log(L). Step t *starts* a transition when

    * plateau: over the ``plateau`` steps up to t the smoothed log-loss stays within a band of
      width log(1 + plateau_tol) (it changes by less than ``plateau_tol``, e.g. 10 %), and
    * drop: within the next ``drop_window`` steps it falls by at least log(drop_factor)
      (the loss divides by ``drop_factor``).

    Consecutive starting steps form one event; the reported step is the steepest point of
    the smoothed curve in the event's drop window. A steadily decaying curve (no plateau) or
    a plateau that only creeps down has none. Non-finite values end the curve.
    """
    L = np.asarray(loss, dtype=np.float64).ravel()
    bad = ~np.isfinite(L)
    if bad.any():
        L = L[: int(np.argmax(bad))]
    n = len(L)
    if n < plateau + 2 or n < smooth:
        return []
    logl = np.log(np.maximum(L, 1e-30))
    if smooth > 1:
        pad_l, pad_r = smooth // 2, smooth - 1 - smooth // 2
        padded = np.concatenate([np.full(pad_l, logl[0]), logl, np.full(pad_r, logl[-1])])
        c = np.cumsum(np.concatenate([[0.0], padded]))
        S = (c[smooth:] - c[:-smooth]) / smooth
    else:
        S = logl
    win = np.lib.stride_tricks.sliding_window_view(S, plateau + 1)  # window ending at t = i + plateau
    band = win.max(axis=1) - win.min(axis=1)
    t = np.arange(plateau, n)
    future = S[np.minimum(t + drop_window, n - 1)]
    start = (band <= math.log1p(plateau_tol)) & (S[t] - future >= math.log(drop_factor))
    starts = t[start]
    if len(starts) == 0:
        return []
    events, out = [], []
    begin = prev = starts[0]
    for s in starts[1:]:
        if s - prev > 1:
            events.append(begin)
            begin = s
        prev = s
    events.append(begin)
    slope = np.diff(S)
    for e in events:
        seg = slope[e : min(e + drop_window, n - 1)]
        step = int(e + np.argmin(seg)) if len(seg) else int(e)
        if not out or step - out[-1] > drop_window:
            out.append(step)
    return out


# ------------------------------------------------------------------------------------------
# results
# ------------------------------------------------------------------------------------------
@dataclass
class TrainResult:
    """Outcome of :func:`train`.

    ``history``: ``step`` (0..steps_done), ``train_loss``, ``train_acc`` (same length),
    ``test_step``, ``test_loss``, ``test_acc`` (evaluation steps; empty without test data).
    ``checkpoints``: {step: flat float32 parameters}. ``status``: "completed",
    "target_reached", "cancelled" or "non_finite" (``message`` says more; ``params`` are
    then the last parameters checked finite). ``time_to_target_s``: wall time until the
    target accuracy was reached (None if not set or not reached).
    """

    params: MLPParams
    train_config: TrainConfig
    history: dict[str, np.ndarray]
    phase_transitions: list[int]
    checkpoints: dict[int, np.ndarray]
    status: str
    message: str
    steps_done: int
    elapsed_s: float
    time_to_target_s: float | None = None

    @property
    def final_train_accuracy(self) -> float:
        return float(self.history["train_acc"][-1])

    @property
    def final_test_accuracy(self) -> float | None:
        acc = self.history["test_acc"]
        return float(acc[-1]) if len(acc) else None

    def checkpoint_params(self, step: int) -> MLPParams:
        return MLPParams(self.params.config, torch.as_tensor(self.checkpoints[step]))

    def summary(self) -> dict:
        return {
            "status": self.status,
            "message": self.message,
            "steps_done": self.steps_done,
            "elapsed_s": round(self.elapsed_s, 4),
            "time_to_target_s": self.time_to_target_s,
            "final_train_loss": float(self.history["train_loss"][-1]),
            "final_train_accuracy": self.final_train_accuracy,
            "final_test_accuracy": self.final_test_accuracy,
            "phase_transitions": list(self.phase_transitions),
        }


@dataclass
class SweepResult:
    """Outcome of :func:`seed_sweep`: one row per seed.

    ``final_train_acc``/``final_test_acc`` (NaN for a seed whose loss became non-finite),
    ``transition_step`` (first detected phase transition, -1 if none), ``phase_transitions``
    (all, per seed), ``diverged_step`` (-1 if finite throughout), ``history`` with
    ``train_loss``/``train_acc`` (K, steps + 1) and ``test_loss``/``test_acc`` (K, E) at
    ``test_step``. ``flat``: final parameters (K, P).
    """

    model_config: ModelConfig
    train_config: TrainConfig
    seeds: np.ndarray
    final_train_acc: np.ndarray
    final_test_acc: np.ndarray
    transition_step: np.ndarray
    phase_transitions: list[list[int]]
    diverged_step: np.ndarray
    history: dict[str, np.ndarray]
    flat: torch.Tensor
    status: str
    elapsed_s: float

    def params(self, index: int) -> MLPParams:
        """The final model of the seed at position ``index``."""
        return MLPParams(self.model_config, self.flat[index].clone())


# ------------------------------------------------------------------------------------------
# the training loop (shared by train and seed_sweep)
# ------------------------------------------------------------------------------------------
def _prepare(X, y, dtype, name="X"):
    X = torch.as_tensor(np.asarray(X), dtype=dtype)
    y = torch.as_tensor(np.asarray(y))
    if X.dim() != 2 or y.dim() != 1 or len(X) != len(y) or len(X) == 0:
        raise ValueError(f"{name} must be (n, d) and its labels (n,), got {tuple(X.shape)} and {tuple(y.shape)}")
    if not bool(((y == 0) | (y == 1)).all()):
        raise ValueError("labels must be 0 or 1")
    return X, y


def _run(model: ModelConfig, tc: TrainConfig, X, y, X_test, y_test, seeds: list[int],
         on_progress: ProgressFn | None, init: torch.Tensor | None = None) -> dict:
    dtype = tc.torch_dtype
    X, y = _prepare(X, y, dtype)
    if X.shape[1] != model.in_dim:
        raise ValueError(f"X has {X.shape[1]} columns but the model's in_dim is {model.in_dim}")
    has_test = X_test is not None
    if has_test:
        X_test, y_test = _prepare(X_test, y_test, dtype, "X_test")
        if X_test.shape[1] != model.in_dim:
            raise ValueError(f"X_test has {X_test.shape[1]} columns but the model's in_dim is {model.in_dim}")
    n = X.shape[0]
    if tc.batch_size > n:
        raise ValueError(f"batch_size must be in [0, {n}] (0 = full batch), got {tc.batch_size}")
    K = len(seeds)
    T = tc.steps
    if init is not None:
        flat = init.detach().to(dtype).reshape(K, -1).clone()
    else:
        flat = torch.stack([init_params(model, s, dtype) for s in seeds])
    minibatch = 0 < tc.batch_size < n
    B = tc.batch_size if minibatch else n
    eng = _Engine(model, flat, B, shared_input=not minibatch, train=True)
    if minibatch:
        XaT_full = torch.cat([X, torch.ones(n, 1, dtype=dtype)], 1)
        sgn_full = y.to(dtype) * 2 - 1
        rngs = [np.random.default_rng([s, 1]) for s in seeds]
        per_epoch = n // B
        order = None
        full_eval = _Engine(model, flat, n, shared_input=True, train=False)
        full_eval.set_data(X, y)
    else:
        eng.set_data(X, y)
        full_eval = eng
    test_eng = None
    if has_test:
        test_eng = _Engine(model, flat, X_test.shape[0], shared_input=True, train=False)
        test_eng.set_data(X_test, y_test)

    hist_loss = torch.zeros(T + 1, K, dtype=dtype)  # sum of log p
    hist_acc = torch.zeros(T + 1, K, dtype=dtype)  # sum of sign(margin)
    eval_steps = list(range(0, T, tc.eval_every)) + [T]
    test_loss = torch.full((len(eval_steps), K), float("nan"), dtype=dtype)
    test_acc = torch.full((len(eval_steps), K), float("nan"), dtype=dtype)
    n_test = X_test.shape[0] if has_test else 1
    ckpt_steps = set(tc.checkpoint_steps)
    if tc.checkpoint_every:
        ckpt_steps.update(range(0, T + 1, tc.checkpoint_every))
    if ckpt_steps:
        ckpt_steps.update((0, T))
    checkpoints: dict[int, torch.Tensor] = {}
    check_every = min(tc.progress_every, 100)
    lr, b1, b2, aeps = tc.lr, tc.beta1, tc.beta2, tc.adam_eps
    diverged = np.full(K, -1, dtype=np.int64)
    last_good = flat.clone()
    status, message = "completed", ""
    t_start = time.perf_counter()
    time_to_target = None
    eval_i = 0
    steps_done = T
    tmp_l = torch.empty(K, dtype=dtype)
    tmp_a = torch.empty(K, dtype=dtype)

    def evaluate(step_index: int) -> None:
        nonlocal eval_i
        if has_test:
            test_eng.forward(tmp_l, tmp_a)
            test_loss[eval_i].copy_(tmp_l).mul_(-1.0 / n_test)
            test_acc[eval_i].copy_(tmp_a).add_(n_test).mul_(0.5 / n_test)
        eval_i += 1

    def metrics(t: int) -> dict:
        lo = -hist_loss[t] / B
        ac = (hist_acc[t] + B) / (2 * B)
        out = {"step": t, "train_loss": float(lo.mean()), "train_acc": float(ac.mean()),
               "elapsed_s": time.perf_counter() - t_start}
        if has_test and eval_i:
            out["test_loss"] = float(test_loss[eval_i - 1].mean())
            out["test_acc"] = float(test_acc[eval_i - 1].mean())
            out["test_step"] = eval_steps[eval_i - 1]
        if K > 1:
            out["best_train_acc"] = float(ac.max())
        return out

    last_check = 0
    with torch.inference_mode():
        t = 0
        while t < T:
            if t == eval_steps[eval_i]:
                evaluate(t)
                if tc.target_accuracy is not None and has_test and float(test_acc[eval_i - 1].max()) >= tc.target_accuracy:
                    status, steps_done = "target_reached", t
                    time_to_target = time.perf_counter() - t_start
                    message = f"test accuracy {float(test_acc[eval_i - 1].max()):.4f} reached the target at step {t}"
                    break
            if t in ckpt_steps:
                checkpoints[t] = flat.clone()
            if minibatch:
                j = t % per_epoch
                if j == 0:
                    order = torch.from_numpy(np.stack([r.permutation(n)[: per_epoch * B] for r in rngs]))
                eng.set_batch(XaT_full, sgn_full, order[:, j * B : (j + 1) * B])
            eng.forward(hist_loss[t], hist_acc[t])
            eng.backward()
            eng.adam(lr, b1, b2, aeps)
            t += 1
            if t % check_every == 0 or t == T or (on_progress is not None and t % tc.progress_every == 0):
                finite = torch.isfinite(hist_loss[last_check:t]).all(0)
                if not bool(finite.all()):
                    bad_rows = (~torch.isfinite(hist_loss[last_check:t])).numpy()
                    for k in np.flatnonzero(~finite.numpy()):
                        if diverged[k] < 0:
                            diverged[k] = last_check + int(np.argmax(bad_rows[:, k]))
                    if K == 1 or (diverged >= 0).all():
                        steps_done = int(diverged.min())
                        status = "non_finite"
                        message = (f"the training loss became non-finite at step {steps_done} "
                                   f"(try a smaller learning rate); parameters are from step {last_check}")
                        flat.copy_(last_good)
                        break
                else:
                    last_good.copy_(flat)
                last_check = t
                if on_progress is not None and (t % tc.progress_every == 0 or t == T):
                    if on_progress(t, T, metrics(t - 1)) is False:
                        status, steps_done = "cancelled", t
                        message = f"cancelled at step {t}"
                        break
        if status != "non_finite":
            # final point: metrics of the parameters after steps_done updates
            if ckpt_steps:
                checkpoints[steps_done] = flat.clone()
            full_eval.forward(tmp_l, tmp_a)
            hist_loss[steps_done].copy_(tmp_l)
            hist_acc[steps_done].copy_(tmp_a)
            if has_test and (eval_i == 0 or eval_steps[eval_i - 1] != steps_done):
                eval_steps[eval_i] = steps_done
                evaluate(steps_done)
    elapsed = time.perf_counter() - t_start
    last = steps_done  # for a non-finite run this row is the first bad one, kept on purpose
    n_rows = last + 1
    loss_arr = (-hist_loss[:n_rows] / B).T.numpy().astype(np.float64)
    acc_arr = ((hist_acc[:n_rows] + B) / (2 * B)).T.numpy().astype(np.float64)
    if minibatch and status != "non_finite":
        # the last row is a full-data evaluation
        loss_arr[:, -1] = (-hist_loss[last] / n).numpy()
        acc_arr[:, -1] = ((hist_acc[last] + n) / (2 * n)).numpy()
    return {
        "flat": flat.detach().clone(),
        "loss": loss_arr,
        "acc": acc_arr,
        "test_step": np.asarray(eval_steps[:eval_i], dtype=np.int64) if has_test else np.zeros(0, np.int64),
        "test_loss": test_loss[:eval_i].T.numpy().astype(np.float64) if has_test else np.zeros((K, 0)),
        "test_acc": test_acc[:eval_i].T.numpy().astype(np.float64) if has_test else np.zeros((K, 0)),
        "checkpoints": {s: c.numpy().astype(np.float32) for s, c in sorted(checkpoints.items())},
        "status": status,
        "message": message,
        "steps_done": steps_done,
        "elapsed": elapsed,
        "time_to_target": time_to_target,
        "diverged": diverged,
        "has_test": has_test,
        "X": X, "y": y, "X_test": X_test, "y_test": y_test,
    }


def _exact_accuracy(model: ModelConfig, flat: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Exact accuracy (logit > 0 <=> class 1) of each of the K models."""
    from polyviz.models import forward

    with torch.inference_mode():
        logits = forward(model, flat, X)  # (K, N)
        return ((logits > 0) == y.bool()).to(torch.float64).mean(-1).numpy()


def train(model: ModelConfig, train_config: TrainConfig, X, y, X_test=None, y_test=None, *,
          on_progress: ProgressFn | None = None, init: torch.Tensor | None = None) -> TrainResult:
    """Train one model with Adam (hand-written forward/backward, see the module docstring).

    ``X`` (n, d) float, ``y`` (n,) in {0, 1}; optional test split. Deterministic for
    ``train_config.seed`` (the initialisation and the minibatch order). ``on_progress(step,
    total, metrics)`` is called every ``progress_every`` steps; returning ``False`` cancels
    (status "cancelled", the result holds everything up to then). A non-finite loss stops
    the run (status "non_finite" and a message). ``init`` overrides the initial parameters.
    """
    run = _run(model, train_config, X, y, X_test, y_test, [train_config.seed], on_progress, init)
    flat = run["flat"][0]
    steps = np.arange(run["loss"].shape[1])
    history = {
        "step": steps,
        "train_loss": run["loss"][0],
        "train_acc": run["acc"][0],
        "test_step": run["test_step"],
        "test_loss": run["test_loss"][0],
        "test_acc": run["test_acc"][0],
    }
    if run["status"] != "non_finite":
        # replace the sign-based final accuracies by exact ones
        history["train_acc"][-1] = _exact_accuracy(model, flat[None], run["X"], run["y"])[0]
        if run["has_test"] and len(history["test_acc"]):
            history["test_acc"][-1] = _exact_accuracy(model, flat[None], run["X_test"], run["y_test"])[0]
    checkpoints = {s: c[0] for s, c in run["checkpoints"].items()}
    params = MLPParams(model, flat, meta={"train_config": train_config.to_dict()})
    return TrainResult(
        params=params,
        train_config=train_config,
        history=history,
        phase_transitions=detect_phase_transitions(history["train_loss"]),
        checkpoints=checkpoints,
        status=run["status"],
        message=run["message"],
        steps_done=run["steps_done"],
        elapsed_s=run["elapsed"],
        time_to_target_s=run["time_to_target"],
    )


def seed_sweep(model: ModelConfig, train_config: TrainConfig, X, y, X_test=None, y_test=None, *,
               seeds=None, n_seeds: int | None = None, on_progress: ProgressFn | None = None) -> SweepResult:
    """Train the same set-up from K seeds at once, in one batched tensor program.

    ``seeds``: explicit list (K <= 256), or ``n_seeds`` seeds starting at
    ``train_config.seed``. Seed s gives exactly the model :func:`train` would give with
    ``seed=s`` (same initialisation, same minibatch order, same arithmetic up to float
    rounding). A seed whose loss becomes non-finite is marked (``diverged_step``) and the
    others go on. ``target_accuracy`` stops when *any* seed reaches it; checkpoints are not
    kept. ``on_progress`` gets mean metrics over the seeds.
    """
    if seeds is None:
        if n_seeds is None:
            raise ValueError("give seeds or n_seeds")
        if isinstance(n_seeds, bool) or not isinstance(n_seeds, (int, np.integer)) or not 1 <= n_seeds <= MAX_SEEDS:
            raise ValueError(f"n_seeds must be an integer in [1, {MAX_SEEDS}], got {n_seeds!r}")
        seeds = [train_config.seed + i for i in range(n_seeds)]
    seeds = [int(s) for s in seeds]
    if not 1 <= len(seeds) <= MAX_SEEDS:
        raise ValueError(f"the number of seeds must be in [1, {MAX_SEEDS}], got {len(seeds)}")
    if len(set(seeds)) != len(seeds):
        raise ValueError("seeds must be distinct")
    if len(seeds) * train_config.steps > MAX_SWEEP_MODEL_STEPS:
        raise ValueError(f"seeds x steps must be <= {MAX_SWEEP_MODEL_STEPS:,} (the per-step history), "
                         f"got {len(seeds)} x {train_config.steps}")
    tc = train_config.replace(checkpoint_every=0, checkpoint_steps=[])
    run = _run(model, tc, X, y, X_test, y_test, seeds, on_progress)
    flat = run["flat"]
    K = len(seeds)
    diverged = run["diverged"]
    train_acc = _exact_accuracy(model, flat, run["X"], run["y"])
    test_acc = (_exact_accuracy(model, flat, run["X_test"], run["y_test"]) if run["has_test"]
                else np.full(K, np.nan))
    bad = diverged >= 0
    train_acc[bad] = np.nan
    test_acc[bad] = np.nan
    transitions = [detect_phase_transitions(run["loss"][k]) for k in range(K)]
    first = np.array([tr[0] if tr else -1 for tr in transitions], dtype=np.int64)
    history = {
        "step": np.arange(run["loss"].shape[1]),
        "train_loss": run["loss"],
        "train_acc": run["acc"],
        "test_step": run["test_step"],
        "test_loss": run["test_loss"],
        "test_acc": run["test_acc"],
    }
    return SweepResult(
        model_config=model,
        train_config=tc,
        seeds=np.asarray(seeds, dtype=np.int64),
        final_train_acc=train_acc,
        final_test_acc=test_acc,
        transition_step=first,
        phase_transitions=transitions,
        diverged_step=diverged,
        history=history,
        flat=flat,
        status=run["status"],
        elapsed_s=run["elapsed"],
    )


# ------------------------------------------------------------------------------------------
# presets reproducing the research
# ------------------------------------------------------------------------------------------
@dataclass
class DataSpec:
    """Which data set and split: ``make_dataset(name, n, noise, seed, **params)`` then
    ``train_test_split(..., train_ratio, seed)``."""

    name: str
    n: int
    noise: float
    seed: int = 0
    params: dict = field(default_factory=dict)
    train_ratio: float = 0.8

    def load(self):
        """(X_train, X_test, y_train, y_test)."""
        from polyviz.datasets import make_dataset, train_test_split

        X, y = make_dataset(self.name, self.n, self.noise, self.seed, **self.params)
        return train_test_split(X, y, self.train_ratio, self.seed)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Preset:
    name: str
    description: str
    data: DataSpec
    model: ModelConfig
    train: TrainConfig
    target_accuracy: float  # the test accuracy the default seed is known to reach

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "data": self.data.to_dict(),
                "model": self.model.to_dict(), "train": self.train.to_dict(),
                "target_accuracy": self.target_accuracy}


# Default seeds were found by training seeds 0..15 of each preset (one by one, and again as a
# float32 sweep, a float64 sweep and with two threads, since a seed near a plateau can go
# either way with rounding) and taking one that reaches the target in every variant:
# * spiral: 9 of 16 seeds reached 97 % test accuracy within 3000 steps when trained one by one
#   (0.81-0.84 otherwise, stuck on the plateau). Seed 4 (also 3, 12) succeeds in all variants;
#   it plateaus near loss 0.35 and drops at step ~1430-1490 (97 % test accuracy at step 1470).
# * octant_sphere: 10 of 12 seeds reached 95 % within 6000 steps one by one; seed 0 succeeds in
#   all variants (95 % test accuracy at step 780, final 0.988). The loss curve is spiky.
PRESETS: dict[str, Preset] = {
    "spiral": Preset(
        name="spiral",
        description=("Two-arm spiral (0.75 turns, 1000 training points, noise 0.01) solved by a width-3 "
                     "u_eps MLP, Linear -> u_eps -> Linear -> u_eps -> Linear; Adam lr 0.02, full batch. "
                     "Many seeds sit on a plateau first and then drop sharply (a phase transition)."),
        data=DataSpec("spiral", n=1250, noise=0.01, seed=0, params={"turns": 0.75}, train_ratio=0.8),
        model=ModelConfig(in_dim=2, width=3, depth=2, activation="u_eps", eps=1e-5),
        train=TrainConfig(steps=3000, lr=0.02, seed=4, eval_every=10, checkpoint_every=100),
        target_accuracy=0.97,
    ),
    "octant_sphere": Preset(
        name="octant_sphere",
        description=("Points on the sphere S2, adjacent octants in opposite classes (1000 training points), "
                     "solved by a deeper width-3 u_eps stack (4 hidden layers); Adam lr 0.02, full batch. "
                     "Training passes through several plateaus."),
        data=DataSpec("octant_sphere", n=1250, noise=0.0, seed=0, params={}, train_ratio=0.8),
        model=ModelConfig(in_dim=3, width=3, depth=4, activation="u_eps", eps=1e-5),
        train=TrainConfig(steps=6000, lr=0.02, seed=0, eval_every=10, checkpoint_every=200),
        target_accuracy=0.95,
    ),
}
PRESET_NAMES = tuple(PRESETS)


def get_preset(name: str) -> Preset:
    if name not in PRESETS:
        raise ValueError(f"preset must be one of {', '.join(PRESET_NAMES)}; got {name!r}")
    p = PRESETS[name]
    # fresh copies: callers may change them
    return Preset(p.name, p.description, DataSpec(**p.data.to_dict()), ModelConfig.from_dict(p.model.to_dict()),
                  TrainConfig.from_dict(p.train.to_dict()), p.target_accuracy)


def train_preset(name: str, *, on_progress: ProgressFn | None = None, **train_overrides) -> tuple[TrainResult, tuple]:
    """Train a preset (optionally overriding TrainConfig fields, e.g. ``seed=3``).

    Returns ``(result, (X_train, X_test, y_train, y_test))``.
    """
    p = get_preset(name)
    tc = p.train.replace(**train_overrides) if train_overrides else p.train
    data = p.data.load()
    Xtr, Xte, ytr, yte = data
    return train(p.model, tc, Xtr, ytr, Xte, yte, on_progress=on_progress), data
