#!/usr/bin/env bash
# Bounded fuzzing of explaind's parsers with cargo-fuzz (libFuzzer). Each target runs
# for SECONDS_PER_TARGET (default 60) from the committed corpus under fuzz/corpus/; a
# crash fails the script and leaves the input under fuzz/artifacts/. Targets:
#   model_spec       registration documents: JSON -> ModelSpec -> validation
#   explain_request  explain bodies: JSON -> instances -> explainer (house-price model)
#   xgboost_model    XGBoost JSON files, lightgbm_model LightGBM text files, onnx_model
#                    ONNX files: registered as `model`, then each model that builds
#                    predicts and explains rows (fuzz/fuzz_targets/common/mod.rs)
# The model-file targets also read the committed fixtures (tests/fixtures/trees,
# tests/fixtures/onnx) as seeds at every run; their committed corpora keep the
# minimised inputs under 4 kB (the fixture-sized ones are re-derived from the seeds).
#   tree_shapes      structured tree models (tests/common/tree_gen.rs): deep caterpillars,
#                    wide trees, forests of many trees, random trees, as XGBoost JSON and
#                    LightGBM text; refused exactly when deeper than --max-tree-depth
# Built with -O -a: optimised, with debug assertions and overflow checks, so an integer
# overflow is a crash too. Memory is bounded twice: -malloc_limit_mb=512 makes any one
# allocation over 512 MB a crash (no input of a few kB may ask for that: memory must stay
# linear in the file), and -rss_limit_mb=2048 the whole process.
#
#   cargo install cargo-fuzz        # once
#   bench/fuzz.sh                   # every target, 60 s each
#   SECONDS_PER_TARGET=600 bench/fuzz.sh model_spec
#
# cargo-fuzz needs a nightly compiler for its sanitizer flags; on the stable toolchain
# RUSTC_BOOTSTRAP=1 unlocks them.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
export RUSTC_BOOTSTRAP=1
SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-60}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
seeds() {
  case $1 in
    xgboost_model | lightgbm_model) echo ../tests/fixtures/trees ;;
    onnx_model) echo ../tests/fixtures/onnx ;;
  esac
}
for t in "${targets[@]}"; do
  echo "== $t (${SECONDS_PER_TARGET}s)"
  mkdir -p "corpus/$t"
  # shellcheck disable=SC2046 # seeds: zero or one directory
  cargo fuzz run -O -a "$t" "corpus/$t" $(seeds "$t") -- -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 -malloc_limit_mb=512 2>&1 \
    | grep -E "^(Done|==[0-9]+==|SUMMARY)|DONE" || true
  test ! -d artifacts/"$t" || test -z "$(ls -A artifacts/"$t" 2>/dev/null)" || { echo "crash in $t"; exit 1; }
done
