"""The engine: forward, backward and Adam for K models at once, written by hand.

Speed
-----
The networks are tiny (the spiral model has 28 parameters), so per-operation overhead is the
whole cost. The engine (:class:`Engine`) therefore

* keeps all parameters of K models in ONE flat tensor of shape (K, P) with per-layer views
  (layout: :func:`polyviz.models.layer_views`), and the gradient, Adam moments likewise, so
  the Adam step (:func:`adam_step`) is six in-place ops on the whole tensor;
* writes the forward and backward by hand (no autograd): activations are stored
  channel-major, (K, width + 1, N) with a constant row of ones, so each Linear layer (bias
  included) is one ``bmm`` forward and one ``bmm`` for its gradient; when the input is shared
  by all models (full batch) the first layer is a single ``mm``;
* preallocates every buffer and uses ``out=`` / in-place ops, so the loop allocates no large
  tensor (large allocations would page-fault on every step);
* runs under ``torch.inference_mode`` (the caller's loop enters it).

The backward of the normalising activations follows from y = c * s * x~, s = (|x~|^2 +
eps')^-1/2, x~ the (centred, for layernorm) input, c = 1 for u_eps and sqrt(n) for
layernorm/rmsnorm (eps' = n * eps): dx~ = c * s * (dy - y^ (y^ . dy)) with y^ = y / c, the
u_eps Jacobian-vector product; layernorm then centres dx~. ReLU, GELU and tanh use ATen's
backward kernels. ``tests/test_training.py`` checks every activation against autograd in
float64.

The loss is the mean binary cross-entropy with logits, -log sigmoid(m) for the signed
margin m = (2y - 1) * logit, computed by ATen's stable log-sigmoid (min(m, 0) -
log1p(exp(-|m|))): log(sigmoid(m)) would round sigmoid(m) to exactly 1 in float32 for m
above ~16.6 (loss 0, no gradient) and to 0 for m below ~-88 (loss inf). Its gradient,
d loss / d m = -sigmoid(-m), is computed as sigmoid(-m) directly, not as sigmoid(m) - 1,
for the same reason. A finite margin always gives a finite loss, so a non-finite loss
means the parameters themselves overflowed (a diverging run).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from polyviz.models import ModelConfig, dyt_alpha_view, layer_views


@dataclass
class AdamState:
    """Adam's moments for flat (K, P) parameters, and the number of steps taken."""

    m: torch.Tensor
    v: torch.Tensor
    den: torch.Tensor  # scratch: the denominator, kept to avoid an allocation per step
    t: int = 0

    @classmethod
    def zeros_like(cls, flat: torch.Tensor) -> "AdamState":
        return cls(torch.zeros_like(flat), torch.zeros_like(flat), torch.zeros_like(flat))


def adam_step(flat: torch.Tensor, grad: torch.Tensor, state: AdamState, lr: float, beta1: float, beta2: float,
              eps: float) -> None:
    """The Adam step: one update of ``flat`` in place (torch.optim.Adam's formula)."""
    state.t += 1
    bc1 = 1.0 - beta1**state.t
    bc2 = 1.0 - beta2**state.t
    root = math.sqrt(bc2)
    state.m.lerp_(grad, 1.0 - beta1)
    state.v.mul_(beta2).addcmul_(grad, grad, value=1.0 - beta2)
    # lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps) == lr*sqrt(bc2)/bc1 * m / (sqrt(v) + eps*sqrt(bc2))
    torch.sqrt(state.v, out=state.den).add_(eps * root)
    flat.addcdiv_(state.m, state.den, value=-lr * root / bc1)


def _activation_kind(name: str, width: int, eps: float, groups: int = 1):
    """(kind, c, eps', centre) for the activation. Grouped LayerNorm over groups of m
    neurons is sqrt(m) * u_{m*eps} of each centred group ("gnorm"; one group is layernorm)."""
    if name == "group_layernorm":
        if groups == 1:
            name = "layernorm"
        else:
            m = width // groups
            return "gnorm", math.sqrt(m), m * eps, True
    if name == "u_eps":
        return "norm", 1.0, eps, False
    if name == "rmsnorm":
        return "norm", math.sqrt(width), width * eps, False
    if name == "layernorm":
        return "norm", math.sqrt(width), width * eps, True
    return name, 1.0, 0.0, False


