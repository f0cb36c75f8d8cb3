"""The training loop: :func:`train` trains one model; :func:`run_models` is the loop itself,
shared with the seed sweep (K models in one batched program, see ``engine.py``).

Recording
---------
Every step records the training loss and accuracy of the parameters *before* that step's
update (they come out of the forward pass for free), so ``history["train_loss"][t]`` belongs
to the parameters after t updates, t = 0..steps (the last entry is one extra forward pass).
Accuracy per step comes from the sign of the margin (a logit of exactly 0 counts as half
right); final accuracies are exact. Test loss and accuracy are evaluated every
``eval_every`` steps (and at step 0 and at the end), on the parameters after that many
updates: ``history["test_step"]`` lists those steps. With minibatches the per-step training
figures are those of the step's batch.

Stopping
--------
A run ends after ``steps`` updates ("completed"), when an evaluation reaches
``target_accuracy`` ("target_reached"), when ``on_progress`` returns False ("cancelled"), or
when the loss of every model became non-finite ("non_finite": the parameters go back to the
last ones checked finite). Finiteness is checked every ``min(progress_every, 100)`` steps.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from polyviz import models
from polyviz.models import MLPParams, ModelConfig, init_params
from polyviz.training.config import ProgressFn, TrainConfig
from polyviz.training.engine import adam_step, make_engine
from polyviz.training.phases import detect_phase_transitions


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
    def final_train_loss(self) -> float:
        return float(self.history["train_loss"][-1])

    @property
    def final_test_accuracy(self) -> float | None:
        acc = self.history["test_acc"]
        return float(acc[-1]) if len(acc) else None

    def checkpoint_params(self, step: int) -> MLPParams:
        return MLPParams(self.params.config, torch.as_tensor(self.checkpoints[step]))


@dataclass
class TrainingData:
    """The validated training (and optional test) split as tensors of the run's dtype."""

    X: torch.Tensor
    y: torch.Tensor
    X_test: torch.Tensor | None = None
    y_test: torch.Tensor | None = None

    @property
    def has_test(self) -> bool:
        return self.X_test is not None


@dataclass
class RunOutcome:
    """What :func:`run_models` hands back for K models (one row per model)."""

    flat: torch.Tensor  # (K, P) final parameters
    loss: np.ndarray  # (K, steps_done + 1) training loss per step
    acc: np.ndarray  # (K, steps_done + 1) training accuracy per step
    test_step: np.ndarray  # (E,) evaluation steps
    test_loss: np.ndarray  # (K, E)
    test_acc: np.ndarray  # (K, E)
    checkpoints: dict[int, np.ndarray]  # step -> (K, P) float32
    status: str
    message: str
    steps_done: int
    elapsed_s: float
    time_to_target_s: float | None
    diverged: np.ndarray  # (K,) first step with a non-finite loss, -1 if none
    data: TrainingData

    def history(self, row: int | None = None) -> dict[str, np.ndarray]:
        """The history dict of model ``row`` (or of all models, rows first, with None)."""
        pick = (lambda a: a) if row is None else (lambda a: a[row])
        return {"step": np.arange(self.loss.shape[1]), "train_loss": pick(self.loss), "train_acc": pick(self.acc),
                "test_step": self.test_step, "test_loss": pick(self.test_loss), "test_acc": pick(self.test_acc)}


def _prepare(X, y, dtype, n_classes: int, name="X"):
    X = torch.as_tensor(np.asarray(X), dtype=dtype)
    y = torch.as_tensor(np.asarray(y))
    if X.dim() != 2 or y.dim() != 1 or len(X) != len(y) or len(X) == 0:
        raise ValueError(f"{name} must be (n, d) and its labels (n,), got {tuple(X.shape)} and {tuple(y.shape)}")
    if y.dtype.is_floating_point or y.dtype == torch.bool:
        y_int = y.long()
        if not bool((y_int == y).all()):
            raise ValueError(f"labels must be integers in [0, {n_classes - 1}]")
        y = y_int
    if not bool(((y >= 0) & (y < n_classes)).all()):
        raise ValueError(f"labels must be integers in [0, {n_classes - 1}] (the model's n_classes is {n_classes})")
    return X, y


