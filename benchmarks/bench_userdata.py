"""Your own data on /train: the server's work for an upload of 20,000 rows (decode the
dcc.Upload value, parse and validate the CSV, hash it), as polyviz.userdata does it."""

from __future__ import annotations

import base64
import os
import time

import numpy as np

from _util import metric, median_ms


def upload_value(rows: int, seed: int = 0) -> str:
    """A dcc.Upload value of a CSV with a header, 3 feature columns and string labels."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((rows, 3))
    labels = np.where(rng.random(rows) < 0.5, "cat", "dog")
    text = "x1,x2,x3,label\n" + "".join(f"{a:.6f},{b:.6f},{c:.6f},{k}\n" for (a, b, c), k in zip(X, labels))
    return "data:text/csv;base64," + base64.b64encode(text.encode()).decode()


def run(quick: bool):
    from polyviz import userdata

    contents = upload_value(userdata.MAX_ROWS)

    def server_work():
        return userdata.parse_csv(userdata.decode_upload(contents)).content_hash

    repeats = 5 if quick else 20
    cpu_start = time.process_time()
    wall = median_ms(server_work, repeats, warmup=2)
    cpu = (time.process_time() - cpu_start) * 1000 / (repeats + 2)
    # the machine's load says how far wall time is from CPU time on a shared host
    yield metric("upload_parse_ms_20k_rows", wall, "ms", target=100, rows=userdata.MAX_ROWS,
                 bytes=len(contents) * 3 // 4, cpu_ms_mean=round(cpu, 1), load_1min=round(os.getloadavg()[0], 1))
