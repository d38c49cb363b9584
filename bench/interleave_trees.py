#!/usr/bin/env python3
"""explaind's TreeSHAP against shap's TreeExplainer at one thread, runs interleaved.

    cargo build --release -p explaind-bench --bin bench_trees
    python3 bench/interleave_trees.py [--runs 4] [--work /tmp/explaind-bench]

Needs the models and rows `bench/compare_trees.py` wrote to --work. On a shared,
loaded machine the figures of compare_trees.py come from different windows of load;
here each run times shap (100 rows) and then explaind (1000 rows, in process) on the
same model and method, alternately, and the best of --runs of each is compared, so
both sides saw the same conditions. Rows per second, one thread.
"""
import argparse
import os
import sys
import time

import lightgbm as lgb
import numpy as np
import shap
import xgboost as xgb

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_trees as ct  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--work", default="/tmp/explaind-bench")
    args = ap.parse_args()
    w = args.work
    x = np.fromfile(f"{w}/rows.f64").reshape(-1, ct.F)
    bg = np.fromfile(f"{w}/background.f64").reshape(-1, ct.F)
    slow = x[:100]
    models = (("lightgbm", lgb.Booster(model_file=f"{w}/lgb_500x63.txt"), f"{w}/lgb_500x63.txt"),
              ("xgboost", xgb.Booster(model_file=f"{w}/xgb_500x6.json"), f"{w}/xgb_500x6.json"))
    best: dict[tuple[str, str, str], float] = {}

    def keep(key: tuple[str, str, str], rps: float) -> None:
        best[key] = max(best.get(key, 0.0), rps)

    for kind, model, path in models:
        path_ex = ct.shap_internal(model)
        iv_ex = shap.TreeExplainer(model, data=bg, feature_perturbation="interventional")
        for _ in range(args.runs):
            for method, ex in (("path", path_ex), ("interventional", iv_ex)):
                t = time.perf_counter()
                ex.shap_values(slow, check_additivity=False)
                keep((kind, method, "shap"), len(slow) / (time.perf_counter() - t))
                keep((kind, method, "explaind"),
                     ct.explaind(kind, path, f"{w}/rows.f64", f"{w}/background.f64", 1, method, 1))
    print(f"best of {args.runs} interleaved runs, 1 thread, rows/s")
    print("| model | method | shap TreeExplainer | explaind (in process) | ratio |")
    print("|---|---|---:|---:|---:|")
    for kind, _, _ in models:
        for method in ("path", "interventional"):
            s, e = best[(kind, method, "shap")], best[(kind, method, "explaind")]
            print(f"| {kind} | {method} | {s:,.0f} | {e:,.0f} | {e / s:.1f}× |")


if __name__ == "__main__":
    main()
