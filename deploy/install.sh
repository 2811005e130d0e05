#!/usr/bin/env bash
# Install ArticleBot into a virtual environment, from a lock file: every package,
# direct or not, pinned with its hashes. The one place an install happens: `make
# demo`, `make test`, both stages of deploy/Dockerfile and CI all run this script.
#
#   deploy/install.sh serve VENV  the serving install, no torch (requirements-serve.lock):
#                                 answers, serves both bots, adds and syncs articles
#                                 with the ONNX export an index directory holds
#   deploy/install.sh build VENV  the full install, articlebot[build] (requirements.lock):
#                                 adds torch, sentence-transformers and the model, for
#                                 the first export and bulk builds
#   deploy/install.sh test VENV   the full install with the test tools, editable
#
# The project is installed without its dependencies: the lock file already holds
# them all (and torch pinned to its CPU build, so pip never pulls the CUDA one).
set -euo pipefail

usage="usage: deploy/install.sh serve|build|test VENV"
kind=${1:?$usage}
venv=${2:?$usage}
root=$(cd "$(dirname "$0")/.." && pwd)
case "$kind" in
    serve) lock=requirements-serve.lock editable="" ;;
    build) lock=requirements.lock editable="" ;;
    test) lock=requirements-test.lock editable="-e" ;;
    *) echo "$usage" >&2; exit 2 ;;
esac

[ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --require-hashes -r "$root/$lock"
"$venv/bin/python" -m pip install --quiet --no-deps --no-build-isolation $editable "$root"
