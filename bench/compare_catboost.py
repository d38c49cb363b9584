#!/usr/bin/env python3
"""Compare explaind's TreeSHAP on a CatBoost model with CatBoost's and shap's, in one run.

    cargo build --release -p explaind-bench
    python3 bench/compare_catboost.py [--rows 1000] [--slow-rows 200] [--repeats 5]
        [--rounds 1] [--bench target/release/bench_trees] [--before OTHER_BUILD]

Builds the CatBoost counterpart of bench/compare_trees.py's models from the same
synthetic data (20 features, 20,000 training rows, 2 % missing values): 500 symmetric
trees of depth 6, RMSE, written with save_model(format="json") to --work (never
committed), with the same 1,000 test rows and 100 background rows. It then times, at
one thread, rows per second of:
  - path-dependent SHAP: CatBoost's own `get_feature_importance(type="ShapValues",
    thread_count=1)` (what shap's TreeExplainer calls for a CatBoost model),
    shap.TreeExplainer(model).shap_values as users call it (CatBoost's threads), and
    explaind in process (target/release/bench_trees catboost);
  - interventional SHAP with the 100 background rows: shap.TreeExplainer(model,
    data=bg, feature_perturbation="interventional") and explaind.
Every contender runs --repeats times in each of --rounds interleaved rounds; the table gives the best and median rows per
second and the spread (slowest..fastest run), and explaind's ratio over each
contender from the medians, with the range from explaind's slowest over the
contender's fastest run to explaind's fastest over the contender's slowest. That
the values agree is the parity tests' business (tests/parity/catboost.rs).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Callable, cast

import catboost as cb
import numpy as np
import shap

F = 20
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "target", "release", "bench_trees")


def data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The synthetic regression data of bench/compare_trees.py."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, F))
    y = x[:, 0] * 2 + np.sin(3 * x[:, 1]) + x[:, 2] * x[:, 3] + np.abs(x[:, 4]) + 0.3 * rng.normal(size=n)
    x[rng.random(x.shape) < 0.02] = np.nan
    return x, y


def times_of(fn: Callable[[], object], repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return sorted(out)


def explaind(bench: str, model: str, rows: str, bg: str, method: str, repeats: int) -> list[float]:
    """explaind's best, median and slowest seconds (bench_trees keeps no other runs).

    Each call loads the model afresh, so its first run also builds what explaind builds
    on first use (the oblivious trees' TreeSHAP tables); that run's seconds go to stderr.
    """
    out = subprocess.run([bench, "catboost", model, rows, str(F), "1", method, bg, str(repeats)],
                         check=True, capture_output=True, text=True).stdout
    r = json.loads(out)
    if "first_s" in r:
        print(f"{bench} {method}: first run {r['first_s']:.4f} s, median {r['median_s']:.4f} s",
              file=sys.stderr)
    return [r["best_s"], r["median_s"], r["worst_s"]]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--slow-rows", type=int, default=200, help="rows for the contenders")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--work", default="/tmp/explaind-bench-catboost")
    ap.add_argument("--rounds", type=int, default=1,
                    help="rounds over all contenders, interleaved; each runs --repeats times a round")
    ap.add_argument("--bench", default=BENCH, help="the bench_trees binary")
    ap.add_argument("--before", default="",
                    help="another bench_trees binary (an earlier build), timed as 'explaind before'")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    xtr, ytr = data(20000, 1)
    x, _ = data(args.rows, 2)
    bg, _ = data(100, 3)
    slow = x[: args.slow_rows]
    paths = {name: os.path.join(args.work, f"{name}.f64") for name in ("rows", "bg", "slow")}
    for name, a in (("rows", x), ("bg", bg), ("slow", slow)):
        a.astype("<f8").tofile(paths[name])
    model_path = os.path.join(args.work, "cb_500x6.json")
    model = cb.CatBoostRegressor(iterations=500, depth=6, learning_rate=0.05, random_seed=0,
                                 verbose=0, allow_writing_files=False, thread_count=2)
    model.fit(xtr, ytr)
    model.save_model(model_path, format="json")

    pool = cb.Pool(slow)
    tree = shap.TreeExplainer(model)
    inter = shap.TreeExplainer(model, data=bg, feature_perturbation="interventional")
    contenders: list[tuple[str, str, int, Callable[[], list[float]]]] = [
        ("path-dependent", "CatBoost ShapValues (thread_count=1)", len(slow),
         lambda: times_of(lambda: model.get_feature_importance(
             pool, type="ShapValues", thread_count=1), args.repeats)),
        ("path-dependent", "shap TreeExplainer (calls CatBoost, its threads)", len(slow),
         lambda: times_of(lambda: tree.shap_values(slow), args.repeats)),
        ("interventional", "shap TreeExplainer", len(slow),
         lambda: times_of(lambda: inter.shap_values(slow, check_additivity=False),
                          args.repeats)),
    ]
    for method, label in (("path", "path-dependent"), ("interventional", "interventional")):
        for who, bench in (("explaind", args.bench), ("explaind before", args.before)):
            if bench:
                contenders.append((label, who, args.rows, cast(
                    Callable[[], list[float]], lambda m=method, b=bench: explaind(
                        b, model_path, paths["rows"], paths["bg"], m, args.repeats))))
    # Rounds interleave the contenders, so a slow spell of the machine hits them all.
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.rounds):
        for method, who, _, run in contenders:
            times.setdefault((method, who), []).extend(run())
    results = [(m, who, n, sorted(times[(m, who)])) for m, who, n, _ in contenders]

    print(f"catboost {cb.__version__}, shap {shap.__version__}, {os.cpu_count()} CPUs, "
          f"{args.rounds} x {args.repeats} runs each; one thread unless named", file=sys.stderr)
    ours = {m: (n, t) for m, who, n, t in results if who == "explaind"}
    print("| method | contender | rows | rows/s best | rows/s median | spread (slowest..fastest) "
          "| explaind ÷ contender (median; range) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for method, who, n, t in results:
        rate = [n / s for s in t]  # fastest first
        ratio = ""
        if who != "explaind":
            on, ot = ours[method]
            orate = [on / s for s in ot]
            ratio = (f"{orate[len(orate) // 2] / rate[len(rate) // 2]:.1f}× "
                     f"({orate[-1] / rate[0]:.1f}..{orate[0] / rate[-1]:.1f})")
        print(f"| {method} | {who} | {n} | {rate[0]:,.0f} | {rate[len(rate) // 2]:,.0f} "
              f"| {rate[-1]:,.0f}..{rate[0]:,.0f} | {ratio} |")


if __name__ == "__main__":
    main()
