# mmcs: the two commands are `make demo` and `make test`; both set everything up first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV    := .venv
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.mmcs-installed
# Apache Airflow 2.x cannot share .venv (see requirements-airflow.lock); the Airflow DAG is
# parsed and run in its own environment.
AIRFLOW_VENV  := .venv-airflow
AIRFLOW_STAMP := $(AIRFLOW_VENV)/.mmcs-installed
IMAGE   := mmcs-pipeline:$(shell sed -n 's/^ *version="\(.*\)",/\1/p' setup.py)
DEBS    := espeak-ng sox libsox-fmt-all fonts-dejavu-core chromium ffmpeg
RUNS    := runs
SAMPLE  := corpus/sample
SHARED  := ../shared/data

# Python 3.10 is the only interpreter the TFX 1.16 set installs on (docs/ENVIRONMENT notes).
PYTHON310 := $(shell for p in python3.10 /root/.pyenv/versions/3.10*/bin/python3.10 /usr/local/bin/python3.10 /usr/bin/python3.10; do \
	  "$$p" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1 && { echo "$$p"; break; }; done)

.PHONY: help setup debs demo test lint format sample bench-ingest bench-rerun bench-serving bench-mix-cost bench-quality bench-text bench-finetune bench-train-throughput clean \
	airflow-venv image

help:
	@echo "make demo    set up, run the pipeline on the embedded sample, show results"
	@echo "make test    set up, run ruff and the whole test suite"
	@echo "make sample  regenerate the embedded sample corpus ($(SAMPLE))"
	@echo "make bench-ingest  ingestion throughput benchmark on the full corpus"
	@echo "make bench-rerun   cached re-run vs first run of the pipeline on the sample"
	@echo "make bench-serving REST serving load benchmark (mmcs serve, batching on/off)"
	@echo "make bench-mix-cost what the typed-text serving mix adds to a model call"
	@echo "make bench-quality model quality benchmark (fused model and ablations)"
	@echo "make bench-text    every BANKING77 test query as typed text (after bench-quality)"
	@echo "make bench-finetune text fine-tuning recipes on typed BANKING77 (FINETUNE_RECIPES=...)"
	@echo "make bench-train-throughput TFX Trainer vs bare Keras loop, alternating runs"

setup: debs $(STAMP)

# Debian packages for speech synthesis (corpus) and rendering fonts; only when root.
debs:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = "0" ]; then \
	    echo "installing Debian packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "warning: missing Debian packages (run as root to install):$$missing"; fi; \
	fi

$(STAMP): requirements.lock setup.py
	@if [ -z "$(PYTHON310)" ]; then echo "error: Python 3.10 not found (TFX 1.16 needs it)"; exit 1; fi
	@[ -x $(PY) ] || $(PYTHON310) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip==24.2 "setuptools==69.5.1" wheel
	# The lock is a complete, resolved set: install it exactly, without re-resolving.
	$(PY) -m pip install -q --no-deps -r requirements.lock
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	@touch $(STAMP)

airflow-venv: $(AIRFLOW_STAMP)

# Layered on .venv: a .pth file adds .venv's packages (mmcs included) behind its own; only
# requirements-airflow.lock (Airflow and the pins it needs to differ) is installed here.
$(AIRFLOW_STAMP): requirements-airflow.lock requirements.lock $(STAMP)
	@[ -x $(AIRFLOW_VENV)/bin/python ] || $(PYTHON310) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -c 'import site, sys; \
	  open(site.getsitepackages()[0] + "/mmcs-base-venv.pth", "w").write( \
	  "import site; site.addsitedir(\"" + sys.argv[1] + "\")\n")' \
	  "$$($(PY) -c 'import site; print(site.getsitepackages()[0])')"
	$(AIRFLOW_VENV)/bin/python -m pip install -q --no-deps --ignore-installed \
	  -r requirements-airflow.lock
	@touch $(AIRFLOW_STAMP)

# The pipeline image the compiled Kubeflow spec names (`mmcs compile kubeflow --image`).
image:
	docker build -t $(IMAGE) .

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: lint airflow-venv
	$(VENV)/bin/pytest -q -ra --durations=15

# Beam in process, as the tests run the sample: for 300 records worker processes cost more
# than they save (4.1 min against 5.1 min here, same outputs), and at exit they print
# TensorFlow's harmless AtomicFunction.__del__ tracebacks. `mmcs run` keeps its workers.
demo: setup
	$(VENV)/bin/mmcs demo --logs $(SAMPLE) --out $(RUNS)/demo \
	  --workers 1 --beam-arg=--direct_running_mode=in_memory

sample: setup
	$(VENV)/bin/mmcs corpus --banking77 $(SHARED)/banking77/train.csv --shared-data $(SHARED) \
	  --out $(SAMPLE) --size 300 --seed 7 --compact

bench-ingest: setup
	$(PY) -m benchmarks.ingest_throughput --shared-data $(SHARED) --out benchmarks/results

# Wall time of a cached re-run of the pipeline on the sample against its first run.
bench-rerun: setup
	$(PY) -m benchmarks.cached_rerun --logs $(SAMPLE) --out benchmarks/results

# Latency and throughput of :predict at 1-32 clients on the newest runs/demo model.
bench-serving: setup
	$(PY) -m benchmarks.serving_load --out benchmarks/results

# The full profile's served model with and without the typed-text mix, same weights, in-process.
bench-mix-cost: setup
	$(PY) -m benchmarks.served_mix_cost --out benchmarks/results

# Hours on a 2-core CPU (four models on the full corpus); see the README.
bench-quality: setup
	$(PY) -m benchmarks.model_quality --shared-data $(SHARED) --out benchmarks/results

# The models bench-quality pushed, on all of test.csv as text turns (the published setting).
bench-text: setup
	$(PY) -m benchmarks.banking77_text --shared-data $(SHARED) --out benchmarks/results

# The TFX Trainer component against the same train() with no orchestrator, alternating
# runs on one 1,000-turn corpus rendered from train.csv (35 min here with the recognizers'
# caches cold for it, 31 min warm).
bench-train-throughput: setup
	$(PY) -m benchmarks.trainer_throughput --shared-data $(SHARED) --out benchmarks/results

# Text fine-tuning recipes on typed BANKING77 queries with this machine's Keras backend.
# The default is the Trainer's recipe on all of train.csv, about 9 min on the 2-core CPU;
# the H200 rounds in benchmarks/results ran the same module on JAX (docs/model.md).
FINETUNE_RECIPES ?= trainer-default-all
bench-finetune: setup
	$(PY) -m benchmarks.text_finetune_bundle --shared-data $(SHARED) --out $(RUNS)/finetune/bundle
	$(PY) -m benchmarks.text_finetune --bundle $(RUNS)/finetune/bundle --out $(RUNS)/finetune \
	  --recipes $(FINETUNE_RECIPES)
	$(PY) -m benchmarks.text_finetune_report --bundle $(RUNS)/finetune/bundle \
	  --runs $(RUNS)/finetune/text_finetune_runs.json --out $(RUNS)/finetune
	@cat $(RUNS)/finetune/text_finetune.md

clean:
	rm -rf $(RUNS) .pytest_cache .ruff_cache
