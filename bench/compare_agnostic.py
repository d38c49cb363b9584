"""Compare explaind's model-agnostic explainers with shap and lime, in one run.

Two models, each explained in probability space, with the same weights, background
and rows for every library:
- mlp: 64 -> 32 -> 16 -> 1 (ReLU, ReLU, sigmoid), He-initialised random weights;
  shap and lime call a numpy forward pass, explaind gets the same weights as an
  `mlp` model.
- logistic: logistic regression on the same 64 features.

Per model and method:
- shap KernelExplainer, nsamples=2048, l1_reg off  vs  explaind kernel_shap, 2048 coalitions
- shap PermutationExplainer, 10 antithetic pairs  vs  explaind permutation_shap, 10 pairs
- lime LimeTabularExplainer, 5000 samples, all features  vs  explaind lime, 5000 samples
explaind runs with rayon's default threads (all cores) and with one thread, on its
`affine` path (the model as registered) and on its `generic` path (the same model
seen only through batch predict, as a model without an affine first step is).
Each side explains one row untimed first (warm-up), then all rows `--repeats`
times; the best time counts. The arithmetic limit of kernel_shap: the multiply-adds
of every masked row (all of the first layer, or only the incremental moves) at
the machine's measured one-thread matrix-product rate, plus one logistic function
per masked row at its measured rate.

Build first:  cargo build --release -p explaind-bench --bin bench_agnostic
Run:          python3 bench/compare_agnostic.py [--rows 20] [--repeats 3] [--background 100]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable, Optional

import numpy as np
import numpy.typing as npt
import shap
from lime.lime_tabular import LimeTabularExplainer

FEATURES = 64
HIDDEN = (32, 16)
KERNEL_NSAMPLES = 2048
LIME_SAMPLES = 5000
PERMUTATION_PAIRS = 10
METHODS = ["kernel_shap", "permutation_shap", "lime"]

Array = npt.NDArray[np.float64]
# (probability function, explaind model spec, multiply-adds per model row, first-layer units)
Model = tuple[Callable[[Array], Array], dict[str, Any], int, int]
# rows/s per (method, path)
Rates = dict[tuple[str, str], float]


def best_rate(fn: Callable[[Array], object], rows: Array, repeats: int) -> float:
    fn(rows[:1])
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(rows)
        best = min(best, time.perf_counter() - start)
    return len(rows) / best


def make_mlp(rng: np.random.Generator) -> Model:
    sizes = (FEATURES, *HIDDEN, 1)
    layers: list[tuple[Array, Array]] = []
    for fan_in, fan_out in zip(sizes, sizes[1:]):
        w = rng.normal(scale=np.sqrt(2.0 / fan_in), size=(fan_in, fan_out))
        b = rng.normal(scale=0.1, size=fan_out)
        layers.append((w, b))

    def prob(x: Array) -> Array:
        a = np.atleast_2d(x)
        for w, b in layers[:-1]:
            a = np.maximum(a @ w + b, 0.0)
        w, b = layers[-1]
        return 1.0 / (1.0 + np.exp(-(a @ w + b)[:, 0]))

    spec = {"kind": "mlp", "params": {"layers": [
        {"weights": w.tolist(), "bias": b.tolist(),
         "activation": "sigmoid" if i == len(layers) - 1 else "relu"}
        for i, (w, b) in enumerate(layers)]}}
    macs = sum(w.size for w, _ in layers)
    return prob, spec, macs, HIDDEN[0]


def make_logistic(rng: np.random.Generator) -> Model:
    w = rng.normal(scale=0.3, size=FEATURES)
    b = -0.1

    def prob(x: Array) -> Array:
        return 1.0 / (1.0 + np.exp(-(np.atleast_2d(x) @ w + b)))

    spec = {"kind": "logistic", "coefficients": w.tolist(), "intercept": b}
    return prob, spec, FEATURES, 1


def run_explaind(binary: str, spec: str,
                 threads: Optional[int]) -> tuple[Rates, dict[str, Any]]:
    env = dict(os.environ)
    if threads:
        env["RAYON_NUM_THREADS"] = str(threads)
    out = subprocess.run([binary, spec], check=True, capture_output=True, text=True, env=env)
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    rates = {(r["method"], r["path"]): r["rows_per_s"] for r in lines if "method" in r}
    extra = {k: v for r in lines if "method" not in r for k, v in r.items()}
    return rates, extra


def kernel_updates(players: int) -> float:
    """E[min(s, P - s)] over KernelSHAP's size distribution, proportional to 1/(s(P - s)):
    the moves the incremental first layer needs for the first coalition of a pair."""
    sizes = np.arange(1, players)
    mass = 1.0 / (sizes * (players - sizes))
    return float((np.minimum(sizes, players - sizes) * mass).sum() / mass.sum())


def compare(name: str, make: Callable[[np.random.Generator], Model], args: argparse.Namespace,
            binary: str) -> tuple[dict[str, float], Rates, Rates]:
    rng = np.random.default_rng(0)
    prob, model_spec, macs, units = make(rng)
    background = rng.normal(size=(args.background, FEATURES))
    rows = rng.normal(size=(args.rows, FEATURES))
    fd, spec = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump({
            "model": model_spec, "background": background.tolist(), "rows": rows.tolist(),
            "kernel_nsamples": KERNEL_NSAMPLES, "lime_samples": LIME_SAMPLES,
            "permutation_nsamples": PERMUTATION_PAIRS * 2 * (FEATURES - 1),
            "repeats": args.repeats,
        }, fh)
    ours_all, extra = run_explaind(binary, spec, None)
    ours_one, extra_one = run_explaind(binary, spec, 1)
    os.unlink(spec)
    gap = np.abs(np.array(extra["predictions"]) - prob(rows)).max()
    assert gap < 1e-9, f"{name}: explaind and numpy disagree on the model ({gap})"

    kernel = shap.KernelExplainer(prob, background)
    masker = shap.maskers.Independent(background, max_samples=len(background))
    permutation = shap.PermutationExplainer(prob, masker, seed=0)
    lime = LimeTabularExplainer(background, mode="classification", random_state=0)
    both = lambda z: np.column_stack([1 - prob(z), prob(z)])
    theirs = {
        "kernel_shap": best_rate(lambda r: kernel.shap_values(
            r, nsamples=KERNEL_NSAMPLES, l1_reg=False, silent=True), rows, args.repeats),
        "permutation_shap": best_rate(lambda r: permutation(
            r, max_evals=PERMUTATION_PAIRS * (2 * FEATURES + 1), silent=True), rows,
            args.repeats),
        "lime": best_rate(lambda r: [lime.explain_instance(
            row, both, labels=(1,), num_features=FEATURES, num_samples=LIME_SAMPLES)
            for row in r], rows, args.repeats),
    }
    print(f"\n{name}: {macs} multiply-adds per model row, {args.background} background "
          f"rows, {args.rows} rows, best of {args.repeats}")
    print(f"{'method':<18}{'library':>9}{'explaind':>10}{'1 thread':>10}{'generic 1t':>12}"
          f"{'ratio':>8}{'ratio 1t':>10}{'generic 1t':>12}")
    for method in METHODS:
        t, a, o = theirs[method], ours_all[(method, "affine")], ours_one[(method, "affine")]
        g = ours_one.get((method, "generic"), o)
        print(f"{method:<18}{t:>9.2f}{a:>10.2f}{o:>10.2f}{g:>12.2f}"
              f"{a / t:>7.1f}x{o / t:>9.1f}x{g / t:>11.1f}x")
    # The arithmetic limit of KernelSHAP on one thread: the multiply-adds of every
    # masked row at this machine's matrix-product rate, plus one logistic function
    # per masked row (probability space); ReLUs and the regression are not counted.
    gflops, sigmoids = extra_one["gflops"], extra_one["sigmoids_per_s"]
    masked = KERNEL_NSAMPLES * args.background
    first = FEATURES * units
    moves = kernel_updates(FEATURES) / 2  # the complement of a pair needs none
    direct = 2.0 * masked * macs
    incremental = 2.0 * masked * (macs - first + moves * units)
    for label, flop, path in [("direct", direct, "generic"), ("incremental", incremental, "affine")]:
        limit = 1.0 / (flop / (gflops * 1e9) + masked / sigmoids)
        got = ours_one[("kernel_shap", path)]
        print(f"kernel_shap limit, {label} first layer: {flop / 1e9:.3f} GFLOP + {masked} "
              f"sigmoids per row at {gflops:.1f} GFLOP/s and {sigmoids / 1e6:.0f} M sigmoids/s "
              f"= {limit:.1f} rows/s on one thread; explaind ({path}, 1 thread) {got:.1f} rows/s, "
              f"{got / limit:.0%} of it")
    return theirs, ours_all, ours_one


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--background", type=int, default=100)
    ap.add_argument("--binary", default="target/release/bench_agnostic")
    ap.add_argument("--models", default="mlp,logistic")
    args = ap.parse_args()
    print(f"{os.cpu_count()} CPUs; shap {shap.__version__}; numpy {np.__version__}; "
          f"load average {os.getloadavg()[0]:.1f}; rows/s")
    makers = {"mlp": make_mlp, "logistic": make_logistic}
    for name in args.models.split(","):
        compare(name, makers[name], args, args.binary)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    sys.exit(main())  # type: ignore[func-returns-value]  # main() returns None: exit 0
