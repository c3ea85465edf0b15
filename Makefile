# The two set-up commands are `make run` and `make test`; everything else here serves them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench migration clean

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

test: $(STAMP) lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python bench/book.py

# Until the first release the schema is one migration, rewritten from the models.
migration: $(STAMP)
	$(BIN)/python tools/regenerate_migration.py
	$(BIN)/ruff format --quiet src/orderbridge/migrations

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
