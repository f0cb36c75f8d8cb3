"""Models and training: hand-written gradients against autograd, Adam against torch.optim,
determinism, batched sweeps against per-seed runs, presets, NaN handling, progress and
cancellation, checkpoints, save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from polyviz.datasets import make_dataset, train_test_split
from polyviz.models import (
    ACTIVATIONS,
    MLPParams,
    ModelConfig,
    build_module,
    forward,
    hidden_activations,
    init_params,
    layer_weights,
    params_from_module,
    predict,
)
from polyviz.records import load_model, save_model
from polyviz.training import (
    TrainConfig,
    detect_phase_transitions,
    get_preset,
    loss_and_grad,
    seed_sweep,
    train,
    train_preset,
)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """The engine is built for one thread per process (tiny ops); restore afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def spiral_data():
    X, y = make_dataset("spiral", 500, 0.01, 0)
    return train_test_split(X, y, 0.8, 0)


# ----------------------------------------------------------------------- configs and models
def test_model_config_validation_and_json_round_trip():
    cfg = ModelConfig(in_dim=3, width=4, depth=3, activation="layernorm", eps=1e-3)
    assert ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert cfg.layer_shapes() == [(4, 3), (4, 4), (4, 4), (1, 4)]
    assert cfg.param_count == 4 * 4 + 4 * 5 * 2 + 5
    for kwargs, message in [
        (dict(width=0), "width must be in [1, 256]"),
        (dict(depth=17), "depth must be in [0, 16]"),
        (dict(activation="swish"), "activation must be one of u_eps, layernorm"),
        (dict(eps=0.0), "eps must be in (0, 10]"),
        (dict(activation="layernorm", width=1), "width must be >= 2 for layernorm"),
    ]:
        with pytest.raises(ValueError) as err:
            ModelConfig(**kwargs)
        assert message in str(err.value)
    with pytest.raises(ValueError, match="unknown ModelConfig field"):
        ModelConfig.from_dict({"widht": 3})


def test_train_config_validation_and_json_round_trip():
    tc = TrainConfig(steps=10, lr=0.1, batch_size=32, checkpoint_steps=[5, 0, 5])
    assert tc.checkpoint_steps == [0, 5]
    assert TrainConfig.from_dict(json.loads(json.dumps(tc.to_dict()))) == tc
    for kwargs, message in [
        (dict(lr=0.0), "lr must be in (0, 1]"),
        (dict(steps=0), "steps must be in [1, 1000000]"),
        (dict(beta2=1.0), "beta2 must be in [0, 1)"),
        (dict(target_accuracy=1.5), "target_accuracy must be in (0, 1]"),
        (dict(checkpoint_steps=[20], steps=10), "checkpoint_steps must be integers in [0, 10]"),
        (dict(dtype="float16"), "dtype must be 'float32' or 'float64'"),
    ]:
        with pytest.raises(ValueError) as err:
            TrainConfig(**kwargs)
        assert message in str(err.value)


def test_init_is_pytorch_default_distribution_and_seeded():
    cfg = ModelConfig(in_dim=2, width=64, depth=1)
    a = init_params(cfg, 3)
    np.testing.assert_array_equal(a, init_params(cfg, 3))
    assert not torch.equal(a, init_params(cfg, 4))
    w0, b0 = MLPParams(cfg, a).layers()[0]
    bound = 1 / np.sqrt(2)
    assert w0.abs().max() <= bound and w0.abs().max() > 0.9 * bound
    w1, _ = MLPParams(cfg, a).layers()[1]
    assert w1.abs().max() <= 1 / 8 + 1e-7
    # float64 init is the float32 init, more precisely
    np.testing.assert_allclose(init_params(cfg, 3, torch.float64).numpy(), a.numpy(), rtol=1e-6)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_module_export_matches_the_functional_forward(activation):
    cfg = ModelConfig(in_dim=2, width=4, depth=2, activation=activation, eps=1e-3)
    flat = init_params(cfg, 1, torch.float64)
    module = build_module(cfg, flat)
    X = torch.randn(50, 2, dtype=torch.float64)
    torch.testing.assert_close(module(X).squeeze(-1), forward(cfg, flat, X))
    torch.testing.assert_close(params_from_module(module).flat, flat)


def test_layer_weights_and_activations():
    cfg = ModelConfig()
    p = MLPParams(cfg, init_params(cfg, 0))
    W, b = layer_weights(p, 1)
    assert W.shape == (3, 3) and b.shape == (3,) and W.dtype == np.float64
    W_last, b_last = layer_weights(p, -1)
    assert W_last.shape == (1, 3) and b_last.shape == (1,)
    with pytest.raises(ValueError, match=r"layer_index must be an integer in \[-3, 2\]"):
        layer_weights(p, 3)
    X = np.random.default_rng(0).normal(size=(20, 2)).astype(np.float32)
    acts, logits = hidden_activations(p, X)
    assert [a.shape for a in acts] == [(20, 2), (20, 3), (20, 3)]
    # u_eps activations lie inside the unit ball, close to its surface for small eps
    assert np.all(np.linalg.norm(acts[1], axis=1) < 1.0)
    # the logits are the last Linear layer applied to the last activation
    np.testing.assert_allclose(acts[-1] @ W_last[0] + b_last[0], logits, rtol=1e-5, atol=1e-5)


