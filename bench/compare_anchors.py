"""Time explaind's anchors against alibi's AnchorTabular on the same models and rows.

Models, both classifiers of "price above the median" on the embedded house-price
data (546 Windsor houses, 11 features, data/house_prices.csv):
- xgboost: 100 trees of depth 4 (xgboost, seed 0), written as JSON and registered
  with explaind as kind `xgboost`; alibi calls the booster's class prediction.
- logistic: scikit-learn LogisticRegression on standardised features; explaind
  gets the coefficients folded back to raw units as kind `logistic`.
Both sides use the 546 rows as background (alibi: `fit(train, disc_perc=(25, 50,
75))`), precision 0.95, delta 0.1, epsilon (alibi's tau) 0.15, batches of 100,
beam size 2. explaind's budget is `n_samples` (default 100000 model evaluations per
row); alibi has none.

explaind runs as the release binary (`target/release/explaind`) on a loopback port
and is timed per request (one row per request: HTTP and JSON included); alibi runs
in this process. Runs are interleaved: run r explains every row with explaind then
alibi (r even) or alibi then explaind (r odd), with seed r on both sides; one
untimed warm-up row first. A row's time is its median over the runs; the table
gives per model the median row time of each side, and the ratio alibi / explaind
per row (median, and the min–max over rows).

If alibi cannot be imported, a straightforward Python implementation of the same
algorithm (this file's `py_anchor`: the same bins, conditioned sampling, KL-LUCB
and beam search as src/core/explain/anchors.rs) stands in for it, and the table
says so.

Build first:  cargo build --release
Run:          python3 bench/compare_anchors.py [--rows 20] [--runs 5] [--out docs/benchmarks-anchors.md]
"""

# py_explainer's `c` is first a candidate condition, then a candidate's index.
# mypy: allow-redefinition

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Callable, TypedDict

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PRECISION, DELTA, EPSILON, BATCH, BEAM, BUDGET = 0.95, 0.1, 0.15, 100, 2, 100_000

# Rows to predicted classes.
Predict = Callable[[np.ndarray], np.ndarray]


class Anchor(TypedDict):
    """One row's anchor as either side reports it: conditions, precision, coverage."""

    rule: int
    precision: float
    coverage: float
    met: bool


# (row, seed) to that row's anchor.
Explain = Callable[[np.ndarray, int], Anchor]
# (model, median seconds per row by side, ratio other/explaind per row, anchors by side)
ModelResult = tuple[str, dict[str, list[float]], list[float], dict[str, list[Anchor]]]
# (feature, lower bound (exclusive), upper bound (inclusive))
Condition = tuple[int, float, float]
# Indices into the candidate conditions.
Rule = tuple[int, ...]
# [samples drawn, samples with the row's class, rows meeting the rule, features it conditions]
Arm = list[Any]


def load_data() -> tuple[list[str], np.ndarray, np.ndarray]:
    lines = (ROOT / "data" / "house_prices.csv").read_text().strip().splitlines()
    header = lines[0].split(",")
    table = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    price = table[:, 0]
    return header[1:], table[:, 1:], (price > np.median(price)).astype(int)


def make_xgboost(x: np.ndarray, y: np.ndarray,
                 names: list[str]) -> tuple[Predict, dict[str, Any]]:
    import xgboost as xgb

    model = xgb.XGBClassifier(n_estimators=100, max_depth=4, learning_rate=0.1, random_state=0)
    model.fit(x, y)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "model.json")
        model.get_booster().save_model(path)
        document = json.load(open(path))
    spec = {"kind": "xgboost", "feature_names": names, "model": document,
            "output_names": ["expensive"], "background": x.tolist()}
    return model.predict, spec


def make_logistic(x: np.ndarray, y: np.ndarray,
                  names: list[str]) -> tuple[Predict, dict[str, Any]]:
    from sklearn.linear_model import LogisticRegression

    mean, std = x.mean(axis=0), x.std(axis=0)
    clf = LogisticRegression(max_iter=5000).fit((x - mean) / std, y)
    coef = clf.coef_[0] / std
    intercept = float(clf.intercept_[0] - (clf.coef_[0] * mean / std).sum())
    spec = {"kind": "logistic", "feature_names": names,
            "params": {"coefficients": coef.tolist(), "intercept": intercept,
                       "classes": ["cheap", "expensive"]},
            "background": x.tolist()}
    return (lambda rows: (np.atleast_2d(rows) @ coef + intercept > 0).astype(int)), spec


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def call(port: int, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers={"content-type": "application/json"})
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read() or b"null")


def explaind_anchor(port: int, name: str, row: np.ndarray, seed: int) -> Anchor:
    body = {"instances": [row.tolist()], "method": "anchors", "seed": seed, "precision": PRECISION,
            "delta": DELTA, "epsilon": EPSILON, "beam_size": BEAM}
    a = call(port, "POST", f"/models/{name}/explain", body)["explanations"][0]["anchor"]
    return {"rule": len(a["rule"]), "precision": a["precision"], "coverage": a["coverage"],
            "met": a["precision_met"]}


