"""polyviz.transformer against the transformers modules themselves and dense sampling.

Tiny random GPT-2 and BERT checkpoints are built here, saved with save_pretrained and loaded
through the allow-list exactly as a user's directory would be; the in-memory models that
were saved are the oracles (their MLP pre-activations captured by forward hooks). MiniLM
(the bundled default) is checked the same way against its own transformers module.
"""

from __future__ import annotations

import copy
import math
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from polyviz import transformer as tf

WORDS = ("the cat sat on mat rain paris is capital of france and seine runs through it she paid "
         "twelve dollars for two books a pen watched").split()
TEXT = "The cat sat on the mat and watched the rain. She paid twelve dollars for two books."


def _randomise(model, seed):
    # LayerNorm gains/biases and Linear biases away from their (1, 0) initialisation, so
    # that folding them in is actually tested.
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "ln" in name or "LayerNorm" in name:
                param.copy_((1.0 if name.endswith("weight") else 0.0)
                            + 0.3 * torch.randn(param.shape, generator=gen))
            elif name.endswith("bias"):
                param.copy_(0.2 * torch.randn(param.shape, generator=gen))
    return model.eval()


def _bert_tokenizer():
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors

    vocab = {t: k for k, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ",", "."] + WORDS)}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
        pad_token="[PAD]", mask_token="[MASK]")


def _gpt2_tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=["<|endoftext|>"], show_progress=False)
    bpe.train_from_iterator([" ".join(WORDS)] * 3, trainer)
    return transformers.PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """{"tinybert": (dir, oracle model, tokenizer), "tinygpt": (...)}, saved checkpoints."""
    torch.manual_seed(0)
    out = {}
    tok = _bert_tokenizer()
    bert = _randomise(transformers.BertModel(transformers.BertConfig(
        vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=80, max_position_embeddings=64, layer_norm_eps=1e-12)), 1)
    tok = _gpt2_tokenizer()
    gpt = _randomise(transformers.GPT2Model(transformers.GPT2Config(
        vocab_size=len(tok), n_embd=24, n_layer=3, n_head=4, n_positions=64, bos_token_id=0,
        eos_token_id=0)), 2)
    for name, model, tokenizer in (("tinybert", bert, _bert_tokenizer()), ("tinygpt", gpt, tok)):
        directory = tmp_path_factory.mktemp(name)
        model.save_pretrained(directory)
        tokenizer.save_pretrained(directory)
        out[name] = (directory, model, tokenizer)
    return out


@pytest.fixture
def allow(tiny, monkeypatch):
    monkeypatch.setenv(tf.MODELS_ENV, ",".join(["minilm"] + [f"{k}={v[0]}" for k, v in tiny.items()]))


@pytest.fixture(scope="module")
def minilm():
    return tf.load("minilm")


def _fc_path(family, layer):
    return f"h.{layer}.mlp.c_fc" if family == "gpt2" else f"encoder.layer.{layer}.intermediate.dense"


def _hooked(hf, encoded, ln_paths, fc_paths):
    """The LayerNorm inputs and first-Linear outputs of the oracle module, by hooks."""
    ln_in, fc_out, handles = {}, {}, []
    for k, path in enumerate(ln_paths):
        handles.append(hf.get_submodule(path).register_forward_pre_hook(
            lambda m, args, k=k: ln_in.__setitem__(k, args[0][0].double().numpy())))
    for k, path in enumerate(fc_paths):
        handles.append(hf.get_submodule(path).register_forward_hook(
            lambda m, args, out, k=k: fc_out.__setitem__(k, out[0].double().numpy())))
    try:
        with torch.no_grad():
            hf(**encoded)
    finally:
        for h in handles:
            h.remove()
    return ln_in, fc_out


def _check_against_oracle(model, oracle, tokenizer, text):
    encoded = tokenizer(text, return_tensors="pt")
    layers = range(model.n_layers)
    ln_in, fc_out = _hooked(oracle, encoded, [model.ln_name(i) for i in layers],
                            [_fc_path(model.family, i) for i in layers])
    for layer in layers:
        tokens, X = model.mlp_inputs(text, layer)
        assert tokens == tokenizer.convert_ids_to_tokens(encoded["input_ids"][0].tolist())
        assert X.dtype == np.float64 and X.shape == (len(tokens), model.d_model)
        np.testing.assert_allclose(X, ln_in[layer], rtol=1e-6, atol=1e-6)
        W, b = model.mlp_in(layer)
        assert W.shape == (model.d_mlp, model.d_model) and b.shape == (model.d_mlp,)
        Z = model.normalize(X) @ W.T + b
        scale = np.abs(fc_out[layer]).max()
        np.testing.assert_allclose(Z, fc_out[layer], atol=2e-5 * scale, rtol=0)


