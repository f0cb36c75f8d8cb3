"""Toy classifier lab: training speed, presets, seed sweeps, animation payload.

All figures are with one torch thread (``torch.set_num_threads(1)``, as each app worker runs)
and are medians of several runs; other work on the machine makes single runs noisy.

train_steps_per_s: full-batch steps per second of the spiral preset (1000 training points,
    width-3 u_eps MLP, Adam), through ``polyviz.training.train`` as the app calls it (test
    metrics every 10 steps, checkpoints every 100). Target 3000.
train_steps_per_s_layernorm / train_steps_per_s_rmsnorm: the same set-up with LayerNorm or
    RMSNorm as the activation (width 3, depth 2, 1000 points). Target 5000 each.
spiral_time_to_97_s / spiral_test_acc: wall time until the spiral preset's default seed first
    evaluates at >= 97 % test accuracy (``target_accuracy=0.97``), and the final test accuracy
    of the full default run. Target 2 s.
octant_time_to_95_s / octant_test_acc: the same for the octant-sphere preset (95 %). Target 15 s.
digits_time_to_95_s / digits_test_acc: the same for the digits preset (scikit-learn's 8x8 digits,
    10 classes, Linear -> LayerNorm -> Linear, softmax cross-entropy; 95 %). Targets 5 s, 0.95.
seed_sweep_model_steps_per_s: 64 seeds of the spiral preset trained at once
    (``seed_sweep``: one (64, P) parameter tensor, batched hand-written backward); seeds x
    steps / wall time of the whole call (including test metrics every 10 steps, the final
    exact accuracies and phase-transition detection). Target 100000.
animation_payload_kb: JSON size of the layer-by-layer animation figure the /train page sends
    for the spiral preset (polyviz.pages.train.run_figures: 12 frames per layer, 24 rotation
    frames, <= 800 points). Target 1500.
train_page_figures_kb / train_page_figures_ms: all four figures the page draws for a finished
    spiral run (curves, decision boundary, animation, checkpoint scrubber): their JSON size
    and the time to build them (median).

How the default seeds were found: see the comment above ``PRESETS`` in polyviz/training/presets.py
(each preset's seeds 0..15 trained one by one, as a float32 sweep, a float64 sweep and with
two threads).
"""

from __future__ import annotations

import gzip
import statistics
import time

import torch
from _util import metric

from polyviz.models import ModelConfig
from polyviz.training import get_preset, seed_sweep, train


def _median(values):
    return statistics.median(values)


def run(quick: bool):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield from _run(quick)
    finally:
        torch.set_num_threads(threads)


def _run(quick: bool):
    repeats = 5 if quick else 9
    spiral = get_preset("spiral")
    Xtr, Xte, ytr, yte = spiral.data.load()

    # -- single-model speed ----------------------------------------------------------------
    steps = 2000 if quick else 3000
    train(spiral.model, spiral.train.replace(steps=200), Xtr, ytr, Xte, yte)  # warm-up
    rates = []
    for _ in range(repeats + 2):
        start = time.perf_counter()
        train(spiral.model, spiral.train.replace(steps=steps), Xtr, ytr, Xte, yte)
        rates.append(steps / (time.perf_counter() - start))
    yield metric("train_steps_per_s", _median(rates), "steps/s", target=3000, points=len(Xtr),
                 params=spiral.model.param_count)
    for act in ("layernorm", "rmsnorm"):
        model = ModelConfig.from_dict({**spiral.model.to_dict(), "activation": act})
        rates = []
        for _ in range(repeats):
            start = time.perf_counter()
            train(model, spiral.train.replace(steps=steps), Xtr, ytr, Xte, yte)
            rates.append(steps / (time.perf_counter() - start))
        yield metric(f"train_steps_per_s_{act}", _median(rates), "steps/s", target=5000, points=len(Xtr),
                     params=model.param_count)

    # -- presets: time to target, final accuracy ---------------------------------------------
    time_targets = {"spiral": 2, "octant_sphere": 15, "digits": 5}
    for name, prefix, target_acc in (("spiral", "spiral", 0.97), ("octant_sphere", "octant", 0.95),
                                     ("digits", "digits", 0.95)):
        p = get_preset(name)
        data = p.data.load() if name != "spiral" else (Xtr, Xte, ytr, yte)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            r = train(p.model, p.train.replace(target_accuracy=target_acc), data[0], data[2], data[1], data[3])
            wall = time.perf_counter() - start
            times.append(wall if r.status == "target_reached" else float("inf"))
        full = train(p.model, p.train, data[0], data[2], data[1], data[3])
        suffix = f"{int(round(target_acc * 100))}"
        yield metric(f"{prefix}_time_to_{suffix}_s", _median(times), "s", target=time_targets[name],
                     seed=p.train.seed, step=int(r.steps_done))
        yield metric(f"{prefix}_test_acc", full.final_test_accuracy, "fraction", target=target_acc,
                     seed=p.train.seed, steps=p.train.steps, phase_transitions=full.phase_transitions)

    # -- seed sweep --------------------------------------------------------------------------
    sweep_steps = 1000 if quick else 3000
    tc = spiral.train.replace(steps=sweep_steps, checkpoint_every=0)
    seed_sweep(spiral.model, tc.replace(steps=50), Xtr, ytr, Xte, yte, n_seeds=64)  # warm-up
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        seed_sweep(spiral.model, tc, Xtr, ytr, Xte, yte, n_seeds=64)
        rates.append(64 * sweep_steps / (time.perf_counter() - start))
    yield metric("seed_sweep_model_steps_per_s", _median(rates), "model-steps/s", target=100000, seeds=64,
                 steps=sweep_steps)

    # -- what the /train page sends ---------------------------------------------------------------
    # The page trains the spiral preset exactly like this (polyviz.pages.train.train_for_state)
    # and draws its figures with polyviz.pages.train.run_figures; the sizes are of the JSON
    # Dash sends.
    from plotly.io.json import to_json_plotly

    from polyviz import state as st
    from polyviz.pages.train import PRESETS as PAGE_PRESETS
    from polyviz.pages.train import TrainState, run_figures, train_for_state

    state, _ = st.validate(TrainState, PAGE_PRESETS["spiral"]["values"])
    result, data = train_for_state(state)
    times, specs = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        specs = run_figures(state, result, data=data)
        times.append((time.perf_counter() - start) * 1000)
    payloads = {name: to_json_plotly(spec).encode() for name, spec in specs.items()}
    sizes = {name: len(body) / 1024 for name, body in payloads.items()}
    yield metric("animation_payload_kb", sizes["animation"], "KB", target=1500,
                 frames=len(specs["animation"]["frames"]), source="polyviz.pages.train.run_figures (spiral preset)",
                 gzip_kb=round(len(gzip.compress(payloads["animation"])) / 1024, 1))
    yield metric("train_page_figures_kb", sum(sizes.values()), "KB",
                 figures={name: round(kb, 1) for name, kb in sizes.items()})
    yield metric("train_page_figures_ms", _median(times), "ms")
