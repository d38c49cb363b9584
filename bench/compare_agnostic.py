"""Compare explaind's model-agnostic explainers with shap and lime, in one run.

Same logistic model (probability space), same background and rows for everyone:
- shap KernelExplainer, nsamples=2048, l1_reg off  vs  explaind kernel_shap, 2048 coalitions
- shap PermutationExplainer, 10 antithetic pairs  vs  explaind permutation_shap, 10 pairs
- lime LimeTabularExplainer, 5000 samples, all features  vs  explaind lime, 5000 samples
explaind runs twice: with rayon's default threads (all cores) and with one thread.
Each side explains one row untimed first (warm-up), then all rows, timed.

Build first:  cargo build --release --bin bench_agnostic
Run:          python3 bench/compare_agnostic.py [--rows 20] [--features 64] [--background 100]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import shap
from lime.lime_tabular import LimeTabularExplainer

KERNEL_NSAMPLES = 2048
LIME_SAMPLES = 5000
PERMUTATION_PAIRS = 10


def timed(fn, rows):
    fn(rows[:1])
    start = time.perf_counter()
    fn(rows)
    return len(rows) / (time.perf_counter() - start)


def run_explaind(binary, spec, threads):
    env = dict(os.environ)
    if threads:
        env["RAYON_NUM_THREADS"] = str(threads)
    out = subprocess.run([binary, spec], check=True, capture_output=True, text=True, env=env)
    return {r["method"]: r["rows_per_s"] for r in map(json.loads, out.stdout.split("\n")[:-1])}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=20)
    ap.add_argument("--features", type=int, default=64)
    ap.add_argument("--background", type=int, default=100)
    ap.add_argument("--binary", default="target/release/bench_agnostic")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    f_dim = args.features
    w = rng.normal(scale=0.3, size=f_dim)
    b = -0.1
    background = rng.normal(size=(args.background, f_dim))
    rows = rng.normal(size=(args.rows, f_dim))

    def prob(x):
        return 1.0 / (1.0 + np.exp(-(np.atleast_2d(x) @ w + b)))

    fd, spec = tempfile.mkstemp(suffix=".json")
    with os.fdopen(fd, "w") as fh:
        json.dump({
            "coefficients": w.tolist(), "intercept": b,
            "background": background.tolist(), "rows": rows.tolist(),
            "kernel_nsamples": KERNEL_NSAMPLES, "lime_samples": LIME_SAMPLES,
            "permutation_nsamples": PERMUTATION_PAIRS * 2 * (f_dim - 1),
        }, fh)
    ours_all = run_explaind(args.binary, spec, None)
    ours_one = run_explaind(args.binary, spec, 1)
    os.unlink(spec)

    kernel = shap.KernelExplainer(prob, background)
    masker = shap.maskers.Independent(background, max_samples=len(background))
    permutation = shap.PermutationExplainer(prob, masker, seed=0)
    lime = LimeTabularExplainer(background, mode="classification", random_state=0)
    both = lambda z: np.column_stack([1 - prob(z), prob(z)])
    theirs = {
        "kernel_shap": timed(lambda r: kernel.shap_values(
            r, nsamples=KERNEL_NSAMPLES, l1_reg=False, silent=True), rows),
        "permutation_shap": timed(lambda r: permutation(
            r, max_evals=PERMUTATION_PAIRS * (2 * f_dim + 1), silent=True), rows),
        "lime": timed(lambda r: [lime.explain_instance(
            row, both, labels=(1,), num_features=f_dim, num_samples=LIME_SAMPLES)
            for row in r], rows),
    }
    print(f"logistic model, {f_dim} features, {args.background} background rows, "
          f"{args.rows} rows; {os.cpu_count()} CPUs; shap {shap.__version__}")
    print(f"{'method':<18}{'library rows/s':>16}{'explaind rows/s':>17}"
          f"{'(1 thread)':>12}{'ratio':>9}{'ratio 1t':>10}")
    for method in ["kernel_shap", "permutation_shap", "lime"]:
        t, a, o = theirs[method], ours_all[method], ours_one[method]
        print(f"{method:<18}{t:>16.2f}{a:>17.2f}{o:>12.2f}{a / t:>8.1f}x{o / t:>9.1f}x")


if __name__ == "__main__":
    sys.exit(main())
