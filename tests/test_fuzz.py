"""A slim run of the callback fuzzer (benchmarks/bench_serving.py runs the long one)."""

from __future__ import annotations

import fuzz


def test_no_callback_answers_5xx_logs_an_error_or_raises_the_banner(client):
    # A crash inside a callback is answered 200 with the error banner and logged at ERROR:
    # the status code alone cannot see it, so the run counts all three.
    counts = fuzz.run_fuzz(client, cases_per_callback=40, background_cases=5)
    assert counts["cases"] >= 40 * 10
    assert counts["5xx"] == 0, counts["failures"]
    assert counts["error_logs"] == 0, counts["first_error_logs"]
    assert counts["banners"] == 0, counts["banner_failures"]