@pytest.mark.parametrize("name", ["tinybert", "tinygpt"])
def test_tiny_checkpoints_fold_layernorm_exactly(name, tiny, allow):
    _directory, oracle, tokenizer = tiny[name]
    model = tf.load(name)
    assert model.family == ("gpt2" if name == "tinygpt" else "bert")
    assert model.n_layers == oracle.config.num_hidden_layers
    assert model.d_model == oracle.config.hidden_size
    assert model.d_mlp == (4 * 24 if name == "tinygpt" else 80)
    assert model.activation == ("gelu_new" if name == "tinygpt" else "gelu")
    assert model.ln_eps == (1e-5 if name == "tinygpt" else 1e-12)
    _check_against_oracle(model, oracle, tokenizer, TEXT)
    # special tokens are there as the model sees them
    assert model.tokenize(TEXT)[0] == ("[CLS]" if name == "tinybert" else "T")


def test_gpt2_mlp_out_is_the_transposed_conv1d(tiny, allow):
    # The whole MLP of a GPT-2 block, from our arrays, equals the module's own output.
    model = tf.load("tinygpt")
    _, oracle, _tokenizer = tiny["tinygpt"]
    _, X = model.mlp_inputs(TEXT, 1)
    W, b = model.mlp_in(1)
    W2, b2 = model.mlp_out(1)
    ours = tf.activate(model.normalize(X) @ W.T + b, model.activation) @ W2.T + b2
    block = oracle.h[1]
    with torch.no_grad():
        theirs = block.mlp(block.ln_2(torch.from_numpy(X).float())).double().numpy()
    np.testing.assert_allclose(ours, theirs, atol=2e-5 * np.abs(theirs).max())


def test_minilm_matches_its_transformers_module(minilm):
    assert (minilm.n_layers, minilm.d_model, minilm.d_mlp, minilm.ln_eps, minilm.activation) == \
        (6, 384, 1536, 1e-12, "gelu")
    assert minilm.family == "bert"
    _check_against_oracle(minilm, minilm.hf_model, minilm._tokenizer, tf.DEFAULT_TEXT)
    tokens = minilm.tokenize(tf.DEFAULT_TEXT)
    assert tokens[0] == "[CLS]" and tokens[-1] == "[SEP]"
    assert "attention.output.LayerNorm" in minilm.ln_description(0) and "post-LN" in minilm.ln_description(0)


def test_bad_input_says_field_and_range(minilm):
    with pytest.raises(ValueError, match=r"layer must be an integer in 0\.\.5"):
        minilm.mlp_in(6)
    with pytest.raises(ValueError, match="layer"):
        minilm.mlp_inputs("hello", -1)
    with pytest.raises(ValueError, match="text must be a non-empty string"):
        minilm.mlp_inputs("   ", 0)
    with pytest.raises(ValueError, match=r"text must have 1\.\.512 tokens"):
        minilm.mlp_inputs("word " * 600, 0)
    _, X = minilm.mlp_inputs("hello world", 0)
    X[:] = 0  # the per-process memo hands out copies
    assert np.abs(minilm.mlp_inputs("hello world", 0)[1]).max() > 0


# ----------------------------------------------------------------------------- allow-list

def test_allow_list_refuses_unknown_names_and_paths(tiny, allow, monkeypatch):
    assert tf.available_models() == ["minilm", "tinybert", "tinygpt"]
    directory = str(tiny["tinybert"][0])
    for bad in ("gpt2", directory, "../tinybert", "tinybert=" + directory, "", None):
        with pytest.raises(tf.UnknownModel, match="model must be one of minilm, tinybert, tinygpt"):
            tf.load(bad)
    monkeypatch.delenv(tf.MODELS_ENV)
    assert tf.available_models() == ["minilm"]
    with pytest.raises(tf.UnknownModel):
        tf.load("tinybert")
    monkeypatch.setenv(tf.MODELS_ENV, "minilm=/tmp/x")
    with pytest.raises(ValueError, match="cannot be redefined"):
        tf.available_models()
    monkeypatch.setenv(tf.MODELS_ENV, "bad name")
    with pytest.raises(ValueError, match="POLYVIZ_MODELS"):
        tf.available_models()
    monkeypatch.setenv(tf.MODELS_ENV, "gone=/nonexistent/polyviz-model")
    with pytest.raises(tf.ModelUnavailable, match="does not exist"):
        tf.load("gone")


