# Two entry points, both safe on a fresh machine:
#   make demo   install, then answer a sample question about the bundled article
#   make test   install with the test tools, make the serving and the full install
#               afresh (.venv-serve, .venv-build), then lint and run the test suite
#               (property tests at 10,000 cases per target; plain `pytest` runs 300)
#   make test-fast  the fast tier only: no real model, about a minute
#   make bench-peers  the LangChain peer's own environment for bench/speed.py
#   make train-reranker  retrain the shipped reranker (bot/answer/reranker/) from the
#               training articles of ../shared/train/split.json, on the CPU (~70 min)
#   make train-reader  train the sentence reader (opt-in: reader_dir) from the
#               training articles of ../shared/train/split.json, on the CPU
#   make lock   regenerate the lock files from pyproject.toml (after changing a pin);
#               other pins stay as they are. To refresh them too:
#                 make lock LOCK_UPGRADE=--upgrade                     every package
#                 make lock LOCK_UPGRADE="--upgrade-package lxml"      one package
#               then `make test`, which installs the new locks afresh (pip check
#               names any package they disagree on)
#
# Every install runs deploy/install.sh (as the Dockerfile does) and comes from a lock
# file: every package, direct or not, pinned with its hashes, installed as written
# (pip --no-deps --require-hashes, then pip check): nothing is resolved.
# torch is pinned there to the CPU build (2.13.0+cpu), so pip cannot pull the
# multi-GB CUDA build. requirements-serve.lock is the serving install (no torch).

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
SERVE_VENV ?= .venv-serve
BUILD_VENV ?= .venv-build
TORCH := torch==2.13.0
QUESTION ?= When was the International Space Station launched?
LOCK := requirements.lock
SERVE_LOCK := requirements-serve.lock
TEST_LOCK := requirements-test.lock
LOCK_UPGRADE ?=
# pytest-xdist workers, one test file each: the tests wait on sockets, subprocesses and
# timers much of the time, so more workers than these two cores share them well. Each
# worker is its own process, under 2 GB: four for the whole suite, where each loads
# the model; six for the fast tier, which never does (on 2 cores: 60 s on three
# workers, 67 s on four, 50 s on six).
WORKERS ?= 4
FAST_WORKERS ?= 6
PYTEST := $(BIN)/python -m pytest --dist loadfile
PIP_COMPILE := pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--all-build-deps --no-emit-index-url --no-emit-find-links $(LOCK_UPGRADE)

.PHONY: demo test test-fast lint venv bench-peers lock train-reader train-reranker

venv: $(BIN)/python

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

demo:
	PYTHON=$(PYTHON) deploy/install.sh build $(VENV)
	$(BIN)/articlebot ask "$(QUESTION)"

# The serving and the full install, made afresh as the Dockerfile makes them (the
# serving one from the project's wheel); the tests run the image's two stages on
# them (tests/test_serving_install.py). The full install (about a minute and a half,
# one core) runs beside the test install and the serving one; its output is shown
# when it ends, and either failing fails the target.
test:
	rm -rf $(SERVE_VENV) $(BUILD_VENV) build/wheel
	mkdir -p build
	PYTHON=$(PYTHON) deploy/install.sh build $(BUILD_VENV) > build/full-install.log 2>&1 & \
	full=$$!; \
	PYTHON=$(PYTHON) deploy/install.sh test $(VENV) \
		&& deploy/install.sh wheel $(VENV) build/wheel \
		&& PYTHON=$(PYTHON) deploy/install.sh serve $(SERVE_VENV) build/wheel/articlebot-*.whl; \
	installed=$$?; \
	wait $$full; built=$$?; \
	cat build/full-install.log; \
	test $$installed -eq 0 && test $$built -eq 0
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	ARTICLEBOT_HYPOTHESIS=thorough ARTICLEBOT_SERVE_VENV=$(SERVE_VENV) \
		ARTICLEBOT_BUILD_VENV=$(BUILD_VENV) $(PYTEST) -n $(WORKERS)

# The fast tier: everything that does not need the real model (about a minute).
test-fast:
	PYTHON=$(PYTHON) deploy/install.sh test $(VENV)
	$(PYTEST) -n $(FAST_WORKERS) -m "not model"

lint: venv
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

lock:
	$(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet pip-tools==7.6.2
	PATH=.venv-lock/bin:$$PATH $(PIP_COMPILE) --output-file $(SERVE_LOCK) pyproject.toml
	PATH=.venv-lock/bin:$$PATH $(PIP_COMPILE) --extra build --output-file $(LOCK) pyproject.toml
	PATH=.venv-lock/bin:$$PATH $(PIP_COMPILE) --extra build --extra test --extra bench --extra milvus \
		--output-file $(TEST_LOCK) pyproject.toml

bench-peers:
	PYTHON=$(PYTHON) deploy/install.sh test $(VENV)
	$(PYTHON) -m venv .venv-peers
	.venv-peers/bin/python -m pip install --quiet $(TORCH)
	.venv-peers/bin/python -m pip install --quiet -r bench/peers/requirements.txt

SHARED ?= ../shared

# The shipped reranker, rebuilt from nothing with a fixed seed: an index of the
# training articles, the evidence's best six sentences for each of their questions
# (it reads five when answering), each read after its article's title and, when it
# points back, the sentence before it; two epochs of listwise training of the shipped
# encoder as a cross-encoder on folds 1-4 of the training articles, then its figures
# on fold 0, which chose the epochs; the int8 ONNX export, written over
# bot/answer/reranker/ (its MODEL_CARD.md stays; update its figures with
# bench/reranker.py). About 70 minutes on 2 cores.
RERANK_WORK ?= build/rerank
train-reranker:
	PYTHON=$(PYTHON) deploy/install.sh build $(VENV)
	$(BIN)/python -m training.rerank bot/answer/reranker --shared $(SHARED) \
		--work-dir $(RERANK_WORK) --epochs 2 --valid-fold 0

# The sentence reader, rebuilt from nothing with fixed seeds: training pairs from
# the training articles only, one epoch of fine-tuning the shipped encoder, the
# int8 ONNX export and the weighing with its threshold, into $(READER_WORK)/model:
# set reader_dir to that folder to answer with it (bench/README.md, "Answer quality
# III", says what each step gave and why it is not the default).
READER_WORK ?= build/reader
READER_DIR := $(READER_WORK)/model
train-reader:
	PYTHON=$(PYTHON) deploy/install.sh build $(VENV)
	mkdir -p $(READER_WORK)
	$(BIN)/python -m training.data $(READER_WORK)/pairs.jsonl --shared $(SHARED)
	$(BIN)/python -m training.encoder $(READER_WORK)/pairs.jsonl $(READER_WORK)/encoder
	$(BIN)/python -m training.export $(READER_WORK)/encoder $(READER_DIR)
	$(BIN)/python -m training.weighing $(READER_DIR) --shared $(SHARED) \
		--work-dir $(READER_WORK)/weighing
