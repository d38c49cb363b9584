#!/usr/bin/env python3
"""Interventional TreeSHAP of a scikit-learn forest: shap's TreeExplainer on the
scikit-learn model against explaind on the same forest exported by skl2onnx.

    cargo build --release -p explaind-bench --bin bench_trees
    /work/venv/bin/python bench/compare_onnx_trees.py [--rows 1000] [--slow-rows 100]

The forest is RandomForestRegressor(100 trees, max_depth 8) on the 20-feature data
of compare_trees.py (20000 training rows), with its NaNs set to 0 (skl2onnx does not
write a forest's learned NaN directions, so with NaNs the two would not be the same
model). Rows and the 100 background rows are drawn as there (seeds 2 and 3). shap
runs on --slow-rows rows (it is single-threaded), explaind (target/release/
bench_trees, in process, the ONNX file read as kind "onnx") on --rows rows at 1 and
2 threads. Each figure: best and median of --repeats runs, in rows per second.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
import shap
from skl2onnx import to_onnx
from sklearn.ensemble import RandomForestRegressor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_trees import BENCH, F, data  # noqa: E402


def timed(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--slow-rows", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
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
    shap_t = timed(lambda: explainer.shap_values(slow, check_additivity=False), args.repeats)
    shap_best = args.slow_rows / min(shap_t)
    shap_median = args.slow_rows / statistics.median(shap_t)
    out = {"shap": {"best": shap_best, "median": shap_median, "rows": args.slow_rows}}
    for threads in (1, 2):
        line = subprocess.run(
            [BENCH, "onnx", model_path, rows_path, str(F), str(threads), "interventional",
             bg_path, str(args.repeats)],
            check=True, capture_output=True, text=True).stdout
        got = json.loads(line)
        best = got["rows_per_s"]
        median = args.rows / got["median_s"] if "median_s" in got else best
        out[f"explaind x{threads}"] = {"best": best, "median": median, "rows": args.rows,
                                       "ratio_best": best / shap_best,
                                       "ratio_median": median / shap_median}
    out["shap_phi_row0_first3"] = np.asarray(phi)[0, :3].tolist()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