class LossHead:
    """The loss on the output logits Zo (K, C, N) of K models, and its gradient.

    * C = 1 (binary): the mean logistic loss, -log sigmoid(m) of the signed margin
      m = (2y - 1) * logit (stable log-sigmoid; the gradient from sigmoid(-m)).
    * C > 1 (multiclass): the mean softmax cross-entropy, -log softmax(z)_y, by the stable
      log-sum-exp (z - max z never overflows); gradient (softmax(z) - onehot(y)) / N.

    :meth:`forward` writes, per model, the sum of log p(y) (minus the summed loss) and the
    signed count of right answers, sum(+1 right, -1 wrong; 0 for a binary logit of exactly
    0), so accuracy = (signed + N) / 2N for both kinds. A multiclass point counts as right
    when its class's logit is the largest (ties included).
    """

    def __init__(self, n_classes: int, K: int, n: int, dtype: torch.dtype, shared: bool):
        E = lambda *shape: torch.empty(*shape, dtype=dtype)  # noqa: E731
        C = 1 if n_classes == 2 else n_classes
        self.C, self.N, self.dtype = C, n, dtype
        rows = 1 if shared else K
        self.Zo = E(K, C, n)
        self.Zo2 = self.Zo.view(K * C, n)  # for the single mm of a depth-0 model
        self.Lg = E(K, n)
        if C == 1:
            self.sgn = E(rows, n)  # +1 / -1 targets
            self.nsgnN = E(rows, n)  # -targets / N
            self.MG = E(K, n)
            self.Pb = E(K, n)
            self.dZo = self.Pb.unsqueeze(1)
        else:
            self.onehot = E(rows, C, n)
            self.mx = E(K, 1, n)
            self.ex = E(K, C, n)
            self.se = E(K, 1, n)
            self.zy = E(K, 1, n)
            self.dZo = self.ex
            self.right = torch.empty(K, 1, n, dtype=torch.bool)

    def targets(self, y: torch.Tensor) -> torch.Tensor:
        """Per-point targets of labels y (n,): +1/-1 (binary) or one-hot rows (n, C)."""
        if self.C == 1:
            return y.to(self.dtype) * 2 - 1
        return torch.nn.functional.one_hot(y.long(), self.C).to(self.dtype)

    def set_targets(self, y: torch.Tensor) -> None:
        """Shared targets from labels y (N,)."""
        t = self.targets(y)
        if self.C == 1:
            self.sgn.copy_(t.view(1, -1))
            self.nsgnN.copy_(t.view(1, -1) / -self.N)
        else:
            self.onehot.copy_(t.t().unsqueeze(0))

    def set_batch(self, targets_full: torch.Tensor, idx: torch.Tensor) -> None:
        """Per-model targets: rows ``idx`` (K, N) of targets_full (from :meth:`targets`)."""
        if self.C == 1:
            torch.index_select(targets_full, 0, idx.reshape(-1), out=self.sgn.view(-1))
            torch.mul(self.sgn, -1.0 / self.N, out=self.nsgnN)
        else:
            self.onehot.copy_(targets_full[idx].transpose(1, 2))

    def forward(self, loss_out: torch.Tensor, acc_out: torch.Tensor) -> None:
        if self.C == 1:
            MG = torch.mul(self.Zo.view(-1, self.N), self.sgn, out=self.MG)
            torch.ops.aten.log_sigmoid_forward.output(MG, output=self.Lg, buffer=self.Pb)  # Pb: scratch here
            torch.neg(MG, out=self.Pb).sigmoid_()  # kept for the backward pass
            torch.sum(self.Lg, 1, out=loss_out)
            torch.sum(MG.sign_(), 1, out=acc_out)
            return
        Zo, mx, ex, se, zy = self.Zo, self.mx, self.ex, self.se, self.zy
        torch.amax(Zo, 1, keepdim=True, out=mx)
        torch.sum(torch.mul(Zo, self.onehot, out=ex), 1, keepdim=True, out=zy)  # the true class's logit
        torch.ge(zy, mx, out=self.right)
        torch.sub(Zo, mx, out=ex).exp_()
        torch.sum(ex, 1, keepdim=True, out=se)
        # log p(y) = z_y - max z - log(sum exp(z - max z)); ex becomes the softmax for backward()
        torch.sub(zy, mx, out=self.Lg.view(zy.shape)).sub_(torch.log(se, out=mx))
        ex.div_(se)
        torch.sum(self.Lg, 1, out=loss_out)
        torch.sum(self.right.view(-1, self.N), 1, out=acc_out)
        acc_out.mul_(2).sub_(self.N)

    def backward(self) -> torch.Tensor:
        """d mean loss / d logits (K, C, N), after forward()."""
        if self.C == 1:
            self.Pb.mul_(self.nsgnN)  # -sigmoid(-margin) * target / N
            return self.dZo
        return self.ex.sub_(self.onehot).mul_(1.0 / self.N)