def assert_gradient_is_autograds(cfg, flat, X, y):
    """The engine's loss and hand-written gradient for K models equal torch autograd's of the
    logistic loss (the oracle), in float64."""
    loss, grad = loss_and_grad(cfg, flat, X, y)
    f = flat.clone().requires_grad_(True)
    logits = forward(cfg, f, torch.as_tensor(X))
    target = torch.as_tensor(y, dtype=torch.float64).expand_as(logits)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none").mean(-1)
    ref.sum().backward()
    torch.testing.assert_close(loss, ref.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad, f.grad, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------- gradients and Adam
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("depth, width", [(0, 3), (1, 2), (2, 3), (3, 6)])
def test_hand_written_gradient_equals_autograd(activation, depth, width):
    cfg = ModelConfig(in_dim=3, width=width, depth=depth, activation=activation, eps=1e-3)
    rng = np.random.default_rng(depth * 10 + width)
    X = rng.normal(size=(64, 3))
    y = (rng.random(64) > 0.5).astype(np.int64)
    flat = torch.stack([init_params(cfg, s, torch.float64) for s in range(3)]) * 1.7  # K = 3 models
    assert_gradient_is_autograds(cfg, flat, X, y)


@pytest.mark.parametrize("scale", [10.0, 20.0, 40.0, 80.0])
def test_float32_loss_and_gradient_at_large_margins_match_float64_torch(scale):
    """-log(sigmoid(m)) rounds to exactly 0 in float32 for m above ~16.6 when computed
    naively; the engine's log-sigmoid must keep ~1e-6 relative accuracy there (and for
    large negative margins, where sigmoid underflows)."""
    cfg = ModelConfig(in_dim=2, depth=0)
    rng = np.random.default_rng(int(scale))
    X = rng.normal(size=(50, 2))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = (X[:, 0] > 0).astype(np.int64)
    flat64 = torch.tensor([scale, 0.0, 0.0], dtype=torch.float64)  # logit = scale * x0: margins up to ~scale
    loss32, grad32 = loss_and_grad(cfg, flat64.float(), X.astype(np.float32), y)
    assert loss32.dtype == torch.float32
    f = flat64.clone().requires_grad_(True)
    logits = forward(cfg, f, torch.as_tensor(X.astype(np.float32).astype(np.float64)))
    target = torch.as_tensor(y, dtype=torch.float64)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(logits, target)
    ref.backward()
    margins = (2 * target - 1) * logits.detach()
    ref_ls = -torch.nn.functional.logsigmoid(margins).mean()
    torch.testing.assert_close(ref, ref_ls, rtol=1e-12, atol=0)  # the two float64 oracles agree
    assert ref.item() > 0
    np.testing.assert_allclose(float(loss32), ref.item(), rtol=2e-5)
    np.testing.assert_allclose(grad32.double().numpy(), f.grad.numpy(), rtol=2e-4, atol=1e-3 * ref.item())
    # and a single point far out: margin 30 gives loss exp(-30) ~ 9.4e-14, not 0; margin -200 gives 200, not inf
    one = ModelConfig(in_dim=1, depth=0)
    for m, yy in ((30.0, 1), (-200.0, 1)):
        lo, gr = loss_and_grad(one, torch.tensor([m, 0.0]), np.array([[1.0]], np.float32), np.array([yy]))
        exact = -torch.nn.functional.logsigmoid(torch.tensor(m, dtype=torch.float64))
        np.testing.assert_allclose(float(lo), float(exact), rtol=1e-6)
        np.testing.assert_allclose(float(gr[0]), -float(torch.sigmoid(torch.tensor(-m, dtype=torch.float64))),
                                   rtol=1e-6)


@pytest.mark.parametrize("activation, width, groups", [
    ("group_layernorm", 6, 3), ("group_layernorm", 6, 2), ("group_layernorm", 8, 4), ("group_layernorm", 4, 1),
    ("dyt", 5, 1), ("none", 3, 1)])
@pytest.mark.parametrize("depth", [1, 3])
def test_norm_variants_hand_written_gradient_equals_autograd(activation, width, groups, depth):
    cfg = ModelConfig(in_dim=3, width=width, depth=depth, activation=activation, eps=1e-3, groups=groups)
    rng = np.random.default_rng(width * 7 + depth)
    X = rng.normal(size=(40, 3))
    y = (rng.random(40) > 0.5).astype(np.int64)
    flat = torch.stack([init_params(cfg, s, torch.float64) for s in range(3)]) * 1.7
    if activation == "dyt":  # distinct alphas per layer and model
        flat[:, cfg.linear_param_count:] = torch.as_tensor(rng.uniform(0.3, 2.0, size=(3, depth)))
    assert_gradient_is_autograds(cfg, flat, X, y)


@pytest.mark.parametrize("activation, groups, module_type", [
    ("layernorm", 1, torch.nn.LayerNorm), ("rmsnorm", 1, torch.nn.RMSNorm),
    ("group_layernorm", 3, torch.nn.GroupNorm), ("dyt", 1, None)])
def test_norm_variants_match_the_torch_modules_forward_and_gradient(activation, groups, module_type):
    """The engine's loss and gradient against an nn.Sequential of torch's own modules
    (nn.LayerNorm, nn.RMSNorm, nn.GroupNorm; DyT written out as tanh(alpha * x))."""
    cfg = ModelConfig(in_dim=2, width=6, depth=2, activation=activation, eps=1e-4, groups=groups)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(50, 2))
    y = (rng.random(50) > 0.5).astype(np.int64)
    flat = init_params(cfg, 5, torch.float64) * 1.3
    layers = []
    for i, (w, b) in enumerate(MLPParams(cfg, flat).layers()):
        lin = torch.nn.Linear(w.shape[1], w.shape[0], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(w)
            lin.bias.copy_(b)
        layers.append(lin)
        if i < cfg.depth:
            if module_type is torch.nn.GroupNorm:
                layers.append(torch.nn.GroupNorm(groups, 6, eps=1e-4, affine=False))
            elif module_type is not None:
                layers.append(module_type(6, eps=1e-4, elementwise_affine=False))
            else:
                layers.append(build_module(cfg, flat)[2 * i + 1])
    seq = torch.nn.Sequential(*layers)
    if module_type is not None:
        assert isinstance(build_module(cfg, flat)[1], module_type)  # the export uses the same module
    logits = seq(torch.as_tensor(X)).squeeze(-1)
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.as_tensor(y, dtype=torch.float64))
    loss.backward()
    ours, grad = loss_and_grad(cfg, flat, X, y)
    torch.testing.assert_close(ours, loss.detach(), rtol=1e-12, atol=1e-12)
    lin_grads = torch.cat([torch.cat([m.weight.grad, m.bias.grad[:, None]], 1).reshape(-1)
                           for m in seq if isinstance(m, torch.nn.Linear)])
    torch.testing.assert_close(grad[: cfg.linear_param_count], lin_grads, rtol=1e-10, atol=1e-12)
    if activation == "dyt":
        alpha_grads = torch.cat([m.alpha.grad for m in seq if hasattr(m, "alpha")])
        torch.testing.assert_close(grad[cfg.linear_param_count:], alpha_grads, rtol=1e-10, atol=1e-12)