def alibi_explainer(predict: Predict, x: np.ndarray, names: list[str]) -> Explain:
    from alibi.explainers import AnchorTabular

    explainer = AnchorTabular(predict, feature_names=names, seed=0)
    explainer.fit(x, disc_perc=(25, 50, 75))

    def explain(row: np.ndarray, seed: int) -> Anchor:
        np.random.seed(seed)
        e = explainer.explain(row, threshold=PRECISION, delta=DELTA, tau=EPSILON,
                              batch_size=BATCH, beam_size=BEAM)
        return {"rule": len(e.anchor), "precision": float(e.precision),
                "coverage": float(e.coverage), "met": float(e.precision) >= PRECISION}

    return explain


# --- A straightforward Python implementation of the same algorithm -------------

def _kl(p: float, q: float) -> float:
    q = min(max(q, 1e-12), 1 - 1e-12)
    a = p * np.log(p / q) if p > 0 else 0.0
    b = (1 - p) * np.log((1 - p) / (1 - q)) if p < 1 else 0.0
    return a + b


def _bound(p: float, level: float, upper: bool) -> float:
    lo, hi = (p, 1.0) if upper else (0.0, p)
    for _ in range(30):
        mid = (lo + hi) / 2
        if (_kl(p, mid) > level) == upper:
            hi = mid
        else:
            lo = mid
    return lo if upper else hi


def _private_quantile(s: np.ndarray, p: float) -> float:
    n = len(s)
    h = p * (n - 1)
    r = round(h)
    if abs(h - r) < 1e-9:
        h = r + 0.5 if r < n - 1 else r - 0.5
    lo = min(int(np.floor(h)), n - 2)
    t = h - lo
    return float(s[lo] * (1 - t) + s[lo + 1] * t)


