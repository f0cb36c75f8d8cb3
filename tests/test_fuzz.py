"""A slim run of the callback fuzzer (benchmarks/bench_serving.py runs the long one)."""

from __future__ import annotations

import fuzz


def is_background(dep: dict) -> bool:
    return bool(dep.get("background"))


def test_no_callback_answers_5xx_to_random_or_malformed_payloads(client):
    counts = fuzz.run_fuzz(client, cases_per_callback=60, skip=is_background)
    assert counts["cases"] >= 60 * 2
    assert counts["5xx"] == 0, counts["failures"]