def test_dyt_module_round_trip_keeps_alpha():
    cfg = ModelConfig(width=4, depth=2, activation="dyt")
    flat = init_params(cfg, 1)
    assert cfg.param_count == cfg.linear_param_count + 2 and float(flat[-1]) == 0.5
    flat[-2:] = torch.tensor([0.7, 1.9])
    again = params_from_module(build_module(cfg, flat))
    torch.testing.assert_close(again.flat, flat)
    with pytest.raises(ValueError, match="groups must divide width"):
        ModelConfig(width=6, activation="group_layernorm", groups=4)


def test_training_equals_module_with_torch_adam(spiral_data):
    Xtr, _, ytr, _ = spiral_data
    cfg = ModelConfig()
    tc = TrainConfig(steps=25, lr=0.02, seed=2, dtype="float64")
    result = train(cfg, tc, Xtr, ytr)
    module = build_module(cfg, init_params(cfg, 2, torch.float64))
    opt = torch.optim.Adam(module.parameters(), lr=0.02)
    X = torch.as_tensor(Xtr, dtype=torch.float64)
    t = torch.as_tensor(ytr, dtype=torch.float64)
    losses = []
    for _ in range(25):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(module(X).squeeze(-1), t)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    torch.testing.assert_close(result.params.flat, params_from_module(module, cfg).flat, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(result.history["train_loss"][:25], losses, rtol=1e-10)


# ----------------------------------------------------------------------- determinism, sweeps
def test_training_is_deterministic_for_a_seed(spiral_data):
    Xtr, Xte, ytr, yte = spiral_data
    cfg = ModelConfig()
    a = train(cfg, TrainConfig(steps=300, seed=5), Xtr, ytr, Xte, yte)
    b = train(cfg, TrainConfig(steps=300, seed=5), Xtr, ytr, Xte, yte)
    c = train(cfg, TrainConfig(steps=300, seed=6), Xtr, ytr, Xte, yte)
    assert torch.equal(a.params.flat, b.params.flat)
    np.testing.assert_array_equal(a.history["train_loss"], b.history["train_loss"])
    np.testing.assert_array_equal(a.history["test_acc"], b.history["test_acc"])
    assert not torch.equal(a.params.flat, c.params.flat)


def test_history_layout(spiral_data):
    Xtr, Xte, ytr, yte = spiral_data
    r = train(ModelConfig(), TrainConfig(steps=95, eval_every=10), Xtr, ytr, Xte, yte)
    h = r.history
    assert len(h["step"]) == len(h["train_loss"]) == len(h["train_acc"]) == 96
    assert list(h["test_step"]) == list(range(0, 95, 10)) + [95]
    assert len(h["test_loss"]) == len(h["test_acc"]) == 11
    assert r.status == "completed" and r.steps_done == 95
    # the last entries are exact metrics of the final parameters
    assert h["train_acc"][-1] == pytest.approx((predict(r.params, Xtr) == ytr).mean())
    assert h["test_acc"][-1] == pytest.approx((predict(r.params, Xte) == yte).mean())
    # step-0 loss is that of the initial model (log 2 is the loss of a zero logit)
    loss0, _ = loss_and_grad(ModelConfig(), init_params(ModelConfig(), 0), Xtr, ytr)
    assert h["train_loss"][0] == pytest.approx(float(loss0), rel=1e-5)


@pytest.mark.parametrize("batch_size, dtype, steps, tol",
                         [(0, "float64", 50, 1e-6), (64, "float64", 50, 1e-6), (0, "float32", 10, 1e-5)])
def test_batched_sweep_equals_per_seed_training(spiral_data, batch_size, dtype, steps, tol):
    Xtr, Xte, ytr, yte = spiral_data
    cfg = ModelConfig()
    tc = TrainConfig(steps=steps, lr=0.02, batch_size=batch_size, eval_every=5, dtype=dtype)
    seeds = [3, 11, 12, 40]
    sweep = seed_sweep(cfg, tc, Xtr, ytr, Xte, yte, seeds=seeds)
    assert sweep.flat.shape == (4, cfg.param_count)
    for k, s in enumerate(seeds):
        single = train(cfg, tc.replace(seed=s), Xtr, ytr, Xte, yte)
        # the same arithmetic up to summation order (the sweep's first layer is one larger mm).
        # Adam divides by sqrt(v), so while a gradient component is near zero its rounding
        # noise becomes an lr-sized step: differences grow from 1e-16 to ~1e-9 over 50 float64
        # steps for some seeds, and in float32 they stay tiny only for the first few steps.
        torch.testing.assert_close(sweep.flat[k], single.params.flat, rtol=tol, atol=tol)
        np.testing.assert_allclose(sweep.history["train_loss"][k], single.history["train_loss"], rtol=tol, atol=tol)
        np.testing.assert_allclose(sweep.history["test_acc"][k], single.history["test_acc"], atol=0.01)
        assert sweep.final_test_acc[k] == pytest.approx(single.final_test_accuracy)
    # and the models really are different seeds
    assert not torch.allclose(sweep.flat[0], sweep.flat[1])


def test_seed_sweep_reports_accuracy_and_transitions(spiral_data):
    Xtr, Xte, ytr, yte = spiral_data
    sweep = seed_sweep(ModelConfig(), TrainConfig(steps=200), Xtr, ytr, Xte, yte, n_seeds=8)
    np.testing.assert_array_equal(sweep.seeds, np.arange(8))
    assert sweep.final_test_acc.shape == (8,) and np.all((0 <= sweep.final_test_acc) & (sweep.final_test_acc <= 1))
    assert sweep.transition_step.shape == (8,) and sweep.transition_step.dtype == np.int64
    assert (sweep.diverged_step == -1).all()
    with pytest.raises(ValueError, match=r"n_seeds must be an integer in \[1, 256\]"):
        seed_sweep(ModelConfig(), TrainConfig(steps=2), Xtr, ytr, n_seeds=257)


def test_minibatch_training_learns_and_is_deterministic(spiral_data):
    Xtr, Xte, ytr, yte = spiral_data
    data = make_dataset("gauss", 400, 0.0, 0)
    cfg = ModelConfig(activation="relu", width=4, depth=1)
    tc = TrainConfig(steps=200, batch_size=32, lr=0.05, seed=1)
    a = train(cfg, tc, *data)
    b = train(cfg, tc, *data)
    assert torch.equal(a.params.flat, b.params.flat)
    assert a.final_train_accuracy > 0.95


# ----------------------------------------------------------------------- presets
def test_spiral_preset_reaches_97_percent_test_accuracy():
    preset = get_preset("spiral")
    result, _ = train_preset("spiral")
    assert result.steps_done == preset.train.steps
    assert result.final_test_accuracy >= 0.97
    assert result.final_train_accuracy >= 0.97
    # the research's picture: a plateau, then a sharp drop
    assert len(result.phase_transitions) >= 1
    first = result.phase_transitions[0]
    loss = result.history["train_loss"]
    assert loss[first - 300] > 3 * loss[min(first + 300, len(loss) - 1)]


def test_octant_preset_reaches_95_percent_test_accuracy():
    result, _ = train_preset("octant_sphere", target_accuracy=0.95, checkpoint_every=0)
    assert result.status == "target_reached"
    assert result.final_test_accuracy >= 0.95
    assert result.time_to_target_s is not None and result.time_to_target_s < 15
    full, _ = train_preset("octant_sphere", checkpoint_every=0)
    assert full.final_test_accuracy >= 0.95


def test_digits_preset_reaches_95_percent_with_layernorm_its_only_non_linearity():
    from polyviz.training import classification_results

    preset = get_preset("digits")
    assert preset.model.activation in ("layernorm", "u_eps") and preset.model.architecture == "mlp"
    assert preset.model.n_classes == 10 and preset.model.in_dim == 64
    result, (Xtr, Xte, ytr, yte) = train_preset("digits")
    assert len(Xte) == 359 and len(Xtr) == 1438
    assert result.final_test_accuracy >= 0.95, result.final_test_accuracy
    res = classification_results(result.params, Xte, yte)  # the model's own predictions agree
    assert res["accuracy"] == pytest.approx(result.final_test_accuracy)
    assert res["confusion"].sum() == len(Xte) and (res["per_class_accuracy"] >= 0.8).all()
    # the same seed's other variants stay above target (a preset must not hang on rounding luck)
    for seed in (1, 2):
        assert train_preset("digits", seed=seed, checkpoint_every=0)[0].final_test_accuracy >= 0.95


# ----------------------------------------------------------------------- phase transitions
def test_phase_transition_detection_on_synthetic_curves():
    steps = np.arange(3000)
    plateau_then_drop = np.where(steps < 1200, 0.35, 0.35 * np.exp(-(steps - 1200) / 40.0) + 0.02)
    plateau_then_drop = plateau_then_drop * (1 + 0.01 * np.sin(steps / 7.0))  # a little noise
    found = detect_phase_transitions(plateau_then_drop)
    assert len(found) == 1 and 1195 <= found[0] <= 1260
    assert detect_phase_transitions(0.7 * np.exp(-steps / 500.0)) == []  # steady decay: none
    assert detect_phase_transitions(np.full(3000, 0.3)) == []  # plateau forever: none
    two = np.where(steps < 800, 0.6, np.where(steps < 2000, 0.2, 0.03))
    assert len(detect_phase_transitions(two)) == 2


# ----------------------------------------------------------------------- NaN, progress, cancel
def test_non_finite_loss_stops_with_a_message(spiral_data):
    Xtr, Xte, ytr, yte = spiral_data
    cfg = ModelConfig()
    init = init_params(cfg, 0)
    init[3] = float("nan")
    r = train(cfg, TrainConfig(steps=500), Xtr, ytr, Xte, yte, init=init)
    assert r.status == "non_finite"
    assert "non-finite at step 0" in r.message
    assert r.steps_done == 0 and len(r.history["train_loss"]) == 1
    assert np.isnan(r.history["train_loss"][-1])

    X_bad = Xtr.copy()
    X_bad[5, 0] = np.nan
    sweep = seed_sweep(cfg, TrainConfig(steps=100), X_bad, ytr, n_seeds=3)
    assert sweep.status == "non_finite"
    assert (sweep.diverged_step == 0).all() and np.isnan(sweep.final_train_acc).all()


def test_progress_callback_and_cancellation(spiral_data):
    Xtr, Xte, ytr, yte = spiral_data
    calls = []

    def on_progress(step, total, metrics):
        calls.append((step, total, metrics))
        return step < 300

    r = train(ModelConfig(), TrainConfig(steps=1000, progress_every=150), Xtr, ytr, Xte, yte, on_progress=on_progress)
    assert [c[0] for c in calls] == [150, 300]
    assert all(c[1] == 1000 for c in calls)
    assert {"train_loss", "train_acc", "test_acc", "elapsed_s"} <= set(calls[-1][2])
    assert calls[-1][2]["train_loss"] == pytest.approx(r.history["train_loss"][299])
    assert r.status == "cancelled" and r.steps_done == 300
    assert len(r.history["train_loss"]) == 301
    assert r.history["test_step"][-1] == 300
    # the last entry is the model as it was when cancelled
    assert r.history["train_acc"][-1] == pytest.approx((predict(r.params, Xtr) == ytr).mean())


def test_checkpoints(spiral_data):
    Xtr, _, ytr, _ = spiral_data
    cfg = ModelConfig()
    r = train(cfg, TrainConfig(steps=250, checkpoint_every=100, checkpoint_steps=[42]), Xtr, ytr)
    assert sorted(r.checkpoints) == [0, 42, 100, 200, 250]
    np.testing.assert_array_equal(r.checkpoints[0], init_params(cfg, 0).numpy())
    np.testing.assert_array_equal(r.checkpoints[250], r.params.flat.numpy())
    # a checkpoint reproduces the run's loss at that step
    loss42, _ = loss_and_grad(cfg, torch.as_tensor(r.checkpoints[42]), Xtr, ytr)
    assert float(loss42) == pytest.approx(r.history["train_loss"][42], rel=1e-5)


# ----------------------------------------------------------------------- save / load
def test_save_load_round_trip(tmp_path, spiral_data):
    Xtr, Xte, ytr, yte = spiral_data
    cfg = ModelConfig(width=4, depth=2, activation="rmsnorm", eps=1e-4)
    r = train(cfg, TrainConfig(steps=50), Xtr, ytr)
    tensor_path, json_path = save_model(tmp_path / "model", r, extra={"note": "spiral", "acc": 0.5})
    assert tensor_path.suffix == ".safetensors" and json_path.suffix == ".json"
    doc = json.loads(json_path.read_text())
    assert doc["model"] == cfg.to_dict()
    loaded = load_model(tmp_path / "model.safetensors")
    assert loaded.config == cfg
    assert torch.equal(loaded.flat, r.params.flat)
    assert loaded.meta == {"note": "spiral", "acc": 0.5}
    np.testing.assert_array_equal(predict(loaded, Xte), predict(r.params, Xte))
    # the safetensors file is a plain state dict of the exported module
    from safetensors.torch import load_file

    module = build_module(cfg)
    module.load_state_dict(load_file(str(tensor_path)))
    torch.testing.assert_close(params_from_module(module).flat, r.params.flat)


def test_per_model_input_path_gradient_equals_autograd():
    """The minibatch path (a separate input per model) against autograd, float64."""
    from polyviz.training.engine import Engine

    cfg = ModelConfig(in_dim=2, width=3, depth=2)
    rng = np.random.default_rng(1)
    X = torch.as_tensor(rng.normal(size=(40, 2)))
    y = torch.as_tensor((rng.random(40) > 0.5).astype(np.int64))
    flat = torch.stack([init_params(cfg, s, torch.float64) for s in (0, 1)])
    idx = torch.stack([torch.arange(40), torch.arange(39, -1, -1)])  # model 1 sees the points reversed
    eng = Engine(cfg, flat.clone(), 40, shared_input=False, train=True)
    XaT = torch.cat([X, torch.ones(40, 1, dtype=torch.float64)], 1)
    eng.set_batch(XaT, y.double() * 2 - 1, idx)
    loss_sum, acc_sum = torch.empty(2, dtype=torch.float64), torch.empty(2, dtype=torch.float64)
    with torch.inference_mode():
        eng.forward(loss_sum, acc_sum)
        eng.backward()
    _, ref = loss_and_grad(cfg, flat, X.numpy(), y.numpy())  # order of points does not matter
    torch.testing.assert_close(eng.grad, ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(-loss_sum / 40, loss_and_grad(cfg, flat, X.numpy(), y.numpy())[0])


# ----------------------------------------------------------------------- the pre-LN MLP block
def _preln_reference(cfg: ModelConfig, flat: torch.Tensor) -> torch.nn.Module:
    """The pre-LN model built here from torch's own modules (nn.Linear, nn.LayerNorm, nn.ReLU /
    nn.GELU), independently of polyviz.models: the oracle for forward and gradients."""
    views = MLPParams(cfg, flat).layers()

    def linear(w, b):
        lin = torch.nn.Linear(w.shape[1], w.shape[0], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(w)
            lin.bias.copy_(b)
        return lin

    class Block(torch.nn.Module):
        def __init__(self, k):
            super().__init__()
            self.norm = torch.nn.LayerNorm(cfg.width, eps=cfg.eps, elementwise_affine=False)
            self.fc1, self.fc2 = linear(*views[1 + 2 * k]), linear(*views[2 + 2 * k])
            self.act = torch.nn.ReLU() if cfg.activation == "relu" else torch.nn.GELU()

        def forward(self, x):
            return x + self.fc2(self.act(self.fc1(self.norm(x))))

    return torch.nn.Sequential(linear(*views[0]), *[Block(k) for k in range(cfg.depth)], linear(*views[-1]))


@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("depth, width, hidden", [(0, 3, 0), (1, 3, 0), (2, 4, 7), (3, 2, 3)])
def test_preln_hand_written_gradient_equals_autograd_and_torch_modules(activation, depth, width, hidden):
    cfg = ModelConfig(in_dim=3, width=width, depth=depth, activation=activation, eps=1e-3, architecture="preln",
                      block_hidden=hidden)
    rng = np.random.default_rng(depth * 10 + width)
    X = rng.normal(size=(48, 3))
    y = (rng.random(48) > 0.5).astype(np.int64)
    flat = torch.stack([init_params(cfg, s, torch.float64) for s in range(3)]) * 1.7  # K = 3 models
    loss, grad = loss_and_grad(cfg, flat, X, y)
    f = flat.clone().requires_grad_(True)
    logits = forward(cfg, f, torch.as_tensor(X))
    target = torch.as_tensor(y, dtype=torch.float64)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(logits, target.expand_as(logits),
                                                               reduction="none").mean(-1)
    ref.sum().backward()
    torch.testing.assert_close(loss, ref.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad, f.grad, rtol=1e-10, atol=1e-12)
    # the model of row 1 against nn.LayerNorm/nn.Linear modules: logits and every parameter's gradient
    seq = _preln_reference(cfg, flat[1])
    out = seq(torch.as_tensor(X)).squeeze(-1)
    torch.testing.assert_close(out, forward(cfg, flat[1], torch.as_tensor(X)), rtol=1e-12, atol=1e-12)
    torch.nn.functional.binary_cross_entropy_with_logits(out, target).backward()
    lins = [m for m in seq.modules() if isinstance(m, torch.nn.Linear)]
    mod_grad = torch.cat([torch.cat([m.weight.grad, m.bias.grad[:, None]], 1).reshape(-1) for m in lins])
    torch.testing.assert_close(grad[1], mod_grad, rtol=1e-10, atol=1e-12)
    # and the export is the same network
    exported = build_module(cfg, flat[1])
    torch.testing.assert_close(exported(torch.as_tensor(X)).squeeze(-1), out.detach(), rtol=1e-12, atol=1e-12)
    assert isinstance(exported[1 if depth else 0], torch.nn.Module)
    assert len(exported) == depth + 2


def test_preln_minibatch_path_gradient_equals_autograd():
    from polyviz.training.engine import make_engine

    cfg = ModelConfig(in_dim=2, width=3, depth=2, activation="gelu", architecture="preln", block_hidden=5)
    rng = np.random.default_rng(2)
    X = torch.as_tensor(rng.normal(size=(30, 2)))
    y = torch.as_tensor((rng.random(30) > 0.5).astype(np.int64))
    flat = torch.stack([init_params(cfg, s, torch.float64) for s in (0, 1)])
    idx = torch.stack([torch.arange(30), torch.arange(29, -1, -1)])
    eng = make_engine(cfg, flat.clone(), 30, shared_input=False, train=True)
    eng.set_batch(torch.cat([X, torch.ones(30, 1, dtype=torch.float64)], 1), y.double() * 2 - 1, idx)
    loss_sum, acc_sum = torch.empty(2, dtype=torch.float64), torch.empty(2, dtype=torch.float64)
    with torch.inference_mode():
        eng.forward(loss_sum, acc_sum)
        eng.backward()
    ref_loss, ref = loss_and_grad(cfg, flat, X.numpy(), y.numpy())
    torch.testing.assert_close(eng.grad, ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(-loss_sum / 30, ref_loss)


def test_preln_trains_saves_and_loads(tmp_path, spiral_data):
    Xtr, Xte, ytr, yte = spiral_data
    cfg = ModelConfig(in_dim=2, width=3, depth=2, activation="relu", architecture="preln")
    r = train(cfg, TrainConfig(steps=1500, seed=0), Xtr, ytr, Xte, yte)
    assert r.final_test_accuracy >= 0.95, r.final_test_accuracy
    # the accuracy the loop reports is the model's own
    assert r.final_test_accuracy == pytest.approx(float((predict(r.params, Xte) == yte).mean()))
    save_model(tmp_path / "m", r.params)
    back = load_model(tmp_path / "m")
    assert back.config == cfg
    torch.testing.assert_close(back.flat, r.params.flat)
    from safetensors.torch import load_file

    keys = set(load_file(str(tmp_path / "m.safetensors")))
    assert {"0.weight", "1.fc1.weight", "1.fc2.bias", "2.fc1.weight", "3.weight"} <= keys
    for kwargs, message in [(dict(activation="u_eps"), "activation must be one of relu, gelu in a pre-LN block"),
                            (dict(width=1, activation="relu"), "width must be >= 2 for the pre-LN block"),
                            (dict(architecture="transformer"), "architecture must be one of mlp, preln")]:
        with pytest.raises(ValueError, match=message):
            ModelConfig(**{"architecture": "preln", **kwargs})


@pytest.mark.parametrize("cfg", [
    ModelConfig(in_dim=2, width=3, depth=2, activation="gelu", architecture="preln", block_hidden=6, eps=1e-3),
    ModelConfig(in_dim=2, width=4, depth=1, activation="relu", architecture="preln"),
    ModelConfig(in_dim=2, width=3, depth=2, activation="u_eps", eps=1e-2),
    ModelConfig(in_dim=2, width=4, depth=2, activation="layernorm", eps=1e-2),
    ModelConfig(in_dim=2, width=3, depth=1, activation="rmsnorm")])
def test_sphere_layer_is_what_the_model_computes(cfg):
    """W @ n + b of the sphere layer equals the model's own pre-activations of that Linear
    (captured by a forward hook on the exported torch module) for every data point, and the
    points lie on the stated sphere (up to eps)."""
    from polyviz.models import sphere_layer

    X, _ = make_dataset("spiral", 300, 0.01, 0)
    params = MLPParams(cfg, init_params(cfg, 3, torch.float64) * 2.0)
    module = build_module(cfg, params.flat)
    for k in range(cfg.depth):
        layer = sphere_layer(params, X, k)
        if cfg.architecture == "preln":
            target = module[1 + k].fc1
        else:
            target = [m for m in module if isinstance(m, torch.nn.Linear)][k + 1]
        captured = []
        handle = target.register_forward_hook(lambda mod, inp, out: captured.append((inp[0].detach(), out.detach())))
        module(torch.as_tensor(X, dtype=torch.float64))
        handle.remove()
        read, captured = captured[0][0].numpy(), [captured[0][1]]
        np.testing.assert_allclose(layer.points, read, rtol=1e-10, atol=1e-12)  # the points ARE what it reads
        np.testing.assert_allclose(layer.W @ layer.points.T + layer.b[:, None], captured[0].numpy().T,
                                   rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(layer.pre_activations, captured[0].numpy(), rtol=1e-10, atol=1e-10)
        # on the sphere: never outside its radius, most points close to it, in the basis' subspace
        n_dim = cfg.width
        assert layer.points.shape == (len(X), n_dim)
        assert (layer.norms <= layer.radius * (1 + 1e-12)).all()
        assert np.median(layer.norms) > 0.9 * layer.radius
        if layer.kind == "layernorm":
            np.testing.assert_allclose(layer.points.sum(axis=1), 0.0, atol=1e-10)  # the mean-zero hyperplane
        in_plane, W_in = layer.intrinsic()
        np.testing.assert_allclose(in_plane @ layer.basis.T, layer.points, atol=1e-10)
        np.testing.assert_allclose(in_plane @ W_in.T + layer.b, layer.pre_activations, atol=1e-10)
        assert layer.sphere_dim == (n_dim - 2 if layer.kind == "layernorm" else n_dim - 1)
        assert layer.radius == pytest.approx(1.0 if layer.kind == "u_eps" else np.sqrt(n_dim))
    with pytest.raises(ValueError, match=r"layer must be an integer in \[0, "):
        sphere_layer(params, X, cfg.depth)


# ----------------------------------------------------------------------- multiclass
def _blobs(n=600, classes=4, seed=0):
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n, centers=classes, random_state=seed)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    return train_test_split(X, y, 0.8, seed)


@pytest.mark.parametrize("architecture, activation", [
    ("mlp", "u_eps"), ("mlp", "layernorm"), ("mlp", "rmsnorm"), ("mlp", "relu"), ("mlp", "gelu"),
    ("mlp", "group_layernorm"), ("mlp", "dyt"), ("mlp", "none"), ("preln", "gelu"), ("preln", "relu")])
@pytest.mark.parametrize("depth", [0, 1, 2])
def test_multiclass_hand_written_gradient_equals_autograd_cross_entropy(architecture, activation, depth):
    cfg = ModelConfig(in_dim=3, width=6, depth=depth, activation=activation, eps=1e-3, n_classes=5,
                      architecture=architecture, groups=2 if activation == "group_layernorm" else 1)
    rng = np.random.default_rng(depth)
    X = rng.normal(size=(50, 3))
    y = rng.integers(0, 5, 50)
    flat = torch.stack([init_params(cfg, s, torch.float64) for s in range(3)]) * 1.7
    if activation == "dyt" and depth:
        flat[:, cfg.linear_param_count:] = torch.as_tensor(rng.uniform(0.3, 2.0, size=(3, depth)))
    loss, grad = loss_and_grad(cfg, flat, X, y)
    f = flat.clone().requires_grad_(True)
    logits = forward(cfg, f, torch.as_tensor(X))  # (K, N, C)
    assert logits.shape == (3, 50, 5)
    ref = torch.nn.functional.cross_entropy(logits.transpose(1, 2), torch.as_tensor(y).expand(3, 50),
                                            reduction="none").mean(-1)
    ref.sum().backward()
    torch.testing.assert_close(loss, ref.detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(grad, f.grad, rtol=1e-10, atol=1e-12)


def test_multiclass_per_model_input_path_and_accuracy_count():
    from polyviz.training.engine import make_engine

    cfg = ModelConfig(in_dim=2, width=4, depth=2, activation="layernorm", n_classes=3)
    rng = np.random.default_rng(4)
    X = torch.as_tensor(rng.normal(size=(40, 2)))
    y = torch.as_tensor(rng.integers(0, 3, 40))
    flat = torch.stack([init_params(cfg, s, torch.float64) for s in (0, 1)])
    idx = torch.stack([torch.arange(40), torch.arange(39, -1, -1)])
    eng = make_engine(cfg, flat.clone(), 40, shared_input=False, train=True)
    eng.set_batch(torch.cat([X, torch.ones(40, 1, dtype=torch.float64)], 1), eng.head.targets(y), idx)
    loss_sum, signed = torch.empty(2, dtype=torch.float64), torch.empty(2, dtype=torch.float64)
    with torch.inference_mode():
        eng.forward(loss_sum, signed)
        eng.backward()
    ref_loss, ref = loss_and_grad(cfg, flat, X.numpy(), y.numpy())
    torch.testing.assert_close(eng.grad, ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(-loss_sum / 40, ref_loss)
    right = (forward(cfg, flat, X).argmax(-1) == y).sum(-1).double()  # no ties in float64 here
    torch.testing.assert_close((signed + 40) / 2, right)


@pytest.mark.parametrize("scale", [50.0, 500.0, 5000.0])
def test_float32_log_softmax_is_stable_at_huge_logits(scale):
    """exp(z) overflows float32 above z ~ 88: the engine's log-sum-exp must not."""
    cfg = ModelConfig(in_dim=2, depth=0, n_classes=3)
    rng = np.random.default_rng(int(scale))
    X = rng.normal(size=(60, 2))
    y = rng.integers(0, 3, 60)
    flat64 = torch.as_tensor(rng.normal(size=cfg.param_count)) * scale
    loss32, grad32 = loss_and_grad(cfg, flat64.float(), X.astype(np.float32), y)
    f = flat64.clone().requires_grad_(True)
    logits = forward(cfg, f, torch.as_tensor(X.astype(np.float32).astype(np.float64)))
    ref = torch.nn.functional.cross_entropy(logits, torch.as_tensor(y))
    ref.backward()
    assert torch.isfinite(loss32) and torch.isfinite(grad32).all()
    np.testing.assert_allclose(float(loss32), ref.item(), rtol=1e-4)
    np.testing.assert_allclose(grad32.double().numpy(), f.grad.numpy(), rtol=1e-3, atol=1e-4 * (1 + ref.item()))


def test_multiclass_training_sweep_minibatch_and_results():
    from sklearn.metrics import confusion_matrix as sk_confusion
    from sklearn.metrics import recall_score

    from polyviz.training import classification_results, confusion_matrix, per_class_accuracy

    Xtr, Xte, ytr, yte = _blobs()
    cfg = ModelConfig(in_dim=2, width=6, depth=2, activation="layernorm", n_classes=4)
    r = train(cfg, TrainConfig(steps=400, seed=0), Xtr, ytr, Xte, yte)
    assert r.final_test_accuracy >= 0.9
    pred = predict(r.params, Xte)
    assert r.final_test_accuracy == pytest.approx(float((pred == yte).mean()))
    res = classification_results(r.params, Xte, yte)
    np.testing.assert_array_equal(res["confusion"], sk_confusion(yte, pred, labels=range(4)))
    np.testing.assert_allclose(res["per_class_accuracy"], recall_score(yte, pred, average=None, labels=range(4)))
    assert res["accuracy"] == pytest.approx(r.final_test_accuracy)
    assert np.isnan(per_class_accuracy([0, 0, 1], [0, 1, 1], 3)[2])
    assert confusion_matrix([0, 2], [2, 2], 3).tolist() == [[0, 0, 1], [0, 0, 0], [0, 0, 1]]
    with pytest.raises(ValueError, match=r"y_pred must hold classes in \[0, 2\]"):
        confusion_matrix([0], [3], 3)
    # the loop's per-step curve ends at the exact accuracy; loss falls
    assert r.history["train_loss"][-1] < 0.5 * r.history["train_loss"][0]
    # the sweep: each seed's row matches its own run (float64)
    tc = TrainConfig(steps=150, seed=0, dtype="float64")
    sweep = seed_sweep(cfg, tc, Xtr, ytr, Xte, yte, n_seeds=3)
    for k in range(3):
        single = train(cfg, tc.replace(seed=k), Xtr, ytr, Xte, yte)
        np.testing.assert_allclose(sweep.history["train_loss"][k], single.history["train_loss"], rtol=1e-9)
        assert sweep.final_test_acc[k] == pytest.approx(single.final_test_accuracy)
    mb = train(cfg, TrainConfig(steps=300, seed=1, batch_size=64), Xtr, ytr, Xte, yte)
    assert mb.final_test_accuracy >= 0.85
    with pytest.raises(ValueError, match=r"labels must be integers in \[0, 3\]"):
        train(cfg, TrainConfig(steps=5), Xtr, ytr + 1)
    # probabilities: the softmax rows
    from polyviz.models import predict_proba

    probs = predict_proba(r.params, Xte)
    assert probs.shape == (len(Xte), 4)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(probs.argmax(1), pred)


def test_a_divergence_is_explained_with_its_step_largest_gradient_norm_and_what_to_change(spiral_data, monkeypatch):
    """A blow-up after 37 updates (injected into Adam's update, so the replay sees it too): the
    run stops at step 37 and names the largest gradient norm of steps 0..36, as autograd
    computes it on the same trajectory, and a smaller learning rate and larger eps to try."""
    from polyviz.training import loop
    from polyviz import models
    from polyviz.training.loop import divergence_words

    Xtr, Xte, ytr, yte = spiral_data
    cfg = ModelConfig(activation="u_eps", eps=1e-6)
    tc = TrainConfig(steps=200, lr=0.05, seed=3, progress_every=10)  # finiteness checked every 10 steps
    real_step = loop.adam_step

    def exploding_step(flat, grad, state, *args):
        real_step(flat, grad, state, *args)
        if state.t == 37:
            flat.mul_(1e30).mul_(1e30)  # past float32: infinite parameters

    monkeypatch.setattr(loop, "adam_step", exploding_step)
    r = train(cfg, tc, Xtr, ytr, Xte, yte)
    monkeypatch.undo()
    assert r.status == "non_finite" and r.steps_done == 37
    # oracle: the same 37 steps without the blow-up, every step's gradient by autograd
    clean = train(cfg, tc.replace(steps=37, checkpoint_every=1), Xtr, ytr)
    X = torch.as_tensor(Xtr, dtype=torch.float32)
    target = torch.as_tensor(ytr, dtype=torch.float32)
    norms = []
    for step in range(37):
        flat = torch.as_tensor(clean.checkpoints[step]).clone().requires_grad_(True)
        loss = torch.nn.functional.binary_cross_entropy_with_logits(models.forward(cfg, flat, X), target)
        (grad,) = torch.autograd.grad(loss, flat)
        norms.append(float(grad.norm()))
    expected = divergence_words(cfg, tc, 37, max(norms), int(np.argmax(norms)), 30)
    assert r.message == expected
    assert f"largest gradient norm before it was {max(norms):.3g} (at step {int(np.argmax(norms))})" in r.message
    assert "lr = 0.005 instead of 0.05" in r.message and "larger eps (0.0001 instead of 1e-06" in r.message
