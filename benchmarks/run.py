"""Run every benchmark and print one JSON object per line: {"metric", "value", "unit"}.

Each ``benchmarks/bench_*.py`` module defines ``run(quick: bool)`` that yields dicts with
those keys (extra keys such as "target" are allowed). ``--quick`` keeps the whole run
within about a minute; ``--only NAME`` runs the modules whose name contains NAME.
Modules that set ``NEEDS_BROWSER = True`` (bench_browser: headless Chromium, a few minutes)
run only with ``--browser``, and never with ``--quick``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pathlib
import sys
import traceback

HERE = pathlib.Path(__file__).resolve().parent
# The one place that says where benchmark modules find things: the app (app.py, layouts/,
# callbacks/) lives in the checkout, and the benchmarks drive it with the tests' HTTP helpers
# (dash_http, fuzz, scenarios, servers). benchmarks/ itself is on sys.path as the script's folder.
sys.path[1:1] = [str(HERE.parent), str(HERE.parent / "tests")]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="shorter runs (about a minute in all)")
    parser.add_argument("--only", default="", help="run only modules whose name contains this")
    parser.add_argument("--browser", action="store_true",
                        help="also run the browser benchmarks (headless Chromium; skipped with --quick)")
    args = parser.parse_args(argv)
    failures = 0
    for path in sorted(HERE.glob("bench_*.py")):
        if args.only and args.only not in path.stem:
            continue
        module = importlib.import_module(path.stem)
        if getattr(module, "NEEDS_BROWSER", False) and (args.quick or not args.browser):
            reason = "--quick" if args.quick else "no --browser"
            print(f"skipping {path.stem} ({reason})", file=sys.stderr)
            continue
        try:
            for record in module.run(quick=args.quick):
                print(json.dumps(record), flush=True)
        except Exception:  # one broken benchmark must not hide the others' figures
            failures += 1
            traceback.print_exc()
            print(json.dumps({"metric": f"{path.stem}_error", "value": 1, "unit": "count"}), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
