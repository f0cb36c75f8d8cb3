"""A slim run of the callback fuzzer (benchmarks/bench_serving.py runs the long one)."""

from __future__ import annotations

import fuzz


def test_no_callback_answers_5xx_to_random_or_malformed_payloads(client):
    counts = fuzz.run_fuzz(client, cases_per_callback=40, background_cases=5)
    assert counts["cases"] >= 40 * 10
    assert counts["5xx"] == 0, counts["failures"]