def test_hub_name_not_cached_offline_is_unavailable_in_words(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv(tf.MODELS_ENV, "minilm,polyviz-test/no-such-model")
    for _ in range(2):  # the second answer comes from the failure memo, same words
        with pytest.raises(tf.ModelUnavailable, match="'polyviz-test/no-such-model'.*cannot be loaded"):
            tf.load("polyviz-test/no-such-model")


def test_unsupported_family_is_refused(tmp_path):
    config = transformers.DistilBertConfig(vocab_size=40, dim=16, n_layers=1, n_heads=2, hidden_dim=32)
    transformers.DistilBertModel(config).save_pretrained(tmp_path)
    _bert_tokenizer().save_pretrained(tmp_path)
    with pytest.raises(tf.ModelUnavailable, match="supported families: bert, gpt2"):
        tf.load_checkpoint(tmp_path)


def test_sha256_mismatch_is_refused(tiny, tmp_path):
    directory = tmp_path / "copy"
    shutil.copytree(tiny["tinybert"][0], directory)
    weights = directory / "model.safetensors"
    import hashlib

    good = hashlib.sha256(weights.read_bytes()).hexdigest()
    assert tf.load_checkpoint(directory, sha256=good).d_mlp == 80
    tf.verify_sha256(weights, good)
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one byte of the last tensor
    weights.write_bytes(bytes(data))
    with pytest.raises(tf.ModelUnavailable, match="sha256"):
        tf.verify_sha256(weights, good)
    with pytest.raises(tf.ModelUnavailable, match="refusing weights"):
        tf._load_source(tf.ModelSource("tampered", "directory", str(directory), good))


def test_minilm_weights_are_the_pinned_file():
    weights = tf._minilm_directory() / "model.safetensors"
    import hashlib

    with open(weights, "rb") as handle:
        assert hashlib.file_digest(handle, "sha256").hexdigest() == tf.MINILM_SHA256
    assert tf.configured_models()["minilm"].sha256 == tf.MINILM_SHA256


# ----------------------------------------------------------------------------- geometry vs the real model

def _real_preacts(model, layer, points):
    """The real module's pre-activations (float64 copies of its LayerNorm and first Linear)
    for raw residual vectors ``points``."""
    hf = model.hf_model
    ln = copy.deepcopy(hf.get_submodule(model.ln_name(layer))).double()
    fc = copy.deepcopy(hf.get_submodule(_fc_path(model.family, layer))).double()
    with torch.no_grad():
        return fc(ln(torch.from_numpy(np.asarray(points, dtype=np.float64)))).numpy()


def _raw_preacts(model, layer, points):
    fc = copy.deepcopy(model.hf_model.get_submodule(_fc_path(model.family, layer))).double()
    with torch.no_grad():
        return fc(torch.from_numpy(np.asarray(points, dtype=np.float64))).numpy()


def _sign_changes(Z):
    """Per column, the sign changes between consecutive rows."""
    s = Z > 0
    return np.count_nonzero(s[1:] != s[:-1], axis=0)


@pytest.mark.parametrize("layer", [0, 5])
def test_great_circle_crossings_match_dense_sampling(minilm, layer):
    _tokens, X = minilm.mlp_inputs(tf.DEFAULT_TEXT, layer)
    W, b = minilm.mlp_in(layer)
    circle = tf.great_circle(X[2], X[9])
    crossings = tf.circle_crossings(W, b, circle)
    assert crossings.n_crossing_neurons > 100  # a real layer: many neurons cross
    angles = np.linspace(0.0, tf.TAU, 10001)[:-1]
    Z = _real_preacts(minilm, layer, circle.points(angles))
    # A's point is the real LayerNorm of token 2 (up to eps): the same code
    assert ((_real_preacts(minilm, layer, X[2:3])[0] > 0) == crossings.start_code).all()
    exact = crossings.codes_at(angles)
    clear = np.abs(Z) > 1e-7 * np.abs(Z).max()
    assert (exact == (Z > 0))[clear].all()
    # per neuron, the sampled sign changes around the circle equal the exact crossings,
    # except where two crossings fall between neighbouring samples
    per_neuron = np.bincount(crossings.neurons, minlength=minilm.d_mlp)
    wrap = np.vstack([Z, Z[:1]])
    sampled = _sign_changes(wrap)
    narrow = np.zeros(minilm.d_mlp, dtype=bool)
    for neuron in np.unique(crossings.neurons):
        a = np.sort(crossings.angles[crossings.neurons == neuron])
        narrow[neuron] = min(a[1] - a[0], tf.TAU - a[1] + a[0]) < 2 * tf.TAU / len(angles)
    assert (sampled[~narrow] == per_neuron[~narrow]).all()
    # the exact step curves agree with the sampled counts
    steps, active = crossings.active_steps()
    k = np.searchsorted(steps, angles, "right") - 1
    on = Z > 0
    near = (~clear).any(axis=1)
    assert (active[k] == on.sum(1))[~near].all()
    steps, hamming = crossings.hamming_steps()
    assert (hamming[np.searchsorted(steps, angles, "right") - 1]
            == (on != crossings.start_code).sum(1))[~near].all()
    # the arc from A to B, sampled from A's point to B's exactly
    arc = np.linspace(0.0, circle.theta_b, 5001)
    on_arc = (crossings.angles > 0) & (crossings.angles <= circle.theta_b)
    per_arc = np.bincount(crossings.neurons[on_arc], minlength=minilm.d_mlp)
    sampled_arc = _sign_changes(_real_preacts(minilm, layer, circle.points(arc)))
    assert (sampled_arc[~narrow] == per_arc[~narrow]).all()
    assert crossings.count_between(0.0, circle.theta_b) == per_arc.sum()


def test_circle_profile_speed_is_the_derivative(minilm):
    _, X = minilm.mlp_inputs(tf.DEFAULT_TEXT, 3)
    W, b = minilm.mlp_in(3)
    W2, b2 = minilm.mlp_out(3)
    circle = tf.great_circle(X[1], X[4])
    prof = tf.circle_profile(W, b, W2, b2, circle, n_angles=2001, activation="gelu")
    # the MLP's real output along the circle, by the transformers modules
    block = minilm.hf_model.encoder.layer[3]
    ln = copy.deepcopy(block.attention.output.LayerNorm).double()
    fc = copy.deepcopy(block.intermediate).double()
    proj = copy.deepcopy(block.output.dense).double()
    with torch.no_grad():
        Y = proj(fc(ln(torch.from_numpy(circle.points(prof.angles))))).numpy()
    np.testing.assert_allclose(prof.out_norm, np.linalg.norm(Y, axis=1), rtol=1e-9)
    finite_diff = np.linalg.norm(np.diff(Y, axis=0), axis=1) / np.diff(prof.angles)
    mid = 0.5 * (prof.out_speed[1:] + prof.out_speed[:-1])
    np.testing.assert_allclose(finite_diff, mid, rtol=2e-3, atol=1e-3 * mid.max())
    np.testing.assert_allclose(prof.soft[:, :5], 0.5 * (1 + torch.erf(torch.from_numpy(
        (np.cos(prof.angles)[:, None] * (circle.radius * W[:5] @ circle.p) + np.sin(prof.angles)[:, None]
         * (circle.radius * W[:5] @ circle.q) + b[:5]) / math.sqrt(2))).numpy()), rtol=1e-12, atol=1e-14)


def test_rotation_probe_matches_dense_sampling(minilm):
    _tokens, X = minilm.mlp_inputs(tf.DEFAULT_TEXT, 2)
    W, b = minilm.mlp_in(2)
    W_raw, b_raw = minilm.raw_mlp_in(2)
    W2, _ = minilm.mlp_out(2)
    probe = tf.rotation_probe(W, b, X, W_raw, b_raw, W2, "gelu", max_pairs=6, seed=3, tv_pairs=3,
                              tv_steps=8)
    assert len(probe.pairs) == 6 and probe.n_all_pairs == len(X) * (len(X) - 1) // 2
    fine = np.linspace(0.0, 1.0, 1001)
    for k, (i, j) in enumerate(probe.pairs):
        circle = tf.great_circle(X[i], X[j])
        assert probe.theta[k] == pytest.approx(circle.theta_b, abs=1e-7)
        Z = _real_preacts(minilm, 2, circle.points(fine * circle.theta_b))
        assert probe.crossings[k] == _sign_changes(Z).sum()
        segment = (1 - fine)[:, None] * X[i] + fine[:, None] * X[j]
        Zr = _raw_preacts(minilm, 2, segment)
        assert probe.crossings_raw[k] == _sign_changes(Zr).sum()
        cos_raw = X[i] @ X[j] / np.linalg.norm(X[i]) / np.linalg.norm(X[j])
        assert probe.theta_raw[k] == pytest.approx(math.acos(cos_raw), abs=1e-7)
        if np.isfinite(probe.tv[k]):
            # a polyline through points of the curve is a lower bound of its length
            Y = tf.activate(Z, "gelu") @ W2.T
            dense = np.linalg.norm(np.diff(Y, axis=0), axis=1).sum()
            assert probe.tv[k] <= dense * (1 + 1e-5)
            assert probe.tv[k] >= 0.5 * dense
            Yr = tf.activate(Zr, "gelu") @ W2.T
            assert probe.tv_raw[k] <= np.linalg.norm(np.diff(Yr, axis=0), axis=1).sum() * (1 + 1e-5)
    assert np.isfinite(probe.tv).sum() == 3
    summary = probe.summary()
    assert summary["pairs"] == 6 and summary["crossings_per_radian"]["n"] == 6


def test_token_pairs_sample_is_seeded_and_capped():
    all_pairs, total = tf.token_pairs(5)
    assert total == 10 and len(all_pairs) == 10 and (all_pairs[:, 0] < all_pairs[:, 1]).all()
    a, total = tf.token_pairs(512, 10_000, seed=7)
    b, _ = tf.token_pairs(512, 10_000, seed=7)
    assert total == 512 * 511 // 2 and len(a) == 10_000 and (a == b).all()
    assert len(np.unique(a[:, 0] * 512 + a[:, 1])) == 10_000
    with pytest.raises(ValueError, match="at least 2 tokens"):
        tf.token_pairs(1)


def test_scaling_keeps_codes_with_layernorm_and_names_the_eps_region(minilm):
    _, X = minilm.mlp_inputs(tf.DEFAULT_TEXT, 1)
    W, b = minilm.mlp_in(1)
    eps = minilm.ln_eps
    base = _real_preacts(minilm, 1, X)
    for k in (1e-3, 0.1, 10.0, 1e3):
        Zk = _real_preacts(minilm, 1, k * X)
        assert ((Zk > 0) == (base > 0)).all(), k
    exact = tf.scaling_crossings(W, b, X, k_max=1e3, eps=eps)
    k_eps = exact.extra["k_eps"]
    assert k_eps.max() < 1e-5  # sqrt(d eps) / |x - mean|: MiniLM's eps is tiny
    # every crossing lies in the eps region: none above 100 k_eps
    assert (exact.t <= 100 * k_eps[exact.line]).all()
    assert (exact.count_in(1e-4, 1e3) == 0).all()
    assert exact.counts.sum() > 0  # shrunk into the eps region, LN(kx) -> 0 and z -> b
    # those eps-region crossings are real: the module's codes at tiny k, for a few tokens
    ks = np.geomspace(1e-9, 1e-3, 3001)
    for row in (0, 3, 7):
        Z = _real_preacts(minilm, 1, ks[:, None] * X[row])
        per = np.bincount(exact.neuron[(exact.line == row) & (exact.t > ks[0])], minlength=W.shape[0])
        assert (_sign_changes(Z) == per).all()
    # without LayerNorm the ray crosses many boundaries, exactly where the affine map says
    W_raw, b_raw = minilm.raw_mlp_in(1)
    raw = tf.scaling_crossings_raw(W_raw, b_raw, X, k_max=10.0, k_min=0.1)
    assert np.median(raw.counts) > 50
    ks = np.geomspace(0.1, 10.0, 4001)
    for row in (0, 5):
        Zr = _raw_preacts(minilm, 1, ks[:, None] * X[row])
        assert _sign_changes(Zr).sum() == raw.counts[row]
    # eps = 0: exact scale invariance, no crossing at all
    assert tf.scaling_crossings(W, b, X, k_max=1e3, eps=0.0).counts.sum() == 0


def test_direction_crossings_match_dense_sampling(minilm):
    _, X = minilm.mlp_inputs(tf.DEFAULT_TEXT, 4)
    W, b = minilm.mlp_in(4)
    w = X[10] - X[3]
    exact = tf.direction_crossings(W, b, X[:3], w, alpha_max=20.0, eps=minilm.ln_eps)
    alphas = np.linspace(0.0, 20.0, 20001)
    for row in range(3):
        Z = _real_preacts(minilm, 4, X[row] + alphas[:, None] * w)
        per = np.bincount(exact.neuron[exact.line == row], minlength=W.shape[0])
        assert (_sign_changes(Z) == per).all()
        assert exact.counts[row] == per.sum() > 0


def test_line_crossings_with_eps_match_sampling_on_random_layers():
    # A large eps makes the eps curvature visible: roots of the squared equation that do
    # not solve the original one must be rejected.
    rng = np.random.default_rng(5)
    W, b = rng.normal(size=(300, 8)), rng.normal(size=300)
    C0, C1 = tf.center(rng.normal(size=(4, 8))), tf.center(rng.normal(size=(4, 8)))
    eps = 0.3
    exact = tf.layernorm_line_crossings(W, b, C0, C1, -5.0, 5.0, eps)
    t = np.linspace(-5.0, 5.0, 50001)
    for row in range(4):
        c = C0[row] + t[:, None] * C1[row]
        n = math.sqrt(8) * c / np.sqrt(np.sum(c * c, axis=1, keepdims=True) + 8 * eps)
        Z = n @ W.T + b
        per = np.bincount(exact.neuron[exact.line == row], minlength=300)
        assert (_sign_changes(Z) == per).all()
        # and each crossing is a zero of the pre-activation
        k = exact.line == row
        nt = C0[row] + exact.t[k, None] * C1[row]
        nt = math.sqrt(8) * nt / np.sqrt(np.sum(nt * nt, axis=1, keepdims=True) + 8 * eps)
        assert np.abs(np.einsum("ij,ij->i", nt, W[exact.neuron[k]]) + b[exact.neuron[k]]).max() < 1e-9


def test_dimension_scale_probe_against_torch_layernorm(minilm):
    _tokens, X = minilm.mlp_inputs(tf.DEFAULT_TEXT, 0)
    top = tf.massive_dimensions(X, top=3)
    magnitudes = np.abs(X).max(axis=0)
    assert [m.dim for m in top] == list(np.argsort(-magnitudes)[:3])
    for m in top:
        assert abs(m.value) == magnitudes[m.dim] and X[m.token, m.dim] == m.value
    W, b = minilm.mlp_in(0)
    dim, row = top[0].dim, top[0].token
    s = np.linspace(-20.0, 20.0, 8001)
    probe = tf.dimension_scale_probe(W, b, X[row], dim, s, minilm.ln_eps)
    Xs = np.repeat(X[row][None], len(s), axis=0)
    Xs[:, dim] *= s
    Xt = torch.from_numpy(Xs)
    ln = torch.nn.functional.layer_norm(Xt, (X.shape[1],), eps=minilm.ln_eps).numpy()
    centred = tf.center(Xs)
    np.testing.assert_allclose(probe.effective_scale, (ln / centred)[:, 5], rtol=1e-9)
    Z = _real_preacts(minilm, 0, Xs)
    base = _real_preacts(minilm, 0, X[row:row + 1])[0] > 0
    assert (probe.flips == ((Z > 0) != base).sum(1)).all()
    per = np.bincount(probe.neurons, minlength=W.shape[0])
    assert (_sign_changes(Z) == per).all()
    assert probe.rest_scale[np.argmin(np.abs(s - 1.0))] == pytest.approx(1.0)


@pytest.mark.parametrize("name", ["relu", "gelu", "gelu_new", "gelu_pytorch_tanh"])
def test_activations_match_transformers(name):
    from transformers.activations import ACT2FN

    z = np.linspace(-8, 8, 3001)
    zt = torch.from_numpy(z).requires_grad_(True)
    out = ACT2FN[name](zt)
    out.sum().backward()
    np.testing.assert_allclose(tf.activate(z, name), out.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(tf.activation_slope(z, name), zt.grad.numpy(), rtol=1e-9, atol=1e-12)
    nonzero = z != 0
    np.testing.assert_allclose(tf.soft_code(z, name)[nonzero] * z[nonzero], tf.activate(z, name)[nonzero],
                               rtol=1e-12, atol=1e-14)


def test_normalize_is_torch_layernorm_without_gain():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(5, 16)) * 1e-3  # small: eps matters
    eps = 1e-5
    np.testing.assert_allclose(tf.normalize(X, eps),
                               torch.nn.functional.layer_norm(torch.from_numpy(X), (16,), eps=eps).numpy(),
                               rtol=1e-12)
    with pytest.raises(ValueError, match="point the same or opposite ways"):
        tf.great_circle(X[0], 3 * X[0] + 1.0)
