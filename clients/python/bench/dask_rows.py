#!/usr/bin/env python3
"""Rows per second of explaind.dask.explain on a Dask LocalCluster of 1 and 2 worker
processes (one thread each), beside shap's TreeExplainer in a Dask map_partitions.

    cargo build --release --bin explaind
    pip install './clients/python[dask]' xgboost shap
    python3 clients/python/bench/dask_rows.py [--rows 20000] [--runs 3] [--no-shap] [--binary target/release/explaind]

Cases, on --rows rows (default 20,000; docs/batch.md says which were run):
  house-prices  the server's demo model (linear, 11 features), rows drawn with
                replacement from data/house_prices.csv, explaind's linear SHAP;
  xgb-500       a 500-tree XGBoost regression (depth 6) trained here on synthetic
                data with 20 features: explaind's path-dependent TreeSHAP, and shap's
                TreeExplainer (the same algorithm) in map_partitions: for a path-dependent
                XGBoost model shap calls XGBoost's own C++ TreeSHAP (predict with
                pred_contribs), which uses every core of the worker's machine.
explaind runs with local=True: each worker process starts its own explaind (the
binary's default threads: all cores) and registers the model once; that start and
the registration happen in a warm-up call, outside the timings. The frame is
persisted on the cluster first (8 partitions), so the timings are the explanation
and the answer's assembly, not the scatter. Runs are interleaved (for each run:
1 worker, then 2; in each, house, xgb explaind, xgb shap) and every figure is
reported as median (min-max) over --runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Dict, List

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[3]
F = 20


def house_rows(n: int) -> pd.DataFrame:
    house = pd.read_csv(ROOT / "data" / "house_prices.csv").drop(columns=["price"]).astype(float)
    return house.sample(n, replace=True, random_state=0).reset_index(drop=True)


def xgb_model(n: int) -> Any:
    import xgboost as xgb

    rng = np.random.default_rng(0)
    X = rng.normal(size=(5000, F))
    y = X[:, 0] * X[:, 1] + np.sin(X[:, 2]) + X[:, 3:8].sum(axis=1) + rng.normal(scale=0.1, size=5000)
    cols = [f"f{i}" for i in range(F)]
    model = xgb.XGBRegressor(n_estimators=500, max_depth=6, random_state=0, n_jobs=2)
    model.fit(pd.DataFrame(X, columns=cols), y)
    rows = pd.DataFrame(rng.normal(size=(n, F)), columns=cols)
    return model, rows


def shap_partition(part: pd.DataFrame, booster: Any) -> pd.DataFrame:
    import shap

    explainer = shap.TreeExplainer(booster)
    values = explainer.shap_values(part.to_numpy())
    out = pd.DataFrame(values, index=part.index, columns=list(part.columns))
    out["base_value"] = float(np.ravel(explainer.expected_value)[0])
    return out


def warm(target: Any, rows: pd.DataFrame) -> None:
    """On a worker: start its explaind and register the model (what explain's first
    partition on that worker would do), outside the timings."""
    from explaind.workers import explain_part

    explain_part(target, rows, 0, "auto", {})


def timed(run: Callable[[], Any]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def main() -> None:
    import dask.dataframe as dd
    from dask.distributed import Client as DaskClient, LocalCluster

    from explaind.client import registration
    from explaind.dask import explain
    from explaind.workers import Target, document_text, model_name, resolve_binary

    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--binary", default=str(ROOT / "target" / "release" / "explaind"))
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--no-shap", action="store_true", help="time explaind only (shap is the slow side)")
    args = ap.parse_args()

    house = house_rows(args.rows)
    model, synth = xgb_model(args.rows)
    booster = model.get_booster()
    binary = resolve_binary(args.binary)
    document = document_text(registration(model))
    house_target = Target(url=None, binary=binary, name="house-prices")
    xgb_target = Target(url=None, binary=binary, name=model_name(document), document=document)
    meta = pd.DataFrame({c: pd.Series([], dtype=float) for c in [*synth.columns, "base_value"]})
    times: Dict[str, List[float]] = {}

    for run in range(args.runs):
        for workers in args.workers:
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=":0") as lc, DaskClient(lc) as dc:
                hd = dd.from_pandas(house, npartitions=args.partitions).persist()
                sd = dd.from_pandas(synth, npartitions=args.partitions).persist()
                cases: Dict[str, Callable[[Any], Any]] = {
                    "house-prices explaind": lambda d: explain(d, "house-prices", local=True,
                                                               binary=binary),
                    "xgb-500 explaind": lambda d: explain(d, model, local=True, binary=binary),
                    "xgb-500 shap": lambda d: d.map_partitions(shap_partition, booster, meta=meta),
                }
                if args.no_shap:
                    del cases["xgb-500 shap"]
                frames = {"house-prices explaind": hd, "xgb-500 explaind": sd, "xgb-500 shap": sd}
                dc.run(warm, house_target, house.iloc[:8])
                dc.run(warm, xgb_target, synth.iloc[:8])
                if not args.no_shap:
                    dc.run(shap_partition, synth.iloc[:8], booster)
                for case, make in cases.items():
                    seconds = timed(lambda: make(frames[case]).compute())
                    times.setdefault(f"{case}|{workers}", []).append(seconds)
                    print(f"run {run + 1} workers {workers} {case}: {args.rows / seconds:,.0f} rows/s",
                          file=sys.stderr, flush=True)

    print(f"\n{args.rows:,} rows, {args.partitions} partitions, {args.runs} interleaved runs: "
          "rows/s, median (min-max)\n")
    print("| case | " + " | ".join(f"{w} worker{'s' if w > 1 else ''}" for w in args.workers) + " |")
    print("| --- |" + " ---: |" * len(args.workers))
    for case in ("house-prices explaind", "xgb-500 explaind", "xgb-500 shap"):
        if f"{case}|{args.workers[0]}" not in times:
            continue
        cells = []
        for w in args.workers:
            rates = [args.rows / s for s in times[f"{case}|{w}"]]
            cells.append(f"{statistics.median(rates):,.0f} ({min(rates):,.0f}-{max(rates):,.0f})")
        print(f"| {case} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