def prepare_data(model: ModelConfig, tc: TrainConfig, X, y, X_test=None, y_test=None) -> TrainingData:
    """Check shapes, labels and the batch size against the data; convert to tensors."""
    dtype = tc.torch_dtype
    X, y = _prepare(X, y, dtype, model.n_classes)
    if X.shape[1] != model.in_dim:
        raise ValueError(f"X has {X.shape[1]} columns but the model's in_dim is {model.in_dim}")
    if X_test is not None:
        X_test, y_test = _prepare(X_test, y_test, dtype, model.n_classes, "X_test")
        if X_test.shape[1] != model.in_dim:
            raise ValueError(f"X_test has {X_test.shape[1]} columns but the model's in_dim is {model.in_dim}")
    n = X.shape[0]
    if tc.batch_size > n:
        raise ValueError(f"batch_size must be in [0, {n}] (0 = full batch), got {tc.batch_size}")
    return TrainingData(X, y, X_test, y_test if X_test is not None else None)


def checkpoint_schedule(tc: TrainConfig) -> set[int]:
    """Steps whose parameters are kept (step 0 and the last step join any non-empty set)."""
    steps = set(tc.checkpoint_steps)
    if tc.checkpoint_every:
        steps.update(range(0, tc.steps + 1, tc.checkpoint_every))
    if steps:
        steps.update((0, tc.steps))
    return steps


