"""The seed sweep: the same set-up trained from K seeds at once, in one batched program."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from polyviz.models import MLPParams, ModelConfig, init_params
from polyviz.training.config import MAX_SEEDS, MAX_SWEEP_MODEL_STEPS, ProgressFn, TrainConfig
from polyviz.training.loop import TrainResult, exact_accuracy, run_models
from polyviz.training.phases import detect_phase_transitions


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
    checkpoints: dict[int, np.ndarray] = field(default_factory=dict)
    steps_done: int = 0
    message: str = ""

    def params(self, index: int) -> MLPParams:
        """The final model of the seed at position ``index``."""
        return MLPParams(self.model_config, self.flat[index].clone())

    def seed_result(self, index: int) -> TrainResult:
        """The seed at position ``index`` as a :class:`TrainResult`: the sweep's own final
        parameters, curves, checkpoints and phase transitions (not a retrained model: a
        single run of the same seed rounds differently in float32 and can leave a plateau
        at another step, or not at all)."""
        history = {name: np.array(values[index] if np.ndim(values) == 2 else values,
                                  dtype=np.int64 if name.endswith("step") else np.float64)
                   for name, values in self.history.items()}
        seed = int(self.seeds[index])
        tc = self.train_config.replace(seed=seed)
        checkpoints = {s: c[index].copy() for s, c in self.checkpoints.items()}
        diverged = int(self.diverged_step[index])
        status, message, steps = self.status, self.message, self.steps_done
        flat = self.flat[index].clone()
        if diverged >= 0:
            # curves up to the first non-finite loss; the last finite checkpoint (or the start)
            history["step"], history["train_loss"], history["train_acc"] = (
                history["step"][: diverged + 1], history["train_loss"][: diverged + 1],
                history["train_acc"][: diverged + 1])
            keep = history["test_step"] <= diverged
            for name in ("test_step", "test_loss", "test_acc"):
                history[name] = history[name][keep]
            good = [s for s in sorted(checkpoints) if s <= diverged and np.isfinite(checkpoints[s]).all()]
            checkpoints = {s: checkpoints[s] for s in good}
            flat = (torch.as_tensor(checkpoints[good[-1]]).to(flat.dtype) if good
                    else init_params(self.model_config, seed, flat.dtype))
            start = good[-1] if good else 0
            status, steps = "non_finite", diverged
            message = (f"the training loss became non-finite at step {diverged} "
                       f"(try a smaller learning rate); parameters are from step {start}")
        else:
            history["train_acc"][-1] = self.final_train_acc[index]
            if len(history["test_acc"]):
                history["test_acc"][-1] = self.final_test_acc[index]
        return TrainResult(
            params=MLPParams(self.model_config, flat, meta={"train_config": tc.to_dict(), "sweep_seeds": len(self.seeds)}),
            train_config=tc, history=history, phase_transitions=list(self.phase_transitions[index]),
            checkpoints=checkpoints, status=status, message=message, steps_done=int(steps),
            elapsed_s=float(self.elapsed_s), time_to_target_s=None,
        )



def sweep_seeds(train_config: TrainConfig, seeds=None, n_seeds: int | None = None) -> list[int]:
    """The seeds of a sweep, checked: an explicit list, or ``n_seeds`` from ``train_config.seed``."""
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
    return seeds


def seed_sweep(model: ModelConfig, train_config: TrainConfig, X, y, X_test=None, y_test=None, *,
               seeds=None, n_seeds: int | None = None, on_progress: ProgressFn | None = None,
               keep_checkpoints: bool = False) -> SweepResult:
    """Train the same set-up from K seeds at once, in one batched tensor program.

    ``seeds``: explicit list (K <= 256), or ``n_seeds`` seeds starting at
    ``train_config.seed``. Seed s starts from the model :func:`polyviz.training.train`
    starts from with ``seed=s`` (same initialisation, same minibatch order, same formulas),
    but the batched program rounds differently in float32, and near a plateau that can
    change the outcome (seed 1 of the spiral preset: 98.8 % here, 80.8 % on its own). Use
    :meth:`SweepResult.seed_result` for the model the sweep measured. A seed whose loss becomes non-finite is marked
    (``diverged_step``) and the others go on. ``target_accuracy`` stops when *any* seed
    reaches it. Checkpoints (``train_config``'s schedule, K models each) are kept only with
    ``keep_checkpoints``. ``on_progress`` gets mean metrics over the seeds.

    The numbers of a seed are those of its row of this batched program;
    :meth:`SweepResult.seed_result` hands that row back as a run.
    """
    seeds = sweep_seeds(train_config, seeds, n_seeds)
    tc = train_config if keep_checkpoints else train_config.replace(checkpoint_every=0, checkpoint_steps=[])
    run = run_models(model, tc, X, y, X_test, y_test, seeds, on_progress)
    data = run.data
    train_acc = exact_accuracy(model, run.flat, data.X, data.y)
    test_acc = (exact_accuracy(model, run.flat, data.X_test, data.y_test) if data.has_test
                else np.full(len(seeds), np.nan))
    bad = run.diverged >= 0
    train_acc[bad] = np.nan
    test_acc[bad] = np.nan
    transitions = [detect_phase_transitions(run.loss[k]) for k in range(len(seeds))]
    return SweepResult(
        model_config=model,
        train_config=tc,
        seeds=np.asarray(seeds, dtype=np.int64),
        final_train_acc=train_acc,
        final_test_acc=test_acc,
        transition_step=np.array([tr[0] if tr else -1 for tr in transitions], dtype=np.int64),
        phase_transitions=transitions,
        diverged_step=run.diverged,
        history=run.history(),
        flat=run.flat,
        status=run.status,
        elapsed_s=run.elapsed_s,
        checkpoints=run.checkpoints,
        steps_done=run.steps_done,
        message=run.message,
    )
