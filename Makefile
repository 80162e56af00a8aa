# crawlmap: `make run` (local crawl of the demo site) and `make test` set up what they need.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup run test lint synth deploy bench clean

$(VENV)/.installed: pyproject.toml package.json
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	npm ci --silent --no-audit --no-fund || npm install --silent --no-audit --no-fund
	touch $@

setup: $(VENV)/.installed

run: setup
	$(VENV)/bin/crawlmap demo

test: setup
	$(PY) -m pytest -n 2 -q

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

synth: setup
	npx cdk synth --quiet

deploy: setup
	npx cdk deploy

clean:
	rm -rf $(VENV) cdk.out .build node_modules
