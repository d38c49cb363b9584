#!/usr/bin/env python3
"""Compare explaind's TreeSHAP with shap and the libraries' own SHAP, in one run.

    cargo build --release --workspace
    python3 bench/compare_trees.py [--rows 1000] [--work /tmp/explaind-bench] [--reuse]

Builds the two benchmark models (XGBoost: 500 trees of depth 6 on 20 features;
LightGBM: 500 trees of 63 leaves on 20 features), writes them and the same 1000 test
rows and 100 background rows to --work (never committed), and times, at 1 and 2
threads, rows per second of:
  - path-dependent SHAP: xgboost `pred_contribs` / lightgbm `pred_contrib`, shap's own
    C++ TreeSHAP (TreeExplainer delegates path-dependent XGBoost/LightGBM to the
    library, so its internal algorithm is forced by marking the model "internal"),
    and explaind (target/release/bench_trees, in process);
  - interventional SHAP with 100 background rows: shap TreeExplainer and explaind;
  - interaction values: xgboost `pred_interactions` and explaind;
  - explaind through HTTP (`target/release/explaind` on a loopback port, a scratch
    model directory, the same files registered with PUT, RAYON_NUM_THREADS set to the
    thread count): the 1000 rows in one POST /explain (path-dependent and
    interventional), and the latency of --latency-requests sequential one-row
    requests over one keep-alive connection (median and p99, client time included).
Each figure is the best of --repeats runs; shap's own code is single-threaded, so
its 2-thread figure is its 1-thread one re-measured. Slow baselines run on a subset
of rows (shown) and are reported as rows per second.
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Iterable, Optional, Union, cast

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import shap
import xgboost as xgb

F = 20
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "target", "release", "bench_trees")
SERVER = os.path.join(ROOT, "target", "release", "explaind")

Array = npt.NDArray[np.float64]
# (model, method, contender, threads, rows, seconds or rows/s)
Figure = tuple[str, str, str, int, int, float]


def best_of(fn: Callable[[], object], repeats: int) -> float:
    times: list[float] = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def data(n: int, seed: int) -> tuple[Array, Array]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, F))
    y = x[:, 0] * 2 + np.sin(3 * x[:, 1]) + x[:, 2] * x[:, 3] + np.abs(x[:, 4]) + 0.3 * rng.normal(size=n)
    x[rng.random(x.shape) < 0.02] = np.nan
    return x, y


def explaind(kind: str, model_path: str, rows_path: str, bg_path: str, threads: int,
             method: str, repeats: int) -> float:
    out = subprocess.run(
        [BENCH, kind, model_path, rows_path, str(F), str(threads), method, bg_path, str(repeats)],
        check=True, capture_output=True, text=True).stdout
    return cast(float, json.loads(out)["rows_per_s"])


class Server:
    """target/release/explaind on a free loopback port with a scratch model directory."""

    def __init__(self, threads: int, max_body: int) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port: int = s.getsockname()[1]
        self.dir = tempfile.mkdtemp(prefix="explaind-bench-models-")
        env = dict(os.environ, RAYON_NUM_THREADS=str(threads), RUST_LOG="warn")
        self.proc = subprocess.Popen(
            [SERVER, "--addr", f"127.0.0.1:{self.port}", "--model-dir", self.dir, "--no-demo",
             "--reload-interval-secs", "0", "--max-body-bytes", str(max_body),
             "--explain-concurrency", str(threads)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("explaind did not start")

    def connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)

    def request(self, method: str, path: str, body: Optional[bytes] = None,
                conn: Optional[http.client.HTTPConnection] = None) -> tuple[int, bytes]:
        own = conn is None
        conn = conn or self.connect()
        headers = {"content-type": "application/json"} if body is not None else {}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        if own:
            conn.close()
        return resp.status, data

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


def rows_json(a: Array) -> list[list[Optional[float]]]:
    """Rows as JSON lists, NaN as null (a missing value)."""
    return [[None if np.isnan(v) else float(v) for v in row] for row in a]


def http_bench(args: argparse.Namespace, threads: int, models: Iterable[tuple[str, str, str]],
               x: Array, bg: Array) -> list[Figure]:
    """Batched rows/s and one-row latencies through HTTP, per model and method."""
    instances = rows_json(x)
    batch = {m: json.dumps({"instances": instances, "method": m}).encode()
             for m in ("tree_path_dependent", "tree_interventional")}
    max_body = 2 * max(len(b) for b in batch.values()) + (1 << 20)
    server = Server(threads, max_body)
    out: list[Figure] = []
    try:
        for name, kind, path in models:
            with open(path) as f:
                text = f.read()
            model = json.loads(text) if kind == "xgboost" else text
            body = json.dumps({"kind": kind, "model": model,
                               "feature_names": [f"f{j}" for j in range(F)],
                               "background": rows_json(bg)}).encode()
            status, data = server.request("PUT", f"/models/{name}", body)
            if status not in (200, 201):
                raise RuntimeError(f"PUT {name}: {status} {data[:300]!r}")
            conn = server.connect()
            url = f"/models/{name}/explain"
            for method, label in (("tree_path_dependent", "path-dependent"),
                                  ("tree_interventional", "interventional")):
                def post() -> bytes:
                    status, data = server.request("POST", url, batch[method], conn)
                    if status != 200:
                        raise RuntimeError(f"explain {name}: {status} {data[:300]!r}")
                    return data
                first = json.loads(post())
                assert len(first["explanations"]) == len(instances)
                t = best_of(post, args.repeats)
                out.append((name, label, "explaind HTTP (one request)", threads, len(instances), t))
                # One-row requests, sequential, over the same keep-alive connection.
                singles = [json.dumps({"instances": [instances[i % len(instances)]],
                                       "method": method}).encode()
                           for i in range(args.latency_requests)]
                for b in singles[:20]:
                    server.request("POST", url, b, conn)
                lat: list[float] = []
                for b in singles:
                    t0 = time.perf_counter()
                    status, _ = server.request("POST", url, b, conn)
                    lat.append(time.perf_counter() - t0)
                    assert status == 200
                lat.sort()
                LATENCY.append((name, label, threads, len(lat), lat[len(lat) // 2],
                                lat[min(len(lat) - 1, int(0.99 * len(lat)))]))
            conn.close()
    finally:
        server.close()
    return out


# (model, method, threads, requests, median s, p99 s)
LATENCY: list[tuple[str, str, int, int, float, float]] = []


def shap_internal(model: Union[xgb.Booster, lgb.Booster]) -> Any:
    """A path-dependent TreeExplainer that runs shap's own C++ TreeSHAP."""
    ex = shap.TreeExplainer(model)
    ex.model.model_type = "internal"
    return ex


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--slow-rows", type=int, default=100, help="rows for slow baselines")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--work", default="/tmp/explaind-bench")
    ap.add_argument("--reuse", action="store_true", help="load the models already in --work")
    ap.add_argument("--latency-requests", type=int, default=1000,
                    help="sequential one-row HTTP requests for the latency figures")
    ap.add_argument("--skip-http", action="store_true", help="skip the HTTP figures")
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

    results: list[Figure] = []  # (model, method, contender, threads, rows, rows/s)

    def record(model: str, method: str, who: str, threads: int, n: int, seconds: float) -> None:
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

    if not args.skip_http:
        for threads in (1, 2):
            for m, meth, who, th, n, t in http_bench(
                    args, threads, (("xgboost", "xgboost", xgb_path),
                                    ("lightgbm", "lightgbm", lgb_path)), x, bg):
                record(m, meth, who, th, n, t)

    print(f"shap {shap.__version__}, xgboost {xgb.__version__}, lightgbm {lgb.__version__}, "
          f"{os.cpu_count()} CPUs")
    print("| model | method | contender | threads | rows | rows/s | explaind ÷ contender "
          "| explaind HTTP ÷ contender |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    ours = {(m, meth, th): r for m, meth, who, th, _, r in results if who == "explaind"}
    web = {(m, meth, th): r for m, meth, who, th, _, r in results if who.startswith("explaind HTTP")}
    for m, meth, who, th, n, r in sorted(results, key=lambda t: (t[0], t[1], t[3], t[2])):
        key = (m, meth, th)
        mine = who.startswith("explaind")
        ratio = "" if mine or key not in ours else f"{ours[key] / r:.1f}×"
        ratio_web = "" if mine or key not in web else f"{web[key] / r:.1f}×"
        print(f"| {m} | {meth} | {who} | {th} | {n} | {r:,.0f} | {ratio} | {ratio_web} |")
    if LATENCY:
        print()
        print("| model | method | threads | one-row requests | median ms | p99 ms |")
        print("|---|---|---:|---:|---:|---:|")
        for m, meth, th, n, med, p99 in sorted(LATENCY):
            print(f"| {m} | {meth} | {th} | {n} | {med * 1e3:.3f} | {p99 * 1e3:.3f} |")


if __name__ == "__main__":
    main()
