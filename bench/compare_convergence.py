#!/usr/bin/env python3
"""Accuracy per millisecond: shap's sampling explainers against explaind's, in one run.

    pip install shap==0.51.0 xgboost==3.2.0 lightgbm==4.7.0 numpy
    cargo build --release -p explaind-bench --bin bench_convergence
    python3 bench/compare_convergence.py [--rounds 3] [--out docs/benchmarks-convergence.md]

Models (built here, written to --work, never committed):
  - xgboost: the model of issue 19, a 500-tree XGBoost regressor (depth 6) on 20
    features with interactions; raw output;
  - lightgbm: a 500-tree LightGBM regressor (31 leaves) on the same data; raw output;
  - mlp: 12 -> 32 -> 16 -> 1 (ReLU, ReLU, sigmoid), random weights; probability;
  - logistic: logistic regression on 12 features; probability;
  - classifier: a 500-tree XGBoost binary classifier (depth 6, binary:logistic) on 12
    features of the trees' data (the label: above its median); probability, where
    no exact route answers a `tolerance` and the tree game is sampled.
Every model is explained against the same 100 background rows, for the same rows.
Exact values: shap's interventional TreeExplainer for the raw-output trees; for the
MLP, the logistic model and the classifier, the Shapley formula over all 2^12 coalitions with the model evaluated
here in numpy on every masked row (`by_enumeration`), checked on the first row against
shap's KernelExplainer with every coalition (also exact).

Contenders, each on one core (OMP/BLAS threads 1, nthread/num_threads 1, a rayon pool
of 1), each at a ladder of budgets:
  - shap KernelExplainer (l1_reg=False), nsamples 512, 1024, 2048; the model called
    through the library's own predictor (xgboost inplace_predict, lightgbm predict,
    numpy);
  - shap PermutationExplainer (Independent masker over the 100 rows), a few budgets;
  - explaind kernel_shap, estimator kernel, leverage and regression_adjusted (and
    per_baseline on the MLP and the logistic model, whose float32 lanes play each
    background row's own coalition), and permutation_shap, in process
    (target/release/bench_convergence);
  - on the (raw-output) tree models, two exact contenders of one point each: shap's
    interventional TreeExplainer (built once over the 100 rows, untimed) and what
    explaind's kernel_shap and permutation_shap answer with a `tolerance` there,
    interventional TreeSHAP against its background recorded once per model (the
    recording's time is printed, once per round; the server keeps it with the model);
  - on the logistic model (a linear model with a link, in probability space), what
    explaind's kernel_shap and permutation_shap answer there with a `tolerance`:
    exact_shapley through its link tables (src/core/explain/link_game.rs);
  - on the MLP and the classifier, where a `tolerance` samples, kernel_shap
    (per_baseline on the MLP, regression_adjusted on the classifier) asked
    for a largest standard error of 0.002 ... 0.00025 instead of a budget (its
    "budget" column is the tolerance): what a user asking for an accuracy waits.
Rounds are interleaved: each round runs every contender at every budget once, with
the round's seed, on the same rows, after an untimed warm-up call of each explainer. RMSE is over every attribution of the rows,
against the exact values; time is per explained row.

The target is shap KernelExplainer's RMSE at 2048 samples in each round. For each
contender, its time to reach that RMSE is read off its own curve in the same round (log-log interpolation between the two budgets around the crossing), and the
ratio is shap's time at 2048 over it; the table gives the median ratio and its range
over the rounds. A contender that never reaches the target within its ladder is
reported as such.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from typing import Any, Callable  # noqa: E402

import lightgbm as lgb  # noqa: E402
import numpy as np  # noqa: E402
import shap  # noqa: E402
import xgboost as xgb  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.path.join(ROOT, "target", "release", "bench_convergence")
BACKGROUND = 100
SHAP_KERNEL = [512, 1024, 2048]
EXACT_SHAP = "shap TreeExplainer (interventional, exact)"
# What a user asks who wants an accuracy rather than a budget, where a `tolerance`
# samples (models without an exact answer for it): the largest standard error, in
# output units, descending so the curve's errors fall.
TOLERANCE = "explaind kernel_shap ({}, tolerance)"
TOLERANCES = [0.002, 0.001, 0.0007, 0.0005, 0.00035, 0.00025]

# A model as the script keeps it: name, predict function `f`, `spec` for explaind,
# `space`, `background`, `exact` (a function of the rows, or None), ...
ModelInfo = dict[str, Any]
# A contender's budget: samples, pairs, a tolerance, or "exact".
Budget = int | float | str
# One point per budget: (budget, RMSE, seconds per row).
Curve = list[tuple[Budget, float, float]]
EXACT_EXPLAIND = "explaind kernel_shap with a tolerance (exact: {})"


def tree_data(n: int, seed: int, f: int = 20) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, f))
    y = (2 * x[:, 0] + np.sin(3 * x[:, 1]) + x[:, 2] * x[:, 3] + np.abs(x[:, 4])
         + x[:, 5] * x[:, 6] * x[:, 7] + np.where(x[:, 8] > 0, x[:, 9], -x[:, 10])
         + 0.5 * x[:, 11:].sum(axis=1) + 0.3 * rng.normal(size=n))
    return x, y


def tree_models(work: str) -> list[ModelInfo]:
    xtr, ytr = tree_data(20_000, 0)
    bst = xgb.train({"max_depth": 6, "eta": 0.05, "nthread": os.cpu_count(), "seed": 0},
                    xgb.DMatrix(xtr, label=ytr), num_boost_round=500)
    xgb_path = os.path.join(work, "xgb_500.json")
    bst.save_model(xgb_path)
    bst.set_param({"nthread": 1})
    gbm = lgb.train({"objective": "regression", "num_leaves": 31, "learning_rate": 0.05,
                     "verbose": -1, "num_threads": os.cpu_count(), "seed": 0},
                    lgb.Dataset(xtr, label=ytr), num_boost_round=500)
    lgb_path = os.path.join(work, "lgb_500.txt")
    gbm.save_model(lgb_path)
    background = tree_data(BACKGROUND, 1)[0]
    out = []
    for name, predict, spec, model in [
        ("xgboost", lambda z: bst.inplace_predict(z), {"kind": "xgboost", "path": xgb_path},
         bst),
        ("lightgbm", lambda z: gbm.predict(z, num_threads=1, raw_score=True),
         {"kind": "lightgbm", "path": lgb_path}, gbm),
    ]:
        explainer = shap.TreeExplainer(model, data=background,
                                       feature_perturbation="interventional")

        def exact(rows: np.ndarray, e: Any = explainer) -> np.ndarray:
            return np.asarray(e.shap_values(rows, check_additivity=False))

        out.append({"name": name, "f": predict, "spec": spec, "space": "raw",
                    "background": background, "exact": exact, "tree_explainer": explainer})
    return out


def classifier_model(work: str) -> ModelInfo:
    """The binary classifier, explained in probability space (a `tolerance` samples)."""
    f = 12
    xtr, ytr = tree_data(20_000, 0, f)
    label = (ytr > np.median(ytr)).astype(float)
    bst = xgb.train({"objective": "binary:logistic", "max_depth": 6, "eta": 0.05,
                     "nthread": os.cpu_count(), "seed": 0},
                    xgb.DMatrix(xtr, label=label), num_boost_round=500)
    path = os.path.join(work, "xgb_classifier_500.json")
    bst.save_model(path)
    bst.set_param({"nthread": 1})

    def predict(z: np.ndarray) -> np.ndarray:
        return np.asarray(bst.inplace_predict(np.atleast_2d(z)))

    return {"name": "classifier", "f": predict, "spec": {"kind": "xgboost", "path": path},
            "space": "probability", "background": tree_data(BACKGROUND, 1, f)[0],
            "exact": None, "tolerance_answer": None}


def small_models() -> list[ModelInfo]:
    rng = np.random.default_rng(0)
    f = 12
    sizes = (f, 32, 16, 1)
    layers = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        layers.append((rng.normal(scale=np.sqrt(2.0 / fan_in), size=(fan_in, fan_out)),
                       rng.normal(scale=0.1, size=fan_out)))

    def mlp(x: np.ndarray) -> np.ndarray:
        a = np.atleast_2d(x)
        for w, b in layers[:-1]:
            a = np.maximum(a @ w + b, 0.0)
        w, b = layers[-1]
        return 1.0 / (1.0 + np.exp(-(a @ w + b)[:, 0]))

    mlp_spec = {"kind": "mlp", "params": {"layers": [
        {"weights": w.tolist(), "bias": b.tolist(),
         "activation": "sigmoid" if i == len(layers) - 1 else "relu"}
        for i, (w, b) in enumerate(layers)]}}
    coef = rng.normal(scale=0.8, size=f)

    def logistic(x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(np.atleast_2d(x) @ coef - 0.2)))

    log_spec = {"kind": "logistic", "coefficients": coef.tolist(), "intercept": -0.2}
    background = rng.normal(size=(BACKGROUND, f))
    return [{"name": "mlp", "f": mlp, "spec": mlp_spec, "space": "probability",
             "background": background, "exact": None, "tolerance_answer": None},
            {"name": "logistic", "f": logistic, "spec": log_spec, "space": "probability",
             "background": background, "exact": None, "tolerance_answer": "exact_shapley"}]


def explaind(model: ModelInfo, rows: np.ndarray, configs: list[dict[str, Any]],
             seed: int) -> list[dict[str, Any]]:
    fd, path = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump({"model": model["spec"], "space": model["space"],
                   "background": model["background"].tolist(), "rows": rows.tolist(),
                   "configs": configs, "seed": seed}, fh)
    out = subprocess.run([BINARY, path], check=True, capture_output=True, text=True)
    os.unlink(path)
    return [json.loads(line) for line in out.stdout.splitlines()]


def by_enumeration(f: Callable[[np.ndarray], np.ndarray], background: np.ndarray,
                   x: np.ndarray) -> np.ndarray:
    """Shapley values of v(S) = mean_b f(x_S, b_rest), every coalition, by definition."""
    p = x.shape[0]
    coalitions = (np.arange(2 ** p)[:, None] >> np.arange(p)) & 1  # (2^p, p)
    masked = np.where(coalitions[:, None, :] == 1, x, background[None, :, :])
    v = f(masked.reshape(-1, p)).reshape(2 ** p, len(background)).mean(axis=1)
    sizes = coalitions.sum(axis=1)
    weight = np.array([math.factorial(s) * math.factorial(p - s - 1) / math.factorial(p)
                       if s < p else 0.0 for s in range(p + 1)])
    phi = np.zeros(p)
    for g in range(p):
        without = np.flatnonzero(coalitions[:, g] == 0)
        phi[g] = np.sum(weight[sizes[without]] * (v[without | (1 << g)] - v[without]))
    return phi


def exact_values(model: ModelInfo, rows: np.ndarray) -> np.ndarray:
    if model["exact"] is not None:
        return np.asarray(model["exact"](rows))
    exact = np.array([by_enumeration(model["f"], model["background"], x) for x in rows])
    p = rows.shape[1]
    check = shap.KernelExplainer(model["f"], model["background"]).shap_values(
        rows[:1], nsamples=2 ** p, l1_reg=False, silent=True)
    gap = np.abs(np.asarray(check).reshape(exact[:1].shape) - exact[:1]).max()
    assert gap < 1e-6, f"{model['name']}: exact values disagree with shap ({gap})"
    return exact


def timed(fn: Callable[[], Any]) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    values = np.asarray(fn())
    return values, time.perf_counter() - start


def rmse(values: np.ndarray, exact: np.ndarray) -> float:
    return float(np.sqrt(np.mean((values.reshape(exact.shape) - exact) ** 2)))


def ladders(p: int, kind: str) -> dict[str, list[int]]:
    pairs = [2, 4, 8, 16, 32] if p > 12 else [4, 8, 16, 32, 64, 128]
    # Per-baseline coalitions only where each background row's own coalition is
    # cheap (the float32 lanes of a network or a logistic model); elsewhere every
    # masked row goes through the model's predictions.
    own = ({"explaind kernel_shap (per_baseline)": [64, 128, 256, 512, 1024]}
           if kind in ("mlp", "logistic") else {})
    return {
        "shap KernelExplainer": SHAP_KERNEL,
        "shap PermutationExplainer": [2, 4, 8, 16] if p > 12 else [2, 5, 10, 20],
        "explaind kernel_shap (kernel)": [64, 128, 256, 512, 1024, 2048],
        "explaind kernel_shap (leverage)": [64, 128, 256, 512, 1024, 2048],
        "explaind kernel_shap (regression_adjusted)": [64, 128, 256, 512, 1024, 2048],
        "explaind permutation_shap": [k * 2 * (p - 1) for k in pairs],
    } | own


def one_round(model: ModelInfo, rows: np.ndarray, exact: np.ndarray,
              seed: int) -> dict[str, Curve]:
    """{contender: [(budget, rmse, seconds per row)]} for one seed."""
    n, p = rows.shape
    ladder = ladders(p, model["spec"]["kind"])
    curves: dict[str, Curve] = {name: [] for name in ladder}
    kernel = shap.KernelExplainer(model["f"], model["background"])
    masker = shap.maskers.Independent(model["background"], max_samples=BACKGROUND)
    permutation = shap.PermutationExplainer(model["f"], masker, seed=seed)
    # Warm-up, untimed: the first call of each explainer pays one-off costs.
    kernel.shap_values(rows[:1], nsamples=64, l1_reg=False, silent=True)
    permutation(rows[:1], max_evals=2 * (2 * p + 1), silent=True)
    for budget in ladder["shap KernelExplainer"]:
        np.random.seed(seed)
        values, seconds = timed(lambda: kernel.shap_values(
            rows, nsamples=budget, l1_reg=False, silent=True))
        curves["shap KernelExplainer"].append((budget, rmse(values, exact), seconds / n))
    for pairs in ladder["shap PermutationExplainer"]:
        values, seconds = timed(lambda: permutation(
            rows, max_evals=pairs * (2 * p + 1), silent=True).values)
        curves["shap PermutationExplainer"].append((pairs, rmse(values, exact), seconds / n))
    configs: list[dict[str, Any]] = []
    names: list[tuple[str, Budget]] = []
    for name, budgets in ladder.items():
        if not name.startswith("explaind"):
            continue
        for budget in budgets:
            method = "permutation_shap" if "permutation" in name else "kernel_shap"
            estimator = next((e for e in ("leverage", "regression_adjusted", "per_baseline")
                              if e in name), "kernel")
            configs.append({"method": method, "estimator": estimator, "n_samples": budget})
            names.append((name, budget))
    if model.get("tree_explainer") is not None:
        # Exact on the trees, one point each: shap's interventional TreeExplainer and
        # what explaind's sampling methods answer with a `tolerance` there.
        values, seconds = timed(lambda: model["tree_explainer"].shap_values(
            rows, check_additivity=False))
        curves[EXACT_SHAP] = [("exact", rmse(values, exact), seconds / n)]
        configs.append({"method": "tree_interventional"})
        names.append((EXACT_EXPLAIND.format("tree_interventional"), "exact"))
    if model.get("tolerance_answer") is not None:
        configs.append({"method": model["tolerance_answer"]})
        names.append((EXACT_EXPLAIND.format(model["tolerance_answer"]), "exact"))
    elif model.get("tree_explainer") is None:
        # The best estimator the model's game has: per-baseline where the rows'
        # own coalitions are cheap (a network's lanes), regression-adjusted else.
        estimator = "per_baseline" if model["spec"]["kind"] == "mlp" else "regression_adjusted"
        for eps in TOLERANCES:
            configs.append({"method": "kernel_shap", "estimator": estimator,
                            "tolerance": eps})
            names.append((TOLERANCE.format(estimator), eps))
    for name, _ in names:
        curves.setdefault(name, [])
    for (name, point), answer in zip(names, explaind(model, rows, configs, seed)):
        values = np.array(answer["attributions"])
        curves[name].append((point, rmse(values, exact), answer["seconds"] / n))
        if "setup_seconds" in answer:
            print(f"{model['name']}: explaind's recorded background built in "
                  f"{1000 * answer['setup_seconds']:.1f} ms (once per model)", flush=True)
    return curves


def time_to(curve: Curve, target: float) -> tuple[float | None, str]:
    """Seconds per row to reach `target` RMSE on `curve`, log-log interpolated."""
    for i, (_, err, seconds) in enumerate(curve):
        if err <= target:
            if i == 0:
                return seconds, "≤"
            _, e0, s0 = curve[i - 1]
            w = (math.log(e0) - math.log(target)) / (math.log(e0) - math.log(err))
            return math.exp(math.log(s0) + w * (math.log(seconds) - math.log(s0))), ""
    return None, ""


def spread(values: list[float], fmt: str) -> str:
    if not values:
        return "–"
    med = statistics.median(values)
    return f"{med:{fmt}} ({min(values):{fmt}}–{max(values):{fmt}})"


def report(name: str, rounds: list[dict[str, Curve]], n_rows: int) -> list[str]:
    targets = [r["shap KernelExplainer"][-1][1] for r in rounds]
    lines = [f"\n### {name}: target RMSE {spread(targets, '.4g')} (shap KernelExplainer, "
             f"2048 samples, per round; {n_rows} rows × {len(rounds)} rounds)\n",
             "| contender | budget | RMSE median (min–max) | ms per row median (min–max) |",
             "|---|---|---|---|"]
    for contender in rounds[0]:
        for i, (budget, _, _) in enumerate(rounds[0][contender]):
            errs = [r[contender][i][1] for r in rounds]
            ms = [1000 * r[contender][i][2] for r in rounds]
            lines.append(f"| {contender} | {budget} | {spread(errs, '.4g')} | "
                         f"{spread(ms, '.1f')} |")
    lines += ["", "| contender | ms per row to reach the target | ratio to shap Kernel "
                  "2048 median (min–max) |", "|---|---|---|"]
    for contender in rounds[0]:
        times, ratios, bound = [], [], ""
        for r, target in zip(rounds, targets):
            t, b = time_to(r[contender], target)
            if t is not None:
                times.append(1000 * t)
                ratios.append(r["shap KernelExplainer"][-1][2] / t)
                bound = bound or b
        if len(times) < len(rounds):
            lines.append(f"| {contender} | not reached in {len(rounds) - len(times)} of "
                         f"{len(rounds)} rounds | "
                         f"{spread(ratios, '.2f') + '× in the others' if ratios else '–'} |")
        else:
            lines.append(f"| {contender} | {bound}{spread(times, '.1f')} | "
                         f"{'≥' if bound else ''}{spread(ratios, '.2f')}× |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tree-rows", type=int, default=3)
    ap.add_argument("--rows", type=int, default=5)
    ap.add_argument("--models", default="xgboost,lightgbm,mlp,logistic,classifier")
    ap.add_argument("--work", default=tempfile.mkdtemp(prefix="explaind-convergence-"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--raw", default=None, help="write every round's curves here (JSON)")
    args = ap.parse_args()
    wanted = args.models.split(",")
    started = time.time()
    head = [f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start; "
            f"shap {shap.__version__}, xgboost {xgb.__version__}, lightgbm {lgb.__version__}, "
            f"numpy {np.__version__}"]
    models = [m for m in (tree_models(args.work) if {"xgboost", "lightgbm"} & set(wanted)
                          else []) + small_models()
              + ([classifier_model(args.work)] if "classifier" in wanted else [])
              if m["name"] in wanted]
    lines: list[str] = []
    raw: dict[str, list[dict[str, Curve]]] = {}
    for model in models:
        p = model["background"].shape[1]
        n = args.tree_rows if model["spec"]["kind"] in ("xgboost", "lightgbm") else args.rows
        rows = np.random.default_rng(7).normal(size=(n, p))
        exact = exact_values(model, rows)
        rounds = [one_round(model, rows, exact, seed) for seed in range(args.rounds)]
        raw[model["name"]] = rounds
        table = report(model["name"], rounds, n)
        lines += table
        print("\n".join(table), flush=True)
    head.append(f"load average {os.getloadavg()[0]:.1f} at the end; "
                f"{(time.time() - started) / 60:.1f} minutes")
    text = "\n".join(head + lines) + "\n"
    print(head[-1])
    if args.raw:
        with open(args.raw, "w") as fh:
            json.dump(raw, fh)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(text)


if __name__ == "__main__":
    main()