class _Loop:
    """One run of K models. Its buffers and counters live here so each part of a step is a
    short method: evaluate, step, check finiteness, report progress, finish."""

    def __init__(self, model: ModelConfig, tc: TrainConfig, data: TrainingData, seeds: list[int],
                 on_progress: ProgressFn | None, init: torch.Tensor | None):
        dtype = tc.torch_dtype
        self.model, self.tc, self.data, self.on_progress = model, tc, data, on_progress
        self.K, self.T, self.n = len(seeds), tc.steps, data.X.shape[0]
        if init is not None:
            self.flat = init.detach().to(dtype).reshape(self.K, -1).clone()
        else:
            self.flat = torch.stack([init_params(model, s, dtype) for s in seeds])
        self.minibatch = 0 < tc.batch_size < self.n
        self.B = tc.batch_size if self.minibatch else self.n
        self._build_engines(seeds, dtype)
        K, T = self.K, self.T
        self.hist_loss = torch.zeros(T + 1, K, dtype=dtype)  # sum of log p
        self.hist_acc = torch.zeros(T + 1, K, dtype=dtype)  # sum of sign(margin)
        self.eval_steps = list(range(0, T, tc.eval_every)) + [T]
        self.test_loss = torch.full((len(self.eval_steps), K), float("nan"), dtype=dtype)
        self.test_acc = torch.full((len(self.eval_steps), K), float("nan"), dtype=dtype)
        self.n_test = data.X_test.shape[0] if data.has_test else 1
        self.eval_i = 0  # evaluations done
        self.ckpt_steps = checkpoint_schedule(tc)
        self.checkpoints: dict[int, torch.Tensor] = {}
        self.check_every = min(tc.progress_every, 100)
        self.progress_every = tc.progress_every if on_progress is not None else 0  # 0: no progress calls
        self.adam_constants = (tc.lr, tc.beta1, tc.beta2, tc.adam_eps)
        self.diverged = np.full(K, -1, dtype=np.int64)
        self.last_good = self.flat.clone()
        # every step's gradient norm (one small op per step): a divergence is explained with it
        self.hist_grad_norm = torch.zeros(T + 1, K, dtype=dtype)
        self.last_check = 0
        self.status, self.message, self.steps_done = "completed", "", T
        self.time_to_target: float | None = None
        self.tmp_l = torch.empty(K, dtype=dtype)
        self.tmp_a = torch.empty(K, dtype=dtype)
        self.t_start = 0.0

    def _build_engines(self, seeds: list[int], dtype: torch.dtype) -> None:
        model, flat, data, n = self.model, self.flat, self.data, self.n
        self.eng = make_engine(model, flat, self.B, shared_input=not self.minibatch, train=True)
        if self.minibatch:
            self.XaT_full = torch.cat([data.X, torch.ones(n, 1, dtype=dtype)], 1)
            self.targets_full = self.eng.head.targets(data.y)
            self.rngs = [np.random.default_rng([s, 1]) for s in seeds]
            self.per_epoch = n // self.B
            self.order = None
            self.full_eval = make_engine(model, flat, n, shared_input=True, train=False)
            self.full_eval.set_data(data.X, data.y)
        else:
            self.eng.set_data(data.X, data.y)
            self.full_eval = self.eng
        self.test_eng = None
        if data.has_test:
            self.test_eng = make_engine(model, flat, data.X_test.shape[0], shared_input=True, train=False)
            self.test_eng.set_data(data.X_test, data.y_test)

    # -- the loop --------------------------------------------------------------------------
    def run(self) -> RunOutcome:
        self.t_start = time.perf_counter()
        with torch.inference_mode():
            t = 0
            while t < self.T:
                if t == self.eval_steps[self.eval_i] and self._evaluate_reaches_target(t):
                    break
                self._step(t)
                t += 1
                if self._check_due(t) and self._check_stops(t):
                    break
            if self.status != "non_finite":
                self._final_point()
        return self._outcome(time.perf_counter() - self.t_start)

    def _step(self, t: int) -> None:
        """Keep a checkpoint when due, load the minibatch, forward, backward, Adam."""
        if t in self.ckpt_steps:
            self.checkpoints[t] = self.flat.clone()
        if self.minibatch:
            self._load_batch(t)
        eng = self.eng
        eng.forward(self.hist_loss[t], self.hist_acc[t])
        eng.backward()
        torch.linalg.vector_norm(eng.grad, dim=1, out=self.hist_grad_norm[t])
        adam_step(eng.flat, eng.grad, eng.adam, *self.adam_constants)

    def _load_batch(self, t: int) -> None:
        """Each model's minibatch: a new permutation per epoch (remainder dropped)."""
        B, j = self.B, t % self.per_epoch
        if j == 0:
            self.order = torch.from_numpy(np.stack([r.permutation(self.n)[: self.per_epoch * B] for r in self.rngs]))
        self.eng.set_batch(self.XaT_full, self.targets_full, self.order[:, j * B : (j + 1) * B])

    # -- evaluation ------------------------------------------------------------------------
    def _evaluate(self) -> None:
        if self.data.has_test:
            self.test_eng.forward(self.tmp_l, self.tmp_a)
            self.test_loss[self.eval_i].copy_(self.tmp_l).mul_(-1.0 / self.n_test)
            self.test_acc[self.eval_i].copy_(self.tmp_a).add_(self.n_test).mul_(0.5 / self.n_test)
        self.eval_i += 1

    def _evaluate_reaches_target(self, t: int) -> bool:
        """Evaluate at step t; True (and status "target_reached") when any model reaches the
        target test accuracy."""
        self._evaluate()
        target = self.tc.target_accuracy
        if target is None or not self.data.has_test:
            return False
        best = float(self.test_acc[self.eval_i - 1].max())
        if best < target:
            return False
        self.status, self.steps_done = "target_reached", t
        self.time_to_target = time.perf_counter() - self.t_start
        self.message = f"test accuracy {best:.4f} reached the target at step {t}"
        return True

    def _metrics(self, t: int) -> dict:
        """Mean metrics over the models at step t, for on_progress."""
        B = self.B
        lo = -self.hist_loss[t] / B
        ac = (self.hist_acc[t] + B) / (2 * B)
        out = {"step": t, "train_loss": float(lo.mean()), "train_acc": float(ac.mean()),
               "elapsed_s": time.perf_counter() - self.t_start}
        if self.data.has_test and self.eval_i:
            out["test_loss"] = float(self.test_loss[self.eval_i - 1].mean())
            out["test_acc"] = float(self.test_acc[self.eval_i - 1].mean())
            out["test_step"] = self.eval_steps[self.eval_i - 1]
        if self.K > 1:
            out["best_train_acc"] = float(ac.max())
        return out

    # -- checks after a step -----------------------------------------------------------------
    def _check_due(self, t: int) -> bool:
        return t % self.check_every == 0 or t == self.T or (self.progress_every and t % self.progress_every == 0)

    def _check_stops(self, t: int) -> bool:
        """Finiteness, then progress (which may cancel). True when the run stops here."""
        if not self._still_finite(t):
            return True
        self.last_check = t
        return self._cancelled_by_progress(t)

    def _still_finite(self, t: int) -> bool:
        """Mark models whose loss became non-finite since the last check; False (status
        "non_finite", parameters from the last good check) when every model has."""
        window = self.hist_loss[self.last_check : t]
        finite = torch.isfinite(window).all(0)
        if bool(finite.all()):
            self.last_good.copy_(self.flat)
            return True
        bad_rows = (~torch.isfinite(window)).numpy()
        for k in np.flatnonzero(~finite.numpy()):
            if self.diverged[k] < 0:
                self.diverged[k] = self.last_check + int(np.argmax(bad_rows[:, k]))
        if self.K > 1 and not (self.diverged >= 0).all():
            return True  # the other seeds go on
        self.steps_done = int(self.diverged.min())
        self.status = "non_finite"
        self.flat.copy_(self.last_good)
        norms = self.hist_grad_norm[: self.steps_done].numpy().copy()  # the steps before the first bad loss
        norms[~np.isfinite(norms)] = 0.0
        step, model = np.unravel_index(int(np.argmax(norms)), norms.shape) if norms.size else (0, 0)
        self.message = divergence_words(self.model, self.tc, self.steps_done, float(norms[step, model]) if norms.size
                                        else 0.0, int(step), self.last_check)
        return False

    def _cancelled_by_progress(self, t: int) -> bool:
        if self.on_progress is None or not (t % self.tc.progress_every == 0 or t == self.T):
            return False
        if self.on_progress(t, self.T, self._metrics(t - 1)) is not False:
            return False
        self.status, self.steps_done = "cancelled", t
        self.message = f"cancelled at step {t}"
        return True

    # -- the end ---------------------------------------------------------------------------
    def _final_point(self) -> None:
        """Metrics of the parameters after steps_done updates (one extra forward pass)."""
        done = self.steps_done
        if self.ckpt_steps:
            self.checkpoints[done] = self.flat.clone()
        self.full_eval.forward(self.tmp_l, self.tmp_a)
        self.hist_loss[done].copy_(self.tmp_l)
        self.hist_acc[done].copy_(self.tmp_a)
        if self.data.has_test and (self.eval_i == 0 or self.eval_steps[self.eval_i - 1] != done):
            self.eval_steps[self.eval_i] = done
            self._evaluate()

    def _outcome(self, elapsed: float) -> RunOutcome:
        last, B, n, K = self.steps_done, self.B, self.n, self.K  # a non-finite run keeps its first bad row
        loss = (-self.hist_loss[: last + 1] / B).T.numpy().astype(np.float64)
        acc = ((self.hist_acc[: last + 1] + B) / (2 * B)).T.numpy().astype(np.float64)
        if self.minibatch and self.status != "non_finite":
            # the last row is a full-data evaluation
            loss[:, -1] = (-self.hist_loss[last] / n).numpy()
            acc[:, -1] = ((self.hist_acc[last] + n) / (2 * n)).numpy()
        E, has_test = self.eval_i, self.data.has_test
        return RunOutcome(
            flat=self.flat.detach().clone(),
            loss=loss,
            acc=acc,
            test_step=np.asarray(self.eval_steps[:E], dtype=np.int64) if has_test else np.zeros(0, np.int64),
            test_loss=self.test_loss[:E].T.numpy().astype(np.float64) if has_test else np.zeros((K, 0)),
            test_acc=self.test_acc[:E].T.numpy().astype(np.float64) if has_test else np.zeros((K, 0)),
            checkpoints={s: c.numpy().astype(np.float32) for s, c in sorted(self.checkpoints.items())},
            status=self.status,
            message=self.message,
            steps_done=self.steps_done,
            elapsed_s=elapsed,
            time_to_target_s=self.time_to_target,
            diverged=self.diverged,
            data=self.data,
        )


