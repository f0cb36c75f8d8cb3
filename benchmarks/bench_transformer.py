"""Real transformer layers on the LayerNorm sphere (polyviz.transformer), MiniLM (bundled).

transformer_circle_1536_ms: exact crossings of all 1,536 neurons of a MiniLM MLP on the great
circle through two real tokens (building the circle included). Target <= 0.5 ms.
transformer_pairs_per_s: the rotation probe's statistics with its defaults (10,000 seeded
pairs of a 256-token text, crossings per radian with and without LayerNorm, output total
variation on its 200-pair subsample), token pairs per second. Target >= 20,000.
transformer_text_ms: tokenising a 128-token text and capturing all six layers' MLP inputs
(one forward pass, nothing remembered). Target <= 150 ms.
transformer_worker_rss_mb: resident memory of a fresh process (one torch thread, as an app
worker) after loading MiniLM. Target <= 450 MB.
transformer_page_callback_ms_p50: the /transformer page's main callback (the great circle
through tokens A and B: exact crossings, the sampled profile, the figure) through HTTP with
the Flask test client, a new (A, B) pair on every request so nothing is memoized. Target <= 60 ms.
minilm_crossings_per_radian[_raw]_layer<i>: the research figures, on the default text: the
median over all token pairs of neuron boundaries crossed per radian, rotating along the
LayerNorm great circle and (raw) along the straight segment between raw residuals without
LayerNorm.

All timings run with one BLAS thread and one torch thread, like a gunicorn worker.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time

from _util import median_ms, metric

ROOT = pathlib.Path(__file__).resolve().parent.parent

RSS_SCRIPT = """
import json, torch
torch.set_num_threads(1)
from polyviz import transformer
model = transformer.load("minilm")
def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
after_load = rss_mb()
model.residuals(transformer.DEFAULT_TEXT)
print(json.dumps({"after_load": after_load, "after_first_text": rss_mb()}))
"""


def _text_of(model, sentences: str, n_tokens: int) -> str:
    """The shortest run of the sentences (repeated) with at least n_tokens tokens, special
    tokens included."""
    words = (" ".join([sentences] * 10)).split()  # ~360 tokens
    lo, hi = 1, len(words)
    while lo < hi:  # the fewest words that reach n_tokens
        mid = (lo + hi) // 2
        if len(model.tokenize(" ".join(words[:mid]))) >= n_tokens:
            hi = mid
        else:
            lo = mid + 1
    return " ".join(words[:lo])


def run(quick: bool):
    import threadpoolctl
    import torch

    from polyviz import transformer as tf

    torch.set_num_threads(1)
    repeats = 20 if quick else 100
    model = tf.load("minilm")
    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        _, X = model.mlp_inputs(tf.DEFAULT_TEXT, 3)
        W, b = model.mlp_in(3)
        crossings = tf.circle_crossings(W, b, tf.great_circle(X[2], X[9]))
        yield metric("transformer_circle_1536_ms",
                     median_ms(lambda: tf.circle_crossings(W, b, tf.great_circle(X[2], X[9])), repeats * 5),
                     "ms", target=0.5, crossing_neurons=crossings.n_crossing_neurons)

        text256 = _text_of(model, tf.DEFAULT_TEXT, 256)
        _, X256 = model.mlp_inputs(text256, 3)
        W_raw, b_raw = model.raw_mlp_in(3)
        W2, _ = model.mlp_out(3)

        def probe():
            return tf.rotation_probe(W, b, X256, W_raw, b_raw, W2, model.activation)

        result = probe()
        ms = median_ms(probe, 3 if quick else 10, warmup=1)
        n_pairs = len(result.pairs)
        crossings_only = median_ms(lambda: tf.rotation_probe(W, b, X256, W_raw, b_raw, None, model.activation),
                                   3 if quick else 10, warmup=1)
        yield metric("transformer_pairs_per_s", n_pairs / (ms / 1000.0), "pairs/s", target=20000,
                     pairs=n_pairs, tokens=len(X256), tv_pairs=int(result.summary()["tv"]["n"]),
                     probe_ms=round(ms, 1), crossings_only_pairs_per_s=round(n_pairs / (crossings_only / 1000.0)))

        text128 = _text_of(model, tf.DEFAULT_TEXT, 128)

        def residuals():
            model._residual_memo.clear()  # measure the forward pass, not the per-process memo
            return model.residuals(text128)

        yield metric("transformer_text_ms", median_ms(residuals, 5 if quick else 20, warmup=2), "ms",
                     target=150, tokens=len(model.tokenize(text128)), layers=model.n_layers)

        tokens, R = model.residuals(tf.DEFAULT_TEXT)
        for layer in range(model.n_layers):
            W, b = model.mlp_in(layer)
            W_raw, b_raw = model.raw_mlp_in(layer)
            summary = tf.rotation_probe(W, b, R[layer], W_raw, b_raw).summary()
            yield metric(f"minilm_crossings_per_radian_layer{layer}", summary["crossings_per_radian"]["median"],
                         "neurons/rad", pairs=summary["pairs"], tokens=len(tokens),
                         median_crossings=summary["crossings"]["median"])
            yield metric(f"minilm_crossings_per_radian_raw_layer{layer}",
                         summary["crossings_per_radian_raw"]["median"], "neurons/rad", pairs=summary["pairs"],
                         median_crossings=summary["crossings_raw"]["median"])

    yield from page_callback(repeats)

    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", RSS_SCRIPT], cwd=ROOT, capture_output=True, text=True, check=False,
                         timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1",
                                           "OPENBLAS_NUM_THREADS": "1"})
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    rss = json.loads(out.stdout.strip().splitlines()[-1])
    yield metric("transformer_worker_rss_mb", rss["after_load"], "MB", target=450,
                 after_first_text_mb=round(rss["after_first_text"], 1),
                 process_s=round(time.perf_counter() - started, 1))


def page_callback(repeats: int):
    """The /transformer page's main callback through HTTP, as bench_sphere_page.py does."""
    import itertools

    import dash_http
    import threadpoolctl

    import app
    from layouts import transformer as ids

    client = app.server.test_client()
    dep = dash_http.find_callback(dash_http.dependencies(client), ids.FIG_CIRCLE, "figure")
    values = {f"{ids.MODEL}.value": "minilm", f"{ids.LAYER}.value": 3, f"{ids.TEXT}.data": None}
    pairs = itertools.cycle([(i, j) for i in range(1, 37) for j in range(i + 1, 37)])  # 630 pairs, none repeated

    def post():
        a, b = next(pairs)
        body = dash_http.payload(dep, {**values, f"{ids.A}.value": a, f"{ids.B}.value": b}, [f"{ids.A}.value"])
        response = dash_http.post(client, body)
        assert response.status_code == 200, response.status_code
        return response

    with threadpoolctl.threadpool_limits(limits=1, user_api="blas"):
        post()  # loads the model and the text's residuals once
        ms = median_ms(post, max(20, repeats), warmup=3)
        size = len(post().data)
    yield metric("transformer_page_callback_ms_p50", ms, "ms", target=60, payload_kb=round(size / 1024, 1),
                 layer=3, tokens=38)
