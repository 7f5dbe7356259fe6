# Two commands on a fresh machine: `make demo` (the main job on DuckDB + the bundled simulator) and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint benchmark clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "doraflow needs Python 3.11, found " + sys.version.split()[0] + " (set PYTHON=/path/to/python3.11)")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e . --config-settings editable_mode=compat
	$(BIN)/pip check
	touch $@

demo: install
	$(BIN)/doraflow demo

test: install
	bash scripts/test_services.sh
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Every benchmark on one simulated organisation, ratios in one table (docs/benchmarks.md); sizes as options:
# make benchmark ARGS="--repos 40 --days 180 --repeat 3"
benchmark: install
	$(BIN)/python benchmarks/run_all.py $(ARGS)

clean:
	rm -rf $(VENV) warehouse dbt_project/target dbt_project/logs
