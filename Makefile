# Liveroom: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app liveroom
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test setup db lint format clean

$(BIN)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(BIN)/.installed node_modules/.installed

db: setup
	$(FLASK) init-db
	$(FLASK) demo

run: db
	@echo "Liveroom is at http://$(HOST):$(PORT)/"
	$(BIN)/gunicorn --bind $(HOST):$(PORT) wsgi:app

test: setup
	scripts/ensure-chromium
	scripts/ensure-redis
	scripts/ensure-postgres
	scripts/ensure-coturn
	scripts/ensure-janus
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check liveroom tests scripts bench
	$(BIN)/ruff format --check liveroom tests scripts bench

format: setup
	$(BIN)/ruff format liveroom tests scripts bench

clean:
	rm -rf $(VENV) node_modules .pytest_cache
