#!/usr/bin/env python3
"""Batch prediction of tree ensembles: explaind against the libraries that trained them.

    pip install xgboost==3.2.0 lightgbm==4.7.0 numpy
    cargo build --release -p explaind-bench --bin bench_trees
    python3 bench/compare_predict.py [--rounds 5] [--repeats 3] [--work /tmp/explaind-predict]

Trains (or with --reuse loads from --work, never committed) the models of issue 19:
an XGBoost regressor of 500 trees of depth 6 and a LightGBM regressor of 500 trees of
63 leaves, both on 20 features with 2% NaN, and draws 10,000 test rows. Then, in one
run, for each model and each batch shape (all 10,000 rows in one call; the same rows
in calls of --block rows, the background-sized blocks the coalition games send) it
times rows per second of:
  - xgboost `Booster.predict` on a fresh `DMatrix` each call (nthread 1 and all), and
    `inplace_predict` (no DMatrix) for reference;
  - lightgbm `Booster.predict` (num_threads 1 and all);
  - explaind's `Model::predict` in process (target/release/bench_trees, threads 1 and
    all), and the node-by-node walk it replaced (`predict_nodes`) for before/after.
The contenders are interleaved: --rounds rounds, each running every contender once
(order shuffled per round), each run the best of --repeats calls. A round's ratios
(explaind over a library at the same threads) compare runs made minutes apart at
most under the same load; the table gives the median ratio and its range over the
rounds, and each contender's best and median rows per second. All threads is
os.cpu_count(). Checks that explaind's predictions sum as the library's do.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import time
from typing import Any, Callable, cast

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import xgboost as xgb

F = 20
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "target", "release", "bench_trees")

Array = npt.NDArray[np.float64]
# An xgb.Booster or an lgb.Booster, as the model's kind says.
Booster = Any
# (model, shape, name, threads, fn() -> seconds)
Contender = tuple[str, str, str, int, Callable[[], float]]
# (model, shape, name, threads) -> [best seconds per round]
Seconds = dict[tuple[str, str, str, int], list[float]]


def data(n: int, seed: int) -> tuple[Array, Array]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, F))
    y = x[:, 0] * 2 + np.sin(3 * x[:, 1]) + x[:, 2] * x[:, 3] + np.abs(x[:, 4]) + 0.3 * rng.normal(size=n)
    x[rng.random(x.shape) < 0.02] = np.nan
    return x, y


def models(work: str, reuse: bool) -> tuple[tuple[str, Booster, str], ...]:
    xtr, ytr = data(20_000, 0)
    xgb_path = os.path.join(work, "xgb_500x6.json")
    if reuse and os.path.exists(xgb_path):
        bst = xgb.Booster(model_file=xgb_path)
    else:
        bst = xgb.train({"max_depth": 6, "eta": 0.05, "nthread": os.cpu_count(), "seed": 0},
                        xgb.DMatrix(xtr, label=ytr), num_boost_round=500)
        bst.save_model(xgb_path)
    lgb_path = os.path.join(work, "lgb_500x63.txt")
    if reuse and os.path.exists(lgb_path):
        gbm = lgb.Booster(model_file=lgb_path)
    else:
        gbm = lgb.train({"objective": "regression", "num_leaves": 63, "learning_rate": 0.05,
                         "verbose": -1, "num_threads": os.cpu_count(), "min_data_in_leaf": 5,
                         "seed": 0},
                        lgb.Dataset(xtr, label=ytr), num_boost_round=500)
        gbm.save_model(lgb_path)
    return (("xgboost", bst, xgb_path), ("lightgbm", gbm, lgb_path))


def blocks(x: Array, block: int) -> list[Array]:
    return [x[i:i + block] for i in range(0, len(x), block)]


def best_of(fn: Callable[[], object], repeats: int) -> float:
    times: list[float] = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def library_runs(kind: str, booster: Booster, parts: list[Array],
                 threads: int) -> list[tuple[str, Callable[[], None]]]:
    """(name, function predicting every part) for the library's own predict."""
    if kind == "xgboost":
        booster.set_param({"nthread": threads})

        def fresh() -> None:
            for p in parts:
                booster.predict(xgb.DMatrix(p, nthread=threads))

        def inplace() -> None:
            for p in parts:
                booster.inplace_predict(p)
        return [("xgboost Booster.predict (fresh DMatrix)", fresh),
                ("xgboost inplace_predict", inplace)]

    def predict() -> None:
        for p in parts:
            booster.predict(p, num_threads=threads)
    return [("lightgbm Booster.predict", predict)]


