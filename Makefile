# Liveroom: `make run` serves the demo, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FLASK := $(BIN)/flask --app liveroom
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test test-sqlite test-postgresql test-servers setup db lint format clean messages

# The translations: one catalogue per language, compiled for the app to read.
LOCALES := liveroom/translations
PO_FILES := $(wildcard $(LOCALES)/*/LC_MESSAGES/messages.po)
MO_FILES := $(PO_FILES:.po=.mo)

$(BIN)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(LOCALES)/%/LC_MESSAGES/messages.mo: $(LOCALES)/%/LC_MESSAGES/messages.po $(BIN)/.installed
	$(BIN)/pybabel compile --statistics -d $(LOCALES) -l $*

setup: $(BIN)/.installed node_modules/.installed $(MO_FILES)

# Extract every marked string (babel.cfg) and merge it into each language's catalogue.
messages: $(BIN)/.installed
	$(BIN)/pybabel extract --mapping-file babel.cfg --keywords _l --keywords lazy_gettext \
		--sort-by-file --no-wrap --project Liveroom --copyright-holder "Liveroom" \
		--output-file $(LOCALES)/messages.pot .
	$(BIN)/pybabel update --input-file $(LOCALES)/messages.pot --output-dir $(LOCALES) \
		--no-wrap --ignore-obsolete

db: setup
	$(FLASK) init-db
	$(FLASK) demo

run: db
	@echo "Liveroom is at http://$(HOST):$(PORT)/"
	$(BIN)/gunicorn --bind $(HOST):$(PORT) wsgi:app

# The whole suite twice: on SQLite, then on the real PostgreSQL (a throwaway database
# per test: tests/databases.py), where the browser and media-server tests run too.
test: test-servers
	LIVEROOM_TEST_DATABASE=sqlite $(BIN)/python -m pytest $(PYTEST_ARGS)
	LIVEROOM_TEST_DATABASE=postgresql $(BIN)/python -m pytest $(PYTEST_ARGS)

test-sqlite: test-servers
	LIVEROOM_TEST_DATABASE=sqlite $(BIN)/python -m pytest $(PYTEST_ARGS)

test-postgresql: test-servers
	LIVEROOM_TEST_DATABASE=postgresql $(BIN)/python -m pytest $(PYTEST_ARGS)

# What the tests talk to: Chromium, Redis, PostgreSQL, coturn and Janus.
test-servers: setup
	scripts/ensure-chromium
	scripts/ensure-redis
	scripts/ensure-postgres
	scripts/ensure-coturn
	scripts/ensure-janus
	scripts/ensure-systemd-analyze

lint: setup
	$(BIN)/ruff check liveroom tests scripts bench
	$(BIN)/ruff format --check liveroom tests scripts bench

format: setup
	$(BIN)/ruff format liveroom tests scripts bench

clean:
	rm -rf $(VENV) node_modules .pytest_cache
