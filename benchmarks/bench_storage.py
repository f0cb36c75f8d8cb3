"""Bounded storage: many distinct trained runs into the embedded cache with a small cap.

``abuse_disk_mb``: the data directory's size on disk after 1,000 distinct runs (``--quick``:
150) with POLYVIZ_CACHE_MAX_MB=200; target <= 200. Each run is a fast configuration (40
steps on 40 points) of the largest model the /train page allows (width 64, depth 8: 40
checkpoints, ~4.8 MB a record), trained and stored exactly as the training job does
(``train_for_state``, ``TrainedRun.from_result``, ``run_store.store_run``), by two writer
processes at once. Without the cap they would write ~4.8 GB.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile
import time

from _util import metric

ROOT = pathlib.Path(__file__).resolve().parent.parent
CAP_MB = 200
WRITERS = 2

WRITER = """
import sys, time
from flask import Flask
from polyviz import state as st
from polyviz.pages import train as train_page
from polyviz.records import TrainedRun
from services import cache, run_store

first, count = int(sys.argv[1]), int(sys.argv[2])
server = Flask("bench")
cache.cache.init_app(server, config=cache.cache_config())
written = 0
with server.app_context():
    for seed in range(first, first + count):
        state, _ = st.from_query(train_page.TrainState, f"dataset=moons&n=40&width=64&depth=8&steps=40&seed={seed}")
        result, _data = train_page.train_for_state(state)
        key = run_store.run_key(state.training_fields())
        run = TrainedRun.from_result(result, key=key, query=st.to_query(state), fields=state.training_fields(),
                                     data=state.data_source)
        record = run.to_dict()
        written += len(record["safetensors"]) + len(record["checkpoints"]["flat"])
        run_store.store_run(run)
    last = run_store.load_run(key)
    print(written, int(last is not None and last.steps_done == 40))
"""


def disk_mb(directory: pathlib.Path) -> float:
    total = 0
    for path in directory.rglob("*"):
        try:
            total += path.lstat().st_blocks * 512
        except FileNotFoundError:
            pass
    return total / 2**20


def run(quick: bool = False):
    runs = 150 if quick else 1000
    with tempfile.TemporaryDirectory(prefix="polyviz-bench-storage-") as tmp:
        data = pathlib.Path(tmp) / "data"
        env = {**os.environ, "POLYVIZ_DATA_DIR": str(data), "POLYVIZ_CACHE_MAX_MB": str(CAP_MB),
               "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
        share = runs // WRITERS
        start = time.perf_counter()
        writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(w * share), str(share)], cwd=ROOT, env=env,
                                    stdout=subprocess.PIPE, text=True) for w in range(WRITERS)]
        peak = 0.0
        while any(w.poll() is None for w in writers):
            if data.exists():
                peak = max(peak, disk_mb(data))  # a walk while writers run: may overstate, never understate
            time.sleep(0.5)
        outputs = [w.communicate()[0].split() for w in writers]
        if any(w.returncode for w in writers):
            raise RuntimeError("a storage benchmark writer failed")
        elapsed = time.perf_counter() - start
        written = sum(int(out[0]) for out in outputs) / 2**20
        final = disk_mb(data)
        entries = len(list((data / "cache").glob("*.entry")))
        yield metric("abuse_disk_mb", final, "MB", target=CAP_MB, runs=WRITERS * share, cap_mb=CAP_MB)
        yield metric("abuse_disk_peak_sampled_mb", max(peak, final), "MB", target=CAP_MB)
        yield metric("abuse_disk_written_mb", written, "MB", note="what the runs would take without the cap")
        yield metric("abuse_disk_entries", entries, "count")
        yield metric("abuse_disk_last_run_readable", min(int(out[1]) for out in outputs), "bool", target=1)
        yield metric("abuse_disk_runs_per_s", WRITERS * share / elapsed, "runs/s")
