# The two commands: `make run` serves, `make test` tests; `make demo` shows the service at work.
# See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ARGS ?=
# The first pass leaves slow tests to CI's PostgreSQL pass; MARK="" runs everything.
MARK ?= not slow
WORKERS ?= auto

.PHONY: run demo test coverage lint format install install-dev system-deps clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt | $(PY)
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(PY)
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	bin/run

# Its own database (var/demo.sqlite3) and the simulated platform; docs/demo.md.
demo: install
	bin/demo

# Chromium (browser tests) and Prometheus/promtool (exposition tests) from Debian, when root.
system-deps:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v victoria-metrics >/dev/null || missing="$$missing victoria-metrics"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing$$missing"; \
	    (apt-get install -y -q $$missing >/dev/null 2>&1 || (apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing >/dev/null)); \
	  else echo "missing$$missing: install with apt-get install$$missing (tests needing them will say so)"; fi; \
	fi

test: install-dev system-deps
	$(PY) -m pytest -n $(WORKERS) -m "$(MARK)" $(ARGS); status=$$?; [ $$status -eq 5 ] && echo "no tests collected" && exit 1; exit $$status

coverage: install-dev system-deps
	$(PY) -m pytest -n $(WORKERS) --cov --cov-report=term-missing:skip-covered $(ARGS)

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	DEBUG=true $(VENV)/bin/mypy .

format: install-dev
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

clean:
	rm -rf $(VENV) var/staticfiles .pytest_cache
