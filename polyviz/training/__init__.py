"""Training the toy classifiers: a fast hand-written Adam loop, seed sweeps, phase
transitions, checkpoints, progress/cancel, presets.

Where things are:

* ``config.py``   :class:`TrainConfig` (how to train) and the library's limits
* ``engine.py``   the hand-written forward/backward for K models and :func:`adam_step`
* ``loop.py``     the training loop, :func:`train` and :class:`TrainResult`
* ``sweep.py``    :func:`seed_sweep` (K seeds in one batched program) and :class:`SweepResult`
* ``phases.py``   :func:`detect_phase_transitions`
* ``presets.py``  the research presets, :func:`get_preset`, :func:`train_preset`
* ``metrics.py``  accuracy, per-class accuracy, the confusion matrix

The model itself (shape, parameters, forward pass, ``torch.nn`` export) is
:mod:`polyviz.models`; saving and loading it is :mod:`polyviz.records`.
"""

from polyviz.training.config import MAX_SEEDS, MAX_STEPS, MAX_SWEEP_MODEL_STEPS, ProgressFn, TrainConfig
from polyviz.training.engine import loss_and_grad
from polyviz.training.loop import TrainResult, train
from polyviz.training.metrics import accuracy, classification_results, confusion_matrix, per_class_accuracy
from polyviz.training.phases import detect_phase_transitions
from polyviz.training.presets import PRESET_NAMES, PRESETS, DataSpec, Preset, get_preset, train_preset
from polyviz.training.sweep import SweepResult, seed_sweep

__all__ = [
    "MAX_SEEDS", "MAX_STEPS", "MAX_SWEEP_MODEL_STEPS", "PRESETS", "PRESET_NAMES", "DataSpec", "Preset",
    "ProgressFn", "SweepResult", "TrainConfig", "TrainResult", "detect_phase_transitions", "get_preset",
    "accuracy", "classification_results", "confusion_matrix", "loss_and_grad", "per_class_accuracy", "seed_sweep",
    "train", "train_preset",
]
