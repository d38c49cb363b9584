#!/usr/bin/env bash
# Bounded fuzzing of explaind's parsers with cargo-fuzz (libFuzzer). Each target runs
# for SECONDS (default 60) from the committed corpus under fuzz/corpus/; a crash fails
# the script and leaves the input under fuzz/artifacts/.
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
for t in "${targets[@]}"; do
  echo "== $t (${SECONDS_PER_TARGET}s)"
  mkdir -p "corpus/$t"
  cargo fuzz run -O "$t" "corpus/$t" -- -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=4096 2>&1 \
    | grep -E "^(Done|==[0-9]+==|SUMMARY)|DONE" || true
  test ! -d artifacts/"$t" || test -z "$(ls -A artifacts/"$t" 2>/dev/null)" || { echo "crash in $t"; exit 1; }
done
