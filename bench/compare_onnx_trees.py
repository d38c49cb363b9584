#!/usr/bin/env python3
"""Interventional TreeSHAP of a scikit-learn forest: shap's TreeExplainer on the
scikit-learn model against explaind on the same forest exported by skl2onnx.

    cargo build --release -p explaind-bench --bin bench_trees
    /work/venv/bin/python bench/compare_onnx_trees.py [--rows 1000] [--slow-rows 100] \
        [--runs 5] [--baseline /path/to/an/older/bench_trees]

The forest is RandomForestRegressor(100 trees, max_depth 8) on the 20-feature data
of compare_trees.py (20000 training rows), with its NaNs set to 0 (skl2onnx does not
write a forest's learned NaN directions, so with NaNs the two would not be the same
model). Rows and the 100 background rows are drawn as there (seeds 2 and 3). shap
runs on --slow-rows rows (it is single-threaded), explaind (target/release/
bench_trees, in process, the ONNX file read as kind "onnx", the background's
preparation timed with the rows) on --rows rows at 1 and 2 threads, and --baseline,
another bench_trees binary, at 1 thread. The machine is shared, so the contenders
run interleaved: each of --runs rounds times each once, in turn. Figures are rows
per second, median and spread (slowest..fastest) over the rounds; a ratio to shap
is the median of the rounds' ratios, with their range.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Callable, cast

import numpy as np
import shap
from skl2onnx import to_onnx
from sklearn.ensemble import RandomForestRegressor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_trees import BENCH, F, data  # noqa: E402


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "slowest": min(values),
            "fastest": max(values)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--slow-rows", type=int, default=100)
    ap.add_argument("--runs", type=int, default=5, help="interleaved rounds")
    ap.add_argument("--baseline", help="an older bench_trees binary, timed at 1 thread")
    ap.add_argument("--work", default="/tmp/explaind-bench")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    xtr, ytr = data(20000, 1)
    x, _ = data(args.rows, 2)
    bg, _ = data(100, 3)
    xtr, x, bg = (np.nan_to_num(a, nan=0.0) for a in (xtr, x, bg))
    rf = RandomForestRegressor(n_estimators=100, max_depth=8, random_state=0, n_jobs=2)
    rf.fit(xtr, ytr)
    model_path = os.path.join(args.work, "rf_100x8.onnx")
    with open(model_path, "wb") as f:
        f.write(to_onnx(rf, x[:1].astype(np.float32)).SerializeToString())
    rows_path = os.path.join(args.work, "rf_rows.f64")
    bg_path = os.path.join(args.work, "rf_background.f64")
    x.astype("<f8").tofile(rows_path)
    bg.astype("<f8").tofile(bg_path)
    slow = x[: args.slow_rows]

    explainer = shap.TreeExplainer(rf, data=bg, feature_perturbation="interventional")
    phi = explainer.shap_values(slow[:5], check_additivity=False)

    def shap_rate() -> float:
        t = time.perf_counter()
        explainer.shap_values(slow, check_additivity=False)
        return len(slow) / (time.perf_counter() - t)

    def bench_rate(binary: str, threads: int) -> float:
        line = subprocess.run(
            [binary, "onnx", model_path, rows_path, str(F), str(threads), "interventional",
             bg_path, "1"], check=True, capture_output=True, text=True).stdout
        return cast(float, json.loads(line)["rows_per_s"])

    contenders: dict[str, Callable[[], float]] = {"shap": shap_rate,
                                                  "explaind x1": lambda: bench_rate(BENCH, 1),
                                                  "explaind x2": lambda: bench_rate(BENCH, 2)}
    if args.baseline:
        contenders["baseline x1"] = lambda: bench_rate(args.baseline, 1)
    rates: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(args.runs):
        for name, rate in contenders.items():
            rates[name].append(rate())
    out: dict[str, object] = {"runs": args.runs, "load_average": os.getloadavg()}
    for name, got in rates.items():
        entry: dict[str, object] = dict(spread(got))
        if name != "shap":
            entry["ratio_to_shap"] = spread([a / b for a, b in zip(got, rates["shap"])])
        out[name] = entry
    out["shap_phi_row0_first3"] = np.asarray(phi)[0, :3].tolist()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
