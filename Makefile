# Two commands matter on a fresh machine: `make demo` (a real tuning job, offline) and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION := 1

.PHONY: setup layers demo test test-fast soak synth deploy lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e ".[test]"
	touch $@

# Lambda layers for Linux/Python 3.12, built without Docker (cached by a stamp file).
layers: setup
	$(PY) layers/build.py

# The main job: the XGBoost example, 20 training jobs, through the real stack inside moto.
demo: setup layers
	$(VENV)/bin/tuner local examples/xgboost/tuning-job.json --output-dir out/demo

# CI (.ci/run) runs this: the lint first (a finding fails the run), then the tests.
test: setup layers lint
	$(PY) -m pytest -q -m "not slow"

test-fast: setup
	$(PY) -m pytest -q tests/unit

# The full soak (tests/e2e/test_soak.py, marked slow): 30 tuning jobs, 3 at a time, mixed strategies,
# zero internal errors; TUNER_SOAK_JOBS / TUNER_SOAK_CONCURRENCY change the size. `make test` runs a short one.
soak: setup layers
	$(PY) -m pytest -q -m slow tests/e2e/test_soak.py

synth: setup layers
	npx -y aws-cdk@2 synth --no-notices -c tuner:allowSageMakerNamedRoles=true > /dev/null && echo "synth OK (cdk.out/)"

deploy: setup layers
	npx -y aws-cdk@2 deploy --no-notices

# ruff, then mypy (files and strictness: [tool.mypy] in pyproject.toml; cache in .mypy_cache).
# Both always run; a finding of either fails the target.
lint: setup
	status=0; \
	$(VENV)/bin/ruff check . || status=1; \
	$(VENV)/bin/mypy || status=1; \
	exit $$status

clean:
	rm -rf build cdk.out out .pytest_cache .mypy_cache .ruff_cache
