"""How to train: :class:`TrainConfig` and the library's own limits.

The model's shape is :class:`polyviz.models.ModelConfig`; this is everything else a run
needs (steps, Adam's constants, batches, evaluation, checkpoints, progress).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from polyviz.plain_fields import PlainFields

MAX_STEPS = 1_000_000
MAX_SEEDS = 256
MAX_SWEEP_MODEL_STEPS = 20_000_000

# on_progress(step, total, metrics) -> False cancels the run
ProgressFn = Callable[[int, int, dict], "bool | None"]


@dataclass
class TrainConfig(PlainFields):
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

    def replace(self, **changes) -> "TrainConfig":
        return TrainConfig.from_dict({**self.to_dict(), **changes})

