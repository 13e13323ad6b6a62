# Two entry points for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint install bench-install browser pgbouncer font clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# locust, for bench/peak_season.py (not needed by the app or the tests).
bench-install: $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,bench]'

demo: $(STAMP) font
	$(VENV)/bin/sirefund demo

# The CJK font the PDF receipts embed (Debian's fonts-wqy-microhei).
font:
	bash scripts/ensure-font.sh

browser:
	bash scripts/ensure-browser.sh

# Debian's pgbouncer, for the test of the app through a pooler in transaction mode.
pgbouncer:
	bash scripts/ensure-pgbouncer.sh

test: $(STAMP) browser pgbouncer
	$(PY) -m pytest $(PYTEST_ARGS)

# The gate .ci/run passes before the tests: lint rules, formatting, strict types.
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench migrations
	$(VENV)/bin/ruff format --check src tests bench migrations
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) var