def explaind(kind: str, model_path: str, rows_path: str, threads: int, method: str, block: int,
             repeats: int) -> tuple[float, float]:
    env = dict(os.environ, BLOCK_ROWS=str(block))
    out = subprocess.run([BENCH, kind, model_path, rows_path, str(F), str(threads), method, "-",
                          str(repeats)], check=True, capture_output=True, text=True, env=env).stdout
    line = json.loads(out)
    return line["best_s"], line["checksum"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--block", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--work", default="/tmp/explaind-predict")
    ap.add_argument("--reuse", action="store_true")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    all_threads = cast(int, os.cpu_count())
    x, _ = data(args.rows, 1)
    rows_path = os.path.join(args.work, "rows.f64")
    x.astype("<f8").tofile(rows_path)
    contenders: list[Contender] = []  # (model, shape, name, threads, fn() -> seconds)
    for kind, booster, path in models(args.work, args.reuse):
        want = float(np.sum(booster.predict(xgb.DMatrix(x)) if kind == "xgboost"
                            else booster.predict(x)))
        _, got = explaind(kind, path, rows_path, 1, "predict", args.rows, 1)
        print(f"{kind}: explaind's predictions sum to {got:.6f}, the library's to {want:.6f}")
        assert abs(got - want) <= 1e-4 * max(1.0, abs(want)), (kind, got, want)
        for shape, block in (("10k rows, one call", args.rows),
                             (f"{args.block}-row blocks", args.block)):
            parts = blocks(x, block)
            for threads in sorted({1, all_threads}):
                for name, fn in library_runs(kind, booster, parts, threads):
                    contenders.append((kind, shape, name, threads, cast(
                        Callable[[], float], lambda fn=fn, b=booster, k=kind, t=threads:
                        setup_and_time(k, b, t, fn, args.repeats))))
                for method, name in (("predict", "explaind predict"),
                                     ("predict_nodes", "explaind node walk (before)")):
                    contenders.append((kind, shape, name, threads, cast(
                        Callable[[], float], lambda k=kind, p=path, t=threads, m=method, b=block:
                        explaind(k, p, rows_path, t, m, b, args.repeats)[0])))
    rng = random.Random(19)
    seconds: Seconds = {}  # (model, shape, name, threads) -> [best seconds per round]
    for r in range(args.rounds):
        order = list(range(len(contenders)))
        rng.shuffle(order)
        for i in order:
            kind, shape, name, threads, run = contenders[i]
            seconds.setdefault((kind, shape, name, threads), []).append(run())
        print(f"round {r + 1}/{args.rounds} done", flush=True)
    report(seconds, args.rows, all_threads)


def setup_and_time(kind: str, booster: Booster, threads: int, fn: Callable[[], object],
                   repeats: int) -> float:
    if kind == "xgboost":
        booster.set_param({"nthread": threads})
    return best_of(fn, repeats)


def report(seconds: Seconds, n_rows: int, all_threads: int) -> None:
    print("\n| model | batch | contender | threads | best rows/s | median rows/s |")
    print("|---|---|---|---:|---:|---:|")
    for (kind, shape, name, threads), s in sorted(seconds.items()):
        print(f"| {kind} | {shape} | {name} | {threads} | {n_rows / min(s):,.0f} "
              f"| {n_rows / statistics.median(s):,.0f} |")
    print("\nexplaind predict over the library, per round at the same threads: median (min–max)")
    print("| model | batch | over | threads | ratio |")
    print("|---|---|---|---:|---:|")
    for (kind, shape, name, threads), s in sorted(seconds.items()):
        if name.startswith("explaind"):
            continue
        ours = seconds[(kind, shape, "explaind predict", threads)]
        ratios = [theirs / mine for theirs, mine in zip(s, ours)]
        print(f"| {kind} | {shape} | {name} | {threads} | {statistics.median(ratios):.2f}x "
              f"({min(ratios):.2f}–{max(ratios):.2f}) |")
    print("\nexplaind predict over the node walk it replaced: median (min–max)")
    print("| model | batch | threads | ratio |")
    print("|---|---|---:|---:|")
    for (kind, shape, name, threads), s in sorted(seconds.items()):
        if name == "explaind node walk (before)":
            ours = seconds[(kind, shape, "explaind predict", threads)]
            ratios = [old / new for old, new in zip(s, ours)]
            print(f"| {kind} | {shape} | {threads} | {statistics.median(ratios):.2f}x "
                  f"({min(ratios):.2f}–{max(ratios):.2f}) |")
    print(f"\n(all threads = {all_threads})")


if __name__ == "__main__":
    main()
