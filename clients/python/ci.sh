#!/usr/bin/env bash
# CI for the Python client (clients/python): a fresh virtual environment with the
# package and the libraries its tests compare against, mypy --strict on the
# package, then pytest against the explaind binary cargo built (EXPLAIND_BIN).
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=${EXPLAIND_CLIENT_VENV:-.venv-client}
export EXPLAIND_BIN=${EXPLAIND_BIN:-target/debug/explaind}
test -x "$EXPLAIND_BIN" || cargo build --bin explaind

python3 -m venv "$venv"
venv=$(cd "$venv" && pwd)
# Versions of tests/fixtures/requirements.txt (xgboost-cpu: the same XGBoost 3.2.0
# without the CUDA libraries); matplotlib for shap's plots; dask[distributed] for
# explaind.dask's tests (LocalCluster of 2 worker processes); pyspark for
# explaind.spark's (local[2]; they skip without a JRE: apt-get install -y
# default-jre-headless). Both add about 40 s to the step.
"$venv/bin/pip" install --quiet --disable-pip-version-check "./clients/python[dev]" \
  xgboost-cpu==3.2.0 lightgbm==4.7.0 scikit-learn==1.9.1 shap==0.51.0 numpy==2.4.6 \
  skl2onnx==1.20.0 onnx==1.23.2 matplotlib==3.11.2 "dask[dataframe,distributed]==2026.8.0" \
  pyspark==4.3.0 catboost==1.2.10

(cd clients/python && "$venv/bin/mypy")

status=0
MPLBACKEND=Agg "$venv/bin/python" -m pytest clients/python/tests -p no:cacheprovider -rxs -q || status=$?
if [ "$status" -eq 5 ]; then
  echo "clients/python: pytest collected no tests" >&2
  exit 1
fi
exit "$status"
