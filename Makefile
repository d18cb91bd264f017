# The two commands of the README: `make run` and `make test`. Both work from a fresh clone
# on a machine with only Python 3.11+ and make.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test setup catalogs migrate demo messages clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when requirements.txt changes.
$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

setup: $(VENV)/.installed catalogs

# Compiled translation catalogs are build products, not sources.
catalogs: $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -d translations

migrate: setup
	$(FLASK) db upgrade

demo: migrate
	$(FLASK) demo load --if-empty

# One gunicorn worker with the scheduler in-process: the one-machine demo. Production runs
# `flask scheduler run` as its own process (README, Deployment).
run: demo
	@echo "科技金融服务平台: http://$(HOST):$(PORT)  (demo logins in README.md)"
	SCHEDULER_IN_PROCESS=1 $(BIN)/gunicorn --workers 1 --threads 4 --bind $(HOST):$(PORT) \
		--access-logfile - wsgi:app

# The whole suite on SQLite, then again on PostgreSQL when TEST_DATABASE_URL is set.
test: setup
	env -u TEST_DATABASE_URL $(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)
	@if [ -n "$$TEST_DATABASE_URL" ]; then \
		echo "== PostgreSQL: $$TEST_DATABASE_URL =="; \
		$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS); \
	fi

# One benchmark, e.g. `make bench NAME=pdf` or `make bench NAME=reconciliation ARGS="--database-url ..."`.
# bench/requirements.txt holds what only the benchmarks compare against (never needed to run the product).
$(VENV)/.bench-installed: bench/requirements.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r bench/requirements.txt
	touch $@

bench: setup $(VENV)/.bench-installed
	@test -n "$(NAME)" || { echo "usage: make bench NAME=<script in bench/> [ARGS=...]"; exit 2; }
	$(BIN)/python bench/$(NAME).py $(ARGS)

# Re-extract translatable strings after changing the interface, then translate translations/en.
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -o translations/messages.pot --sort-by-file .
	$(BIN)/pybabel update -i translations/messages.pot -d translations

clean:
	rm -rf $(VENV) instance/*.db