def divergence_words(model: ModelConfig, tc: TrainConfig, step: int, grad_norm: float, grad_step: int,
                     good_step: int) -> str:
    """Why a run stopped with a non-finite loss, in words: the step, the largest gradient norm
    seen before it, and what to change (a smaller learning rate; for a normalising activation
    with a tiny eps, a larger eps, since u_eps's slope at 0 is 1/sqrt(eps))."""
    if step == 0:
        return ("the training loss became non-finite at step 0, for the initial parameters: the model's outputs "
                "overflow (or the data holds a NaN); start from smaller weights or scale the input down")
    norm = (f"the largest gradient norm before it was {grad_norm:.3g} (at step {grad_step})" if grad_norm > 0 else
            "no finite gradient was seen before it")
    advice = f"try a smaller learning rate (lr = {float(f'{tc.lr / 10:.3g}'):g} instead of {tc.lr:g})"
    if model.activation in models.NORM_ACTIVATIONS and model.eps < 1e-3:
        advice += (f", or a larger eps ({float(f'{model.eps * 100:.3g}'):g} instead of {model.eps:g}: the slope of "
                   f"u_ε at 0 is 1/√eps = {model.eps ** -0.5:,.0f})")
    return (f"the training loss became non-finite at step {step}; {norm}. To train it, {advice}. The parameters are "
            f"from step {good_step}, the last ones checked finite")