def py_explainer(predict: Predict, x: np.ndarray, names: list[str]) -> Explain:
    cuts: list[list[list[float]]] = []
    for j in range(x.shape[1]):
        s = np.sort(x[:, j])
        cuts.append([sorted(set(_private_quantile(s, p) for p in ps))
                     for ps in ((0.25, 0.5, 0.75), [k / 10 for k in range(1, 10)])])

    def explain(row: np.ndarray, seed: int) -> Anchor:
        rng = np.random.default_rng(seed)
        target = predict(row[None, :])[0]
        cands: list[Condition] = []
        for j, (q, d) in enumerate(cuts):
            def bin_of(edges: list[float]) -> tuple[float, float]:
                i = int(np.searchsorted(edges, row[j], side="left"))
                return (edges[i - 1] if i > 0 else -np.inf), (edges[i] if i < len(edges) else np.inf)
            lo, hi = bin_of(q)
            # The two sides of the quartile bin, then the decile bin.
            sides = [(j, lo, np.inf)] if lo > -np.inf else []
            sides += [(j, -np.inf, hi)] if hi < np.inf else []
            for c in sides + [(j, *bin_of(d))]:
                if c not in cands:
                    cands.append(c)
        meets = [(x[:, j] > lo) & (x[:, j] <= hi) for j, lo, hi in cands]
        arms: dict[Rule, Arm] = {}
        used = [0]

        def arm(rule: Rule) -> Arm:
            if rule not in arms:
                pool = np.ones(len(x), bool)
                for c in rule:
                    pool &= meets[c]
                arms[rule] = [0, 0, np.flatnonzero(pool), sorted({cands[c][0] for c in rule})]
            return arms[rule]

        def draw(rule: Rule, n: int) -> bool:
            n = min(n, BUDGET - used[0])
            if n <= 0:
                return False
            a = arm(rule)
            rows = x[rng.integers(0, len(x), n)].copy()
            if a[3]:
                src = x[a[2][rng.integers(0, len(a[2]), n)]] if len(a[2]) else np.tile(row, (n, 1))
                rows[:, a[3]] = src[:, a[3]]
            same = predict(rows) == target
            a[0] += n
            a[1] += int(same.sum())
            used[0] += n
            return True

        def lb(rule: Rule) -> float:
            n, k = arm(rule)[:2]
            return _bound(k / n, np.log(1 / DELTA) / n, False) if n else 0.0

        def decide(rule: Rule) -> bool:
            while True:
                n, k = arm(rule)[:2]
                if lb(rule) >= PRECISION:
                    return True
                if _bound(k / n, np.log(1 / DELTA) / n, True) < PRECISION or n >= 1000 or not draw(rule, BATCH):
                    return False

        def lucb(rules: list[Rule]) -> list[Rule]:
            mean: Callable[[Rule], float] = lambda r: arm(r)[1] / arm(r)[0]
            if len(rules) <= BEAM:
                return sorted(rules, key=mean, reverse=True)
            t = 1
            while True:
                order = sorted(rules, key=mean, reverse=True)
                top, rest = order[:BEAM], order[BEAM:]
                inner = np.log(405.5 * len(rules) * t ** 1.1 / DELTA)
                beta = inner + np.log(inner)
                weak = min(top, key=lambda r: _bound(mean(r), beta / arm(r)[0], False))
                strong = max(rest, key=lambda r: _bound(mean(r), beta / arm(r)[0], True))
                gap = (_bound(mean(strong), beta / arm(strong)[0], True)
                       - _bound(mean(weak), beta / arm(weak)[0], False))
                if gap < EPSILON:
                    return top
                if not draw(weak, BATCH) or not draw(strong, BATCH):
                    return sorted(rules, key=mean, reverse=True)[:BEAM]
                t += 1

        empty: Rule = ()
        draw(empty, BATCH)
        best, fallback, beam = (empty if decide(empty) else None), empty, [empty]
        for _ in range(len(cands) if best is None else 0):
            cover = len(arm(best)[2]) if best is not None else 0
            grown: list[Rule] = []
            for parent in beam:
                for c in range(len(cands)):
                    rule = tuple(sorted(set(parent) | {c}))
                    if c not in parent and rule not in grown and (best is None or len(arm(rule)[2]) > cover):
                        grown.append(rule)
            if not grown:
                break
            grown = [r for r in grown if arm(r)[0] > 0 or draw(r, BATCH // 4)]
            chosen = lucb(grown)
            for r in chosen:
                if decide(r) and (best is None or len(arm(r)[2]) > len(arm(best)[2])):
                    best = r
                if lb(r) > lb(fallback):
                    fallback = r
            if used[0] >= BUDGET:
                break
            beam = chosen
        r = best if best is not None else fallback
        n, k, pool, feats = arm(r)
        return {"rule": len(feats), "precision": k / n, "coverage": len(pool) / len(x), "met": best is not None}

    return explain


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--binary", default=str(ROOT / "target" / "release" / "explaind"))
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    names, x, y = load_data()
    rows = x[: args.rows]
    try:
        import alibi

        other = f"alibi {alibi.__version__} AnchorTabular"
        make_other = alibi_explainer
    except ImportError:
        other = "Python implementation (py_anchor)"
        make_other = py_explainer
    port = free_port()
    with tempfile.TemporaryDirectory() as model_dir:
        server = subprocess.Popen([args.binary, "--addr", f"127.0.0.1:{port}", "--model-dir", model_dir],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    call(port, "GET", "/readyz")
                    break
                except OSError:
                    time.sleep(0.1)
            table: list[ModelResult] = []
            for model, make in (("xgboost", make_xgboost), ("logistic", make_logistic)):
                predict, spec = make(x, y, names)
                call(port, "PUT", f"/models/{model}", spec)
                # The same model on both sides: explaind's classes equal the predictor's.
                p = call(port, "POST", f"/models/{model}/predict", {"instances": x.tolist()})["predictions"]
                ours = (np.array(p)[:, 0] > 0.5).astype(int)
                assert (ours == predict(x)).mean() > 0.998, f"{model}: the two sides disagree"
                theirs = make_other(predict, x, names)
                sides: dict[str, Explain] = {
                    "explaind": lambda r, s: explaind_anchor(port, model, r, s), "other": theirs}
                for side in sides.values():
                    side(rows[0], 0)
                times: dict[str, list[list[float]]] = {k: [[] for _ in rows] for k in sides}
                found: dict[str, list[Anchor]] = {k: [] for k in sides}
                for run in range(args.runs):
                    order = ["explaind", "other"] if run % 2 == 0 else ["other", "explaind"]
                    for i, row in enumerate(rows):
                        for k in order:
                            start = time.perf_counter()
                            found[k].append(sides[k](row, run))
                            times[k][i].append(time.perf_counter() - start)
                med = {k: [statistics.median(t) for t in v] for k, v in times.items()}
                ratios = [o / e for o, e in zip(med["other"], med["explaind"])]
                table.append((model, med, ratios, found))
        finally:
            server.terminate()
            server.wait()
    report(table, other, args)


def report(table: list[ModelResult], other: str, args: argparse.Namespace) -> None:
    load = os.getloadavg()[0]
    lines = [f"Rows: {args.rows}, runs: {args.runs}, load average at the end: {load:.2f}; other side: {other}.", "",
             "| model | explaind median row (ms) | other median row (ms) | ratio other/explaind: median (min–max over rows) "
             "| explaind: met, mean rule length, mean coverage | other: met (alibi: precision ≥ 0.95), mean rule length, mean coverage |",
             "|---|---|---|---|---|---|"]
    for model, med, ratios, found in table:
        def stats(k: str) -> str:
            f = found[k]
            met = sum(a["met"] for a in f) / len(f)
            return (f"{met:.0%}, {statistics.mean(a['rule'] for a in f):.1f}, "
                    f"{statistics.mean(a['coverage'] for a in f):.3f}")
        lines.append(f"| {model} | {1000 * statistics.median(med['explaind']):.1f} | "
                     f"{1000 * statistics.median(med['other']):.1f} | {statistics.median(ratios):.1f}× "
                     f"({min(ratios):.1f}–{max(ratios):.1f}) | {stats('explaind')} | {stats('other')} |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
