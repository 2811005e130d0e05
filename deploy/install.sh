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
#   deploy/install.sh serve|build VENV WHEEL
#                                 the same, with the project from its wheel instead of
#                                 the checkout (the image's runtime stage: no source)
#   deploy/install.sh wheel VENV DIR
#                                 the project's wheel into DIR, built by VENV's hatchling
#                                 (a full or test install); installs nothing
#
# Nothing is resolved: the lock file already holds every package (and torch pinned
# to its CPU build, so pip never pulls the CUDA one), so both it and the project are
# installed with --no-deps. Resolving would let pip pick a newer release than the
# lock names whenever a package asks for another one with an extra (justext asks for
# lxml[html_clean]: pip 23.2 then took the newest lxml, and refused the install).
# `pip check` afterwards makes a lock that is not self-consistent fail loudly, naming
# the package. No wheel is kept in pip's cache: `make test` makes three installs (two
# with torch, about 4.5 GB in all) and a CI machine's disk once ran out during them;
# a cached copy of every downloaded wheel would only add to that. Tried with pip
# 23.2.1 (Python 3.11.7's own) and pip 26.3.
set -euo pipefail

usage="usage: deploy/install.sh serve|build|test VENV [WHEEL], or wheel VENV DIR"
kind=${1:?$usage}
venv=${2:?$usage}
root=$(cd "$(dirname "$0")/.." && pwd)
project=${3:-$root}
case "$kind" in
    serve) lock=requirements-serve.lock editable="" ;;
    build) lock=requirements.lock editable="" ;;
    test) lock=requirements-test.lock editable="-e" project=$root ;;
    wheel) [ -n "${3:-}" ] || { echo "$usage" >&2; exit 2; } ;;
    *) echo "$usage" >&2; exit 2 ;;
esac
pip=("$venv/bin/python" -m pip --disable-pip-version-check --no-cache-dir)

if [ "$kind" = wheel ]; then
    "${pip[@]}" wheel --quiet --no-deps --no-build-isolation --wheel-dir "$3" "$root"
    exit 0
fi
[ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$venv"
"${pip[@]}" install --quiet --no-deps --require-hashes -r "$root/$lock"
"${pip[@]}" install --quiet --no-deps --no-build-isolation $editable "$project"
"${pip[@]}" check
