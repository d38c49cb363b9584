#!/usr/bin/env python3
"""Compare explaind's TreeSHAP with shap and the libraries' own SHAP, in one run.

    cargo build --release --bin bench_trees
    python3 bench/compare_trees.py [--rows 1000] [--work /tmp/explaind-bench]

Builds the two benchmark models (XGBoost: 500 trees of depth 6 on 20 features;
LightGBM: 500 trees of 63 leaves on 20 features), writes them and the same 1000 test
rows and 100 background rows to --work (never committed), and times, at 1 and 2
threads, rows per second of:
  - path-dependent SHAP: xgboost `pred_contribs` / lightgbm `pred_contrib`, shap's own
    C++ TreeSHAP (TreeExplainer delegates path-dependent XGBoost/LightGBM to the
    library, so its internal algorithm is forced by marking the model "internal"),
    and explaind (target/release/bench_trees, in process);
  - interventional SHAP with 100 background rows: shap TreeExplainer and explaind;
  - interaction values: xgboost `pred_interactions` and explaind.
Each figure is the best of --repeats runs; shap's own code is single-threaded, so
its 2-thread figure is its 1-thread one re-measured. Slow baselines run on a subset
of rows (shown) and are reported as rows per second.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import lightgbm as lgb
import numpy as np
import shap
import xgboost as xgb

F = 20
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "target", "release", "bench_trees")


def best_of(fn, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, F))
    y = x[:, 0] * 2 + np.sin(3 * x[:, 1]) + x[:, 2] * x[:, 3] + np.abs(x[:, 4]) + 0.3 * rng.normal(size=n)
    x[rng.random(x.shape) < 0.02] = np.nan
    return x, y


def explaind(kind, model_path, rows_path, bg_path, threads, method, repeats):
    out = subprocess.run(
        [BENCH, kind, model_path, rows_path, str(F), str(threads), method, bg_path, str(repeats)],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out)["rows_per_s"]


def shap_internal(model):
    """A path-dependent TreeExplainer that runs shap's own C++ TreeSHAP."""
    ex = shap.TreeExplainer(model)
    ex.model.model_type = "internal"
    return ex


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--slow-rows", type=int, default=100, help="rows for slow baselines")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--work", default="/tmp/explaind-bench")
    ap.add_argument("--reuse", action="store_true", help="load the models already in --work")
    ap.add_argument("--skip-slow", action="store_true",
                    help="skip the interaction baselines (xgboost pred_interactions is ~2 rows/s)")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    xtr, ytr = data(20000, 1)
    x, _ = data(args.rows, 2)
    bg, _ = data(100, 3)
    rows_path = os.path.join(args.work, "rows.f64")
    bg_path = os.path.join(args.work, "background.f64")
    x.astype("<f8").tofile(rows_path)
    slow_path = os.path.join(args.work, "rows_slow.f64")
    x[: args.slow_rows].astype("<f8").tofile(slow_path)
    bg.astype("<f8").tofile(bg_path)
    slow = x[: args.slow_rows]

    xgb_path = os.path.join(args.work, "xgb_500x6.json")
    if args.reuse and os.path.exists(xgb_path):
        bst = xgb.Booster(model_file=xgb_path)
    else:
        bst = xgb.train({"max_depth": 6, "eta": 0.05, "nthread": 2, "seed": 0},
                        xgb.DMatrix(xtr, label=ytr), num_boost_round=500)
        bst.save_model(xgb_path)
    lgb_path = os.path.join(args.work, "lgb_500x63.txt")
    if args.reuse and os.path.exists(lgb_path):
        gbm = lgb.Booster(model_file=lgb_path)
    else:
        gbm = lgb.train({"objective": "regression", "num_leaves": 63, "learning_rate": 0.05,
                         "verbose": -1, "num_threads": 2, "min_data_in_leaf": 5, "seed": 0},
                        lgb.Dataset(xtr, label=ytr), num_boost_round=500)
        gbm.save_model(lgb_path)

    results = []  # (model, method, contender, threads, rows, rows/s)

    def record(model, method, who, threads, n, seconds):
        results.append((model, method, who, threads, n, n / seconds))
        print(f"  {model} {method} {who} x{threads}: {n / seconds:,.0f} rows/s", file=sys.stderr)

    dx, dslow = xgb.DMatrix(x), xgb.DMatrix(slow)
    for threads in (1, 2):
        bst.set_param({"nthread": threads})
        record("xgboost", "path-dependent", "xgboost pred_contribs", threads, args.rows,
               best_of(lambda: bst.predict(dx, pred_contribs=True), args.repeats))
        if not args.skip_slow:
            record("xgboost", "interactions", "xgboost pred_interactions", threads,
                   args.slow_rows,
                   best_of(lambda: bst.predict(dslow, pred_interactions=True), args.repeats))
        record("lightgbm", "path-dependent", "lightgbm pred_contrib", threads, args.rows,
               best_of(lambda: gbm.predict(x, pred_contrib=True, num_threads=threads), args.repeats))
    for name, model in (("xgboost", bst), ("lightgbm", gbm)):
        ex = shap_internal(model)
        t = best_of(lambda: ex.shap_values(slow, check_additivity=False), args.repeats)
        iv = shap.TreeExplainer(model, data=bg, feature_perturbation="interventional")
        ti = best_of(lambda: iv.shap_values(slow, check_additivity=False), 1)
        for threads in (1, 2):
            record(name, "path-dependent", "shap TreeExplainer (own C++)", threads, args.slow_rows, t)
            record(name, "interventional", "shap TreeExplainer", threads, args.slow_rows, ti)
    for threads in (1, 2):
        for name, kind, path in (("xgboost", "xgboost", xgb_path), ("lightgbm", "lightgbm", lgb_path)):
            for method, label, rows, n in (
                    ("path", "path-dependent", rows_path, args.rows),
                    ("interventional", "interventional", rows_path, args.rows),
                    ("interactions", "interactions", slow_path, args.slow_rows)):
                rps = explaind(kind, path, rows, bg_path, threads, method, args.repeats)
                record(name, label, "explaind", threads, n, n / rps)

    print(f"shap {shap.__version__}, xgboost {xgb.__version__}, lightgbm {lgb.__version__}, "
          f"{os.cpu_count()} CPUs")
    print("| model | method | contender | threads | rows | rows/s | explaind ÷ contender |")
    print("|---|---|---|---:|---:|---:|---:|")
    ours = {(m, meth, th): r for m, meth, who, th, _, r in results if who == "explaind"}
    for m, meth, who, th, n, r in sorted(results, key=lambda t: (t[0], t[1], t[3], t[2])):
        ratio = "" if who == "explaind" or (m, meth, th) not in ours else f"{ours[(m, meth, th)] / r:.1f}×"
        print(f"| {m} | {meth} | {who} | {th} | {n} | {r:,.0f} | {ratio} |")


if __name__ == "__main__":
    main()
