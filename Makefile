# Two entry points, both safe on a fresh machine:
#   make demo   install, then answer a sample question about the bundled article
#   make test   install with the test tools, then lint and run the test suite
#               (property tests at 10,000 cases per target; plain `pytest` runs 300)
#   make bench-peers  the LangChain peer's own environment for bench/speed.py
#
# torch is installed first and pinned to the CPU build: installing
# sentence-transformers first (or an unpinned torch) pulls a multi-GB CUDA build.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0
QUESTION ?= When was the International Space Station launched?

.PHONY: demo test lint venv bench-peers

venv: $(BIN)/python

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet $(TORCH)

demo: venv
	$(BIN)/python -m pip install --quiet .
	$(BIN)/articlebot ask "$(QUESTION)"

test: venv
	$(BIN)/python -m pip install --quiet -e ".[test]"
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	ARTICLEBOT_HYPOTHESIS=thorough $(BIN)/python -m pytest

lint: venv
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

bench-peers: venv
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(PYTHON) -m venv .venv-peers
	.venv-peers/bin/python -m pip install --quiet $(TORCH)
	.venv-peers/bin/python -m pip install --quiet -r bench/peers/requirements.txt
