"""The benchmark harness still runs and prints well-formed figures (values are not judged)."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_quick_benchmarks_print_one_json_metric_per_line():
    run = subprocess.run([sys.executable, "benchmarks/run.py", "--quick", "--only", "stretch_fold"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    records = [json.loads(line) for line in run.stdout.splitlines()]
    names = {record["metric"] for record in records}
    assert {"stretch_fold_callback_ms_p50", "stretch_fold_payload_kb", "cold_start_s"} <= names
    for record in records:
        assert isinstance(record["value"], (int, float)) and record["unit"]
        assert not record["metric"].endswith("_error")
