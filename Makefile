# crawlmap: `make run` (a local crawl of the demo site) and `make test` set up what they need.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
ARCH ?= arm64
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: setup browser run test lint check format synth deploy bench asl clean

# Python tools and runtime in .venv, the CDK CLI and asl-validator in node_modules, and the
# Lambda wheels for $(ARCH) in .build/ so that `make synth` needs no network afterwards.
$(VENV)/.installed: pyproject.toml package.json package-lock.json lambdas/requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	npm ci --no-audit --no-fund --loglevel=error
	$(PY) -m stacks.bundling download --arch $(ARCH)
	touch $@

setup: $(VENV)/.installed

# Headless Chromium for the report's browser test (Debian's package; needs root or sudo).
browser:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

run: setup
	$(VENV)/bin/crawlmap demo

test: setup
	$(PY) -m pytest -n 2 -q

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# What CI runs (after make browser): lint, types and the tests.
check: lint test

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

asl: setup
	asl-validator --json-path statemachine/crawl.asl.json

synth: setup
	cdk synth --quiet

deploy: setup
	cdk deploy

bench: setup
	$(PY) -m pip install --quiet -e '.[bench]'
	@echo "see bench/README.md for each benchmark's command"

clean:
	rm -rf $(VENV) cdk.out .build node_modules
