# The two set-up commands are `make run` and `make test`; everything else here serves them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench migration clean chromium

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/orderbridge db upgrade
	$(BIN)/orderbridge run

lint: $(STAMP)
	$(BIN)/ruff check src tests bench tools
	$(BIN)/ruff format --check src tests bench tools
	$(BIN)/mypy src

test: $(STAMP) lint chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The browser tests drive Debian's chromium headless (Playwright with its executable path: no browser
# download). Installed here when missing; with CI=true the browser tests fail without it.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi; }

# Benchmarks print figures and never run inside `make test`; the whole set takes tens of minutes.
bench: $(STAMP)
	$(BIN)/python bench/book.py
	$(BIN)/python bench/sandbox.py
	$(BIN)/python bench/orders.py
	$(BIN)/python bench/privacy.py --orders 100000
	$(BIN)/python bench/outbound.py
	$(BIN)/python bench/web.py
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/reports.py --rows 1000000

# Until the first release the schema is one migration, rewritten from the models.
migration: $(STAMP)
	$(BIN)/python tools/regenerate_migration.py
	$(BIN)/ruff format --quiet src/orderbridge/migrations

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