def run_models(model: ModelConfig, tc: TrainConfig, X, y, X_test, y_test, seeds: list[int],
               on_progress: ProgressFn | None = None, init: torch.Tensor | None = None) -> RunOutcome:
    """Train K = len(seeds) models from their seeds' initialisations (or ``init``) at once."""
    data = prepare_data(model, tc, X, y, X_test, y_test)
    return _Loop(model, tc, data, seeds, on_progress, init).run()


def exact_accuracy(model: ModelConfig, flat: torch.Tensor, X: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Exact accuracy (binary: logit > 0 <=> class 1; multiclass: the largest logit's class,
    the first on a tie) of each of the K models."""
    with torch.inference_mode():
        logits = models.forward(model, flat, X)  # (K, N) or (K, N, C)
        return (models.predicted_class(model, logits) == y.long()).to(torch.float64).mean(-1).numpy()


def train(model: ModelConfig, train_config: TrainConfig, X, y, X_test=None, y_test=None, *,
          on_progress: ProgressFn | None = None, init: torch.Tensor | None = None) -> TrainResult:
    """Train one model with Adam (hand-written forward/backward, see ``engine.py``).

    ``X`` (n, d) float, ``y`` (n,) in 0..n_classes-1; optional test split. Deterministic for
    ``train_config.seed`` (the initialisation and the minibatch order). ``on_progress(step,
    total, metrics)`` is called every ``progress_every`` steps; returning ``False`` cancels
    (status "cancelled", the result holds everything up to then). A non-finite loss stops
    the run (status "non_finite" and a message). ``init`` overrides the initial parameters.
    """
    run = run_models(model, train_config, X, y, X_test, y_test, [train_config.seed], on_progress, init)
    flat = run.flat[0]
    history = run.history(0)
    if run.status != "non_finite":
        # replace the sign-based final accuracies by exact ones
        history["train_acc"][-1] = exact_accuracy(model, flat[None], run.data.X, run.data.y)[0]
        if run.data.has_test and len(history["test_acc"]):
            history["test_acc"][-1] = exact_accuracy(model, flat[None], run.data.X_test, run.data.y_test)[0]
    return TrainResult(
        params=MLPParams(model, flat, meta={"train_config": train_config.to_dict()}),
        train_config=train_config,
        history=history,
        phase_transitions=detect_phase_transitions(history["train_loss"]),
        checkpoints={s: c[0] for s, c in run.checkpoints.items()},
        status=run.status,
        message=run.message,
        steps_done=run.steps_done,
        elapsed_s=run.elapsed_s,
        time_to_target_s=run.time_to_target_s,
    )
