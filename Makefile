# modern-ml-pipeline. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Stage commands run `python -m mmp.pipeline.stages.*`: put the venv first so they find it.
export PATH := $(abspath $(BIN)):$(PATH)

.DEFAULT_GOAL := help
# The day `make daily` runs: today in UTC unless DATE=YYYY-MM-DD says otherwise.
DATE ?= $(shell date -u +%F)

.PHONY: help setup run daily test test-fast test-cli params check-params refresh guards report pull push remote pin-remote bench lint layers typecheck format clean mlflow-server

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

setup: $(STAMP) pin-remote ## create .venv and install the locked dependencies (skipped when up to date)
	@test -d .git/hooks && $(BIN)/pre-commit install --install-hooks >/dev/null 2>&1 || true

run: setup ## set up (once) and reproduce the default pipeline with `dvc exp run`
	$(BIN)/dvc exp run

refresh: setup ## rerun every stage on fresh source data, even when DVC sees no change (daily workflow)
	$(BIN)/dvc exp run --force

daily: setup ## one day of the model's life: `mmp daily --date DATE` (default today, UTC); exit 1 on an alert
	$(BIN)/mmp daily --date $(DATE)

# A worker that dies (a crash in a test) fails the run at once: with restarts, `--dist loadgroup`
# waits forever for the dead worker's group (tests/ci/test_suite_options.py).
test: setup layers ## set up (once), check the import layers and run the whole test suite
	$(BIN)/python -m pytest -n 2 --dist loadgroup --max-worker-restart=0

test-fast: setup ## the unit tier: unit, config and in-process tests (no pipeline runs, no CLI processes)
	$(BIN)/python -m pytest -m "not slow and not integration and not cli"

test-cli: setup ## tests that run the `mmp` command in a subprocess
	$(BIN)/python -m pytest -m cli

params: setup ## recompose params.yaml from conf/ (plain `dvc repro` does not)
	$(BIN)/mmp params

check-params: setup ## fail if params.yaml is stale against conf/
	$(BIN)/mmp params --check

guards: setup ## CI guards: stale params.yaml, stale dvc.lock, large files in git
	$(BIN)/mmp guards

BASE ?= HEAD
report: setup ## report the workspace against BASE (default HEAD) into report/ (CI: BASE=origin/main)
	$(BIN)/mmp report --base $(BASE)

pull: setup pin-remote ## fetch data and models from the DVC remote; missing objects (a cold cache) are not an error
	$(BIN)/dvc pull --allow-missing

push: setup pin-remote ## upload data and models to the DVC remote
	$(BIN)/dvc push

# Commits made before the default remote moved to ~/.local/share name it `../.dvc-remote`, which
# DVC resolves inside each clone, and against / for a commit read from git (`dvc push -a`, -A, -T).
# .dvc/config.local applies to every revision: pin remote `local` there to the committed URL.
pin-remote: ## pin the default remote `local` for every revision (.dvc/config.local; run by setup, pull, push)
	@url="$$($(BIN)/dvc config --project remote.local.url 2>/dev/null)" || exit 0; $(BIN)/dvc remote modify --local local url "$$url"

remote: setup ## make the URL in env DVC_REMOTE_URL the default DVC remote, in .dvc/config.local (not committed)
	@test -n "$$DVC_REMOTE_URL" || { echo "error: DVC_REMOTE_URL is not set (e.g. s3://bucket/path or ssh://user@host/path)" >&2; exit 2; }
	$(BIN)/dvc remote add --local --force --default team "$$DVC_REMOTE_URL"

bench: setup ## run the benchmarks; JSON results go to benchmarks/results/
	$(BIN)/python -m benchmarks

# PostgreSQL database of the tracking server (create it once: createdb -h 127.0.0.1 -U postgres mlflow).
MLFLOW_BACKEND ?= postgresql+psycopg2://postgres@127.0.0.1:5432/mlflow
MLFLOW_PORT ?= 5000

mlflow-server: setup ## MLflow server on 127.0.0.1:5000 (MLFLOW_PORT), PostgreSQL backend (MLFLOW_BACKEND), local artifacts
	$(BIN)/mlflow server --backend-store-uri $(MLFLOW_BACKEND) --artifacts-destination $(abspath mlartifacts/server) --host 127.0.0.1 --port $(MLFLOW_PORT)

lint: setup layers typecheck ## ruff lint and format check, the import layers and the type check
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

layers: setup ## the import-linter contract: the package's layers and no import cycles (pyproject.toml)
	$(BIN)/lint-imports

typecheck: setup ## mypy on src/ (settings in pyproject.toml)
	$(BIN)/mypy

format: setup ## format the code (ruff format) and apply ruff's safe fixes
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

clean: ## remove caches (not .venv, not DVC outputs)
	rm -rf .pytest_cache .ruff_cache .mypy_cache .import_linter_cache report
	find . -name __pycache__ -prune -exec rm -rf {} +