class Engine:
    """Forward and backward for K models on one fixed set of N points (with ``train=True``
    also the gradient buffer ``grad`` and Adam's state ``adam``, for :func:`adam_step`).

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
        self.kind, self.c, self.eps2, self.centre = _activation_kind(config.activation, w, config.eps, config.groups)
        self.g = config.groups
        self.inv_c2 = -1.0 / (self.c * self.c)
        E = lambda *shape: torch.empty(*shape, dtype=dtype)  # noqa: E731
        self.W = layer_views(config, flat)
        self.head = LossHead(config.n_classes, K, n, dtype, shared_input)
        C = self.head.C
        out0 = w if D > 0 else C
        # input: shared (d+1, N) with a ones row, or per model (K, d+1, N)
        if shared_input:
            self.Xa = torch.ones(d + 1, n, dtype=dtype)
            self.W0c = E(K * out0, d + 1)  # contiguous copy of layer 0's weights
            self.W0cv = self.W0c.view(K, out0, d + 1)
        else:
            self.Xin = torch.ones(K, d + 1, n, dtype=dtype)
            self.XinT = self.Xin.transpose(1, 2)
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
        if self.kind == "gnorm":  # per group: (K, g, m, N) views, scales (K, g, 1, N)
            g, m = config.groups, w // config.groups
            self.Zg = [z.view(K, g, m, n) for z in self.Z]
            self.Yg = [y.view(K, g, m, n) for y in self.Y]
            self.S = [E(K, g, 1, n) for _ in range(D)]
            self.Mg = E(K, g, 1, n)
        if self.kind == "dyt":
            self.alpha = dyt_alpha_view(config, flat).unsqueeze(-1).unsqueeze(-1)  # (K, D, 1, 1)
        if self.centre:
            self.M = E(K, 1, n)
        if self.kind == "norm" and w > 4:
            self.T = E(K, w, n)
        self.Zo, self.Zo2 = self.head.Zo, self.head.Zo2
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
                if self.kind == "gnorm":
                    self.dYg = [b.view(K, self.g, w // self.g, n) for b in self.dY]
                    self.dotg = E(K, self.g, 1, n)
                if self.kind == "dyt":
                    self.Galpha = dyt_alpha_view(config, self.grad)  # (K, D)
                self.dYflat = [b.view(K * w, n) for b in self.dY]
                self.dYp = [[b[:, j] for j in range(w)] for b in self.dY]
                self.dot = E(K, n)
                self.dotu = self.dot.unsqueeze(1)
                if self.kind in ("relu", "tanh", "gelu", "dyt"):
                    self.dZ = E(K, w, n)
                    self.dZflat = self.dZ.view(K * w, n)
                self.WoT = self.W[D][:, :, :w].transpose(1, 2)  # (K, w, C)
                self.bo = self.W[D][:, 0, w:]  # (K, 1) output bias (binary)
                self.WsT = [self.W[l][:, :, :w].transpose(1, 2) for l in range(1, D + 1)]
            self.adam = AdamState.zeros_like(flat)

    # -- data ----------------------------------------------------------------------------
    def set_data(self, X: torch.Tensor, y: torch.Tensor) -> None:
        """Shared input: X (N, d), y (N,) labels in 0..n_classes-1."""
        self.Xa[:-1].copy_(X.t())
        self.head.set_targets(y)

    def set_batch(self, XaT_full: torch.Tensor, targets_full: torch.Tensor, idx: torch.Tensor) -> None:
        """Per-model input: rows ``idx`` (K, N) of XaT_full (n, d+1) and of targets_full
        (``head.targets(y)``: +1/-1 (n,) for binary, one-hot (n, C) for multiclass)."""
        self.Xin.copy_(XaT_full[idx].transpose(1, 2))
        self.head.set_batch(targets_full, idx)

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
        """Forward pass; writes sum(log p(y)) and the signed count of right answers per model
        into the outputs (see :class:`LossHead`)."""
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
        self.head.forward(loss_out, acc_out)

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
        elif kind == "gnorm":
            Zg, Yg, S = self.Zg[l], self.Yg[l], self.S[l]
            Zg.sub_(torch.mean(Zg, 2, keepdim=True, out=self.Mg))
            torch.sum(Zg * Zg, 2, keepdim=True, out=S)
            S.add_(self.eps2).rsqrt_().mul_(self.c)
            torch.mul(Zg, S, out=Yg)
        elif kind == "dyt":
            torch.mul(Z, self.alpha[:, l], out=Y).tanh_()
        elif kind == "none":
            Y.copy_(Z)
        elif kind == "relu":
            torch.clamp(Z, min=0, out=Y)
        elif kind == "tanh":
            torch.tanh(Z, out=Y)
        elif kind == "gelu":
            torch.ops.aten.gelu.out(Z, approximate="none", out=Y)
        else:  # pragma: no cover - validated by ModelConfig
            raise ValueError(kind)

    # -- backward ----------------------------------------------------------------------------
    def backward(self) -> None:
        """Gradient of the mean loss of every model (into self.grad), after forward()."""
        D = self.D
        dZou = self.head.backward()  # (K, C, N)
        C = self.head.C
        if D == 0:
            if self.shared:
                torch.mm(self.Xa, dZou.view(-1, self.N).t(), out=self.g0T)
                self.G[0].copy_(self.g0Tv)
            else:
                torch.bmm(dZou, self.XinT, out=self.gbuf[0])
                self.G[0].copy_(self.gbuf[0])
            return
        torch.bmm(dZou, self.AT[D - 1], out=self.gbuf[D])
        self.G[D].copy_(self.gbuf[D])
        buf = 0
        if C == 1:
            torch.mul(self.WoT, dZou, out=self.dY[buf])
        else:
            torch.bmm(self.WoT, dZou, out=self.dY[buf])
        if self.kind == "norm" and C == 1:
            # y . dy = y . (w dz) = dz (w . y) = dz (logit - b): two ops instead of a channel sum
            torch.sub(self.Zo2, self.bo, out=self.dot).mul_(dZou.view(-1, self.N))
        for l in range(D - 1, -1, -1):
            dZ, dZflat = self._act_backward(l, buf, dot_ready=(l == D - 1 and C == 1))
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
        if kind == "gnorm":
            # the u_eps Jacobian-vector product within each group, then centring per group
            Yg, dYg = self.Yg[l], self.dYg[buf]
            torch.sum(Yg * dYg, 2, keepdim=True, out=self.dotg)
            dYg.addcmul_(Yg, self.dotg, value=self.inv_c2).mul_(self.S[l])
            dYg.sub_(torch.mean(dYg, 2, keepdim=True, out=self.Mg))
            return dY, self.dYflat[buf]
        if kind == "none":
            return dY, self.dYflat[buf]
        if kind == "dyt":
            # y = tanh(a z): dz = a (1 - y^2) dy, da = sum z (1 - y^2) dy
            torch.ops.aten.tanh_backward.grad_input(dY, self.Y[l], grad_input=self.dZ)
            torch.sum(self.dZ * self.Z[l], (1, 2), out=self.Galpha[:, l])
            self.dZ.mul_(self.alpha[:, l])
            return self.dZ, self.dZflat
        if kind == "relu":
            torch.ops.aten.threshold_backward.grad_input(dY, self.Y[l], 0, grad_input=self.dZ)
        elif kind == "tanh":
            torch.ops.aten.tanh_backward.grad_input(dY, self.Y[l], grad_input=self.dZ)
        else:
            torch.ops.aten.gelu_backward.grad_input(dY, self.Z[l], approximate="none", grad_input=self.dZ)
        return self.dZ, self.dZflat


class PreLNEngine:
    """Forward and backward for K pre-LN models (``architecture="preln"``, see
    :mod:`polyviz.models`), with the same interface as :class:`Engine`.

    Channel-major like :class:`Engine`: the residual stream after the input Linear and after
    each block is S[l] (K, width + 1, N) with a row of ones (so the output Linear and its
    gradient are one ``bmm`` each), the LayerNorm images Nn[l] (K, width + 1, N) and the
    block's hidden activations A[l] (K, hidden + 1, N) likewise. The LayerNorm backward is
    :class:`Engine`'s (the u_eps Jacobian-vector product, then centring); the residual adds
    the block's gradient to the stream's.
    """

    def __init__(self, config: ModelConfig, flat: torch.Tensor, n: int, *, shared_input: bool, train: bool,
                 grad: torch.Tensor | None = None):
        self.config, self.flat = config, flat
        K, _ = flat.shape
        dtype = flat.dtype
        self.K, self.N, self.dtype, self.shared, self.train = K, n, dtype, shared_input, train
        w, h, D, d = config.width, config.hidden, config.depth, config.in_dim
        self.w, self.h, self.D = w, h, D
        self.c = math.sqrt(w)
        self.eps2 = w * config.eps
        self.inv_c2 = -1.0 / w
        self.relu = config.activation == "relu"
        E = lambda *shape: torch.empty(*shape, dtype=dtype)  # noqa: E731
        ones = lambda *shape: torch.ones(*shape, dtype=dtype)  # noqa: E731
        self.W = layer_views(config, flat)
        if shared_input:
            self.Xa = ones(d + 1, n)
            self.W0c = E(K * w, d + 1)
            self.W0cv = self.W0c.view(K, w, d + 1)
            self.S0 = E(K * w, n)
            self.S0v = self.S0.view(K, w, n)
        else:
            self.Xin = ones(K, d + 1, n)
            self.XinT = self.Xin.transpose(1, 2)
            self.S0v = E(K, w, n)
        self.head = LossHead(config.n_classes, K, n, dtype, shared_input)
        self.S = [ones(K, w + 1, n) for _ in range(D + 1)]
        self.Sv = [s[:, :w] for s in self.S]
        self.Nn = [ones(K, w + 1, n) for _ in range(D)]
        self.Nv = [a[:, :w] for a in self.Nn]
        self.NnT = [a.transpose(1, 2) for a in self.Nn]
        self.R = [E(K, 1, n) for _ in range(D)]  # LayerNorm scales sqrt(w) / sqrt(|x~|^2 + w eps)
        self.M = E(K, 1, n)
        self.Z1 = [E(K, h, n) for _ in range(D)]
        self.A = [ones(K, h + 1, n) for _ in range(D)]
        self.Av = [a[:, :h] for a in self.A]
        self.AT = [a.transpose(1, 2) for a in self.A]
        self.Rb = E(K, w, n)
        self.Zo = self.head.Zo
        if train:
            self.grad = torch.zeros_like(flat) if grad is None else grad
            self.G = layer_views(config, self.grad)
            self.gbuf = [E(K, o, i + 1) for o, i in config.layer_shapes()]
            if shared_input:
                self.g0T = E(d + 1, K * w)
                self.g0Tv = self.g0T.t().view(K, w, d + 1)
            self.SDT = self.S[D].transpose(1, 2)
            self.WoT = self.W[-1][:, :, :w].transpose(1, 2)  # (K, w, C)
            self.W1T = [self.W[1 + 2 * k][:, :, :w].transpose(1, 2) for k in range(D)]  # (K, w, h)
            self.W2T = [self.W[2 + 2 * k][:, :, :h].transpose(1, 2) for k in range(D)]  # (K, h, w)
            self.dS = E(K, w, n)
            self.dS2 = self.dS.view(K * w, n) if shared_input else None
            self.dN = E(K, w, n)
            self.dA = E(K, h, n)
            self.dZ = E(K, h, n)
            self.dot = E(K, 1, n)
            self.adam = AdamState.zeros_like(flat)

    set_data = Engine.set_data
    set_batch = Engine.set_batch

    def forward(self, loss_out: torch.Tensor, acc_out: torch.Tensor) -> None:
        """As :meth:`Engine.forward`."""
        W, D = self.W, self.D
        if self.shared:
            self.W0cv.copy_(W[0])
            torch.mm(self.W0c, self.Xa, out=self.S0)
        else:
            torch.bmm(W[0], self.Xin, out=self.S0v)
        self.Sv[0].copy_(self.S0v)
        for k in range(D):
            Sv, Nv, R = self.Sv[k], self.Nv[k], self.R[k]
            torch.sub(Sv, torch.mean(Sv, 1, keepdim=True, out=self.M), out=Nv)
            torch.sum(torch.mul(Nv, Nv, out=self.Rb), 1, keepdim=True, out=R)
            R.add_(self.eps2).rsqrt_().mul_(self.c)
            Nv.mul_(R)
            torch.bmm(W[1 + 2 * k], self.Nn[k], out=self.Z1[k])
            if self.relu:
                torch.clamp(self.Z1[k], min=0, out=self.Av[k])
            else:
                torch.ops.aten.gelu.out(self.Z1[k], approximate="none", out=self.Av[k])
            torch.bmm(W[2 + 2 * k], self.A[k], out=self.Rb)
            torch.add(Sv, self.Rb, out=self.Sv[k + 1])
        torch.bmm(W[-1], self.S[D], out=self.Zo)
        self.head.forward(loss_out, acc_out)

    def backward(self) -> None:
        """Gradient of the mean loss of every model (into self.grad), after forward()."""
        D, G, gbuf = self.D, self.G, self.gbuf
        dZo = self.head.backward()
        torch.bmm(dZo, self.SDT, out=gbuf[-1])
        G[-1].copy_(gbuf[-1])
        dS = torch.bmm(self.WoT, dZo, out=self.dS)
        for k in range(D - 1, -1, -1):
            i1, i2 = 1 + 2 * k, 2 + 2 * k
            torch.bmm(dS, self.AT[k], out=gbuf[i2])
            G[i2].copy_(gbuf[i2])
            torch.bmm(self.W2T[k], dS, out=self.dA)
            if self.relu:
                torch.ops.aten.threshold_backward.grad_input(self.dA, self.Av[k], 0, grad_input=self.dZ)
            else:
                torch.ops.aten.gelu_backward.grad_input(self.dA, self.Z1[k], approximate="none", grad_input=self.dZ)
            torch.bmm(self.dZ, self.NnT[k], out=gbuf[i1])
            G[i1].copy_(gbuf[i1])
            dN, Nv = torch.bmm(self.W1T[k], self.dZ, out=self.dN), self.Nv[k]
            # LayerNorm backward: the u_eps Jacobian-vector product, then centring
            torch.sum(torch.mul(Nv, dN, out=self.Rb), 1, keepdim=True, out=self.dot)
            dN.addcmul_(Nv, self.dot, value=self.inv_c2).mul_(self.R[k])
            dN.sub_(torch.mean(dN, 1, keepdim=True, out=self.M))
            dS.add_(dN)  # the residual: the stream's gradient plus the block's
        if self.shared:
            torch.mm(self.Xa, self.dS2.t(), out=self.g0T)
            G[0].copy_(self.g0Tv)
        else:
            torch.bmm(dS, self.XinT, out=gbuf[0])
            G[0].copy_(gbuf[0])


def make_engine(config: ModelConfig, flat: torch.Tensor, n: int, *, shared_input: bool, train: bool,
                grad: torch.Tensor | None = None):
    """The engine for the config's architecture: :class:`Engine` (mlp) or :class:`PreLNEngine`."""
    cls = PreLNEngine if config.architecture == "preln" else Engine
    return cls(config, flat, n, shared_input=shared_input, train=train, grad=grad)


def loss_and_grad(config: ModelConfig, flat: torch.Tensor, X, y) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean loss (logistic for 2 classes, softmax cross-entropy for more) and its gradient
    by the hand-written backward (one or K models).

    ``flat`` (P,) or (K, P); returns (loss (K,) or scalar, grad like flat). For tests and
    notebooks; training uses the same engine without the allocation.
    """
    single = flat.dim() == 1
    F = flat.detach().reshape(1, -1) if single else flat.detach()
    F = F.clone()
    X = torch.as_tensor(np.asarray(X), dtype=F.dtype)
    y = torch.as_tensor(np.asarray(y))
    eng = make_engine(config, F, X.shape[0], shared_input=True, train=True)
    eng.set_data(X, y)
    loss = torch.empty(F.shape[0], dtype=F.dtype)
    acc = torch.empty(F.shape[0], dtype=F.dtype)
    with torch.inference_mode():
        eng.forward(loss, acc)
        eng.backward()
    loss = (-loss / X.shape[0]).clone()
    grad = eng.grad.clone()
    return (loss[0], grad[0]) if single else (loss, grad)

