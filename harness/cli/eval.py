"""``xlh eval``: evaluate a model (or each model of a study without complete results) and print a summary."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.cli.common import cache_path, csv_list, default_data_dir
from harness.errors import XlhError
from harness.records.comparability import LIMIT_MODES
from harness.seeds import DEFAULT_SEED

if TYPE_CHECKING:  # imported where used: `xlh --help` stays fast
    from harness.analysis.study import Study, StudyEval
    from harness.api.task import Task
    from harness.distributed.pool import WorkerPool
    from harness.records.io import StoredRun
    from harness.run.config import RunConfig

HELP = "evaluate a model on tasks and languages"


def add_arguments(ev: argparse.ArgumentParser) -> None:
    ev.add_argument(
        "--model", default=None, help="HF model folder, Hub id (org/name) or a short name: gemma-3-270m, smollm2-135m"
    )
    ev.add_argument(
        "--study",
        default=None,
        help="a study file (studies/x.yaml): evaluate each of its models without complete results in --out",
    )
    ev.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit)")
    ev.add_argument("--tasks", default=None, help="comma-separated task[:variant][@split] (default: all)")
    ev.add_argument("--langs", default=None, help="comma-separated languages: dataset codes (de) or FLORES (deu_Latn)")
    ev.add_argument("--limit", type=int, default=None, help="examples per language (default: all)")
    ev.add_argument(
        "--limit-mode",
        choices=LIMIT_MODES,
        default=None,
        help="which LIMIT items: a seeded sample keeping every class, the same in every language and model "
        "(sample, default), or the first N of the file as lm-eval does (first)",
    )
    ev.add_argument("--limit-seed", type=int, default=None, help=f"seed of the LIMIT sample (default {DEFAULT_SEED})")
    # None: the study's value with --study, else 0 shots and DEFAULT_SEED.
    ev.add_argument("--shots", type=int, default=None, help="solved examples shown before each prompt (default 0)")
    ev.add_argument("--shot-seed", type=int, default=None, help=f"seed of the few-shot draw (default {DEFAULT_SEED})")
    ev.add_argument(
        "--shots-from",
        default=None,
        help="language of the shots, e.g. en for English exemplars everywhere (default: the item's own language)",
    )
    ev.add_argument("--backend", default=None, help="hf, vllm or openai (default: vllm with vLLM and a GPU, else hf)")
    ev.add_argument("--chat", action="store_true", help="apply the model's chat template (recorded with its sha256)")
    ev.add_argument("--base-url", default=None, help="openai backend: server URL, e.g. http://127.0.0.1:8000/v1")
    ev.add_argument(
        "--served-model",
        default=None,
        help="openai backend: model name on the server (default: the one whose id or root folder is MODEL)",
    )
    ev.add_argument("--max-model-len", type=int, default=None, help="vllm: context length (default: the model's)")
    ev.add_argument("--gpu-memory-utilization", type=float, default=0.9)
    ev.add_argument("--tensor-parallel-size", type=int, default=1)
    ev.add_argument("--no-prefix-caching", action="store_true")
    ev.add_argument("--enforce-eager", action="store_true", help="vllm: no CUDA graphs/compilation (faster start-up)")
    ev.add_argument("--kv-cache-gib", type=float, default=None, help="vllm: KV cache size (default on CPU: 1 GiB)")
    ev.add_argument("--block-size", type=int, default=None, help="vllm: tokens a KV block (default on CPU: 32)")
    ev.add_argument("--lora", default=None, help="vllm: a PEFT LoRA adapter folder")
    ev.add_argument("--trust-remote-code", action="store_true")
    ev.add_argument(
        "--score-mode",
        choices=("shared_context", "full"),
        default="shared_context",
        help="choice scoring: each shared context once (default) or every context+continuation in full",
    )
    ev.add_argument(
        "--attn-implementation",
        default=None,
        help="hf: attention kernels (eager, sdpa, flash_attention_2, ...; default: transformers' choice; recorded)",
    )
    ev.add_argument("--concurrency", type=int, default=16, help="openai: requests in flight")
    ev.add_argument(
        "--data-dir",
        default=default_data_dir(),
        help="local data folder (default: ../shared/data if present, else the Hub)",
    )
    ev.add_argument(
        "--hub", action="store_true", help="load datasets from the Hugging Face Hub even if a data folder exists"
    )
    ev.add_argument("--out", default="results", help="results folder")
    ev.add_argument("--device", default="auto")
    ev.add_argument(
        "--dtype", default="auto", help="auto (float32 on CPU, bfloat16 on GPU), float32, bfloat16, float16"
    )
    ev.add_argument("--batch-size", type=int, default=16)
    ev.add_argument(
        "--max-batch-tokens",
        type=int,
        default=None,
        help="hf: padded tokens per forward pass at most (default: 1024 on CPU, no limit on GPU)",
    )
    ev.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ev.add_argument("--temperature", type=float, default=0.0, help="0 = greedy (default)")
    ev.add_argument("--role", choices=("base", "expert", "merged"), default=None)
    ev.add_argument("--parents", default=None, help="comma-separated parent models of a merged model")
    ev.add_argument("--name", default=None, help="the model's name in tables (default: its folder name)")
    ev.add_argument("--recipe", default=None, help="how a merged model was made, as text (hashed into the results)")
    ev.add_argument("--recipe-file", default=None, help="how a merged model was made, as a file (its SHA-256 is kept)")
    ev.add_argument("--full-fingerprint", action="store_true", help="hash every byte of the weights")
    ev.add_argument(
        "--cache",
        default=None,
        help="response store (SQLite) file, or off (default: $XLH_CACHE_DIR/responses.sqlite or ~/.cache/xlh/...)",
    )
    ev.add_argument("--no-progress", action="store_true")
    ev.add_argument(
        "--workers",
        type=int,
        default=None,
        help="answer on N long-lived Ray workers, each holding one engine (needs xlh[ray]; default: no workers, "
        "or one per GPU of the cluster given by --ray-address)",
    )
    ev.add_argument(
        "--ray-address",
        default=None,
        help="an existing Ray cluster (ray://... or HOST:PORT; RAY_ADDRESS=... in make) to run the workers on "
        "(default: a private Ray instance on this machine)",
    )
    ev.add_argument(
        "--gpus-per-worker",
        type=float,
        default=None,
        help="GPUs each worker holds (default: --tensor-parallel-size when the cluster has GPUs, else 0)",
    )
    ev.add_argument(
        "--cpus-per-worker",
        type=float,
        default=None,
        help="CPUs each worker holds (default: this machine's CPUs shared out, or 1 on a cluster)",
    )


def run(args: argparse.Namespace) -> int:
    from harness.analysis.study import StudyEval
    from harness.records.schema import Recipe
    from harness.run.sampling import DEFAULT_LIMIT_MODE, DEFAULT_LIMIT_SEED

    if args.study:
        return _eval_study(args)
    if not args.model:
        raise XlhError("give --model (a folder, Hub id or short name) or --study studies/x.yaml")
    if args.recipe and args.recipe_file:
        raise XlhError("give --recipe (text) or --recipe-file (a file), not both")
    recipe = Recipe.from_text(args.recipe) if args.recipe else None
    if args.recipe_file:
        if not Path(args.recipe_file).is_file():
            raise XlhError(f"--recipe-file {args.recipe_file}: file not found")
        recipe = Recipe.from_file(Path(args.recipe_file))
    selection = StudyEval(
        tasks=csv_list(args.tasks),
        langs=csv_list(args.langs),
        limit=args.limit,
        limit_mode=args.limit_mode or DEFAULT_LIMIT_MODE,
        limit_seed=DEFAULT_LIMIT_SEED if args.limit_seed is None else args.limit_seed,
        shots=args.shots or 0,
        shots_from=args.shots_from or None,
        shot_seed=DEFAULT_SEED if args.shot_seed is None else args.shot_seed,
    )
    config = _run_config(args, _model_folder(args.model), selection)
    config = dataclasses.replace(config, display_name=args.name, recipe=recipe)
    with _worker_pool(args) as pool:
        _report(config, _run(config, pool))
    return 0


def _eval_study(args: argparse.Namespace) -> int:
    """Evaluate each model of a study that has no complete results in --out (the study's selection, with any
    of --tasks/--langs/--limit/--limit-mode/--limit-seed/--shots/--shots-from/--shot-seed given on the command
    line instead)."""
    from harness.analysis.study import StudyEval, load_study
    from harness.analysis.study_runs import missing_results
    from harness.backends import GenerationParams

    given = [flag for flag in ("model", "name", "role", "parents", "recipe", "recipe_file") if getattr(args, flag)]
    if given:
        flags = ", ".join("--" + flag.replace("_", "-") for flag in given)
        raise XlhError(f"--study names its models, roles, parents and recipes: leave out {flags}")
    study = load_study(Path(args.study))
    defaults = study.eval
    selection = StudyEval(
        tasks=csv_list(args.tasks) or defaults.tasks,
        langs=csv_list(args.langs) or defaults.langs,
        limit=defaults.limit if args.limit is None else args.limit,
        limit_mode=args.limit_mode or defaults.limit_mode,
        limit_seed=defaults.limit_seed if args.limit_seed is None else args.limit_seed,
        shots=defaults.shots if args.shots is None else args.shots,
        shots_from=args.shots_from or defaults.shots_from,
        shot_seed=defaults.shot_seed if args.shot_seed is None else args.shot_seed,
    )
    data_dir = None if args.hub or not args.data_dir else Path(args.data_dir)
    generation = GenerationParams(temperature=args.temperature, seed=args.seed)
    _build_merges(study)  # before the completeness check: a rebuilt merge is a new model
    todo = missing_results(study, Path(args.out), selection, data_dir=data_dir, generation=generation)
    print(f"study {study.name}: {len(study.models) - len(todo)} of {len(study.models)} models have complete "
          f"results in {args.out}; evaluating {', '.join(m.name for m in todo) or 'none'}")  # fmt: skip
    configs = [
        dataclasses.replace(
            _run_config(args, _model_folder(model.model), selection),
            revision=model.revision or args.revision,
            role=model.role,
            parents=model.parents,
            display_name=model.name,
            study=study.name,
            recipe=model.recipe,
        )
        for model in todo
    ]
    with _worker_pool(args, needed=bool(configs)) as pool:
        if pool is None:
            for config in configs:
                _report(config, _run(config, None))
        else:  # several models at once, one per worker (harness/distributed/study.py)
            from harness.distributed.study import run_concurrently

            run_concurrently(configs, pool, lambda config: (config, _run(config, pool)), lambda done: _report(*done))
    return 0


def _build_merges(study: Study) -> None:
    """Build every merged model of the study that its recipe builds and that is missing or stale."""
    from harness.merge.build import ensure_merge
    from harness.merge.recipe import read_recipe

    folders = {model.name: _model_folder(model.model) for model in study.models}
    for model in study.models:
        if model.merge is not None:
            ensure_merge(read_recipe(Path(model.merge)), Path(folders[model.name]), model.merge, folders)


def _run_config(args: argparse.Namespace, model: str, selection: StudyEval) -> RunConfig:
    from harness.api.registry import default_task_names
    from harness.backends import GenerationParams
    from harness.run.config import RunConfig

    data_dir = None if args.hub or not args.data_dir else Path(args.data_dir)
    tasks = selection.tasks or default_task_names()
    backend, options = _backend_options(args, _selected_tasks(tasks))
    return RunConfig(
        model=model,
        tasks=tasks,
        languages=selection.langs,
        limit=selection.limit,
        limit_mode=selection.limit_mode,
        limit_seed=selection.limit_seed,
        backend=backend,
        data_dir=data_dir,
        out_dir=Path(args.out),
        revision=args.revision,
        generation=GenerationParams(temperature=args.temperature, seed=args.seed),
        backend_options=options,
        role=args.role,
        parents=csv_list(args.parents) or (),
        full_fingerprint=args.full_fingerprint,
        command=tuple(sys.argv),
        shots=selection.shots,
        shot_seed=selection.shot_seed,
        shots_from=selection.shots_from,
        cache=cache_path(args.cache),
    )


def _run(config: RunConfig, pool: WorkerPool | None) -> StoredRun:
    from harness.run.runner import run as run_eval

    return run_eval(config, pool=pool)


def _report(config: RunConfig, stored: StoredRun) -> None:
    from harness.render.run_summary import print_summary, workers_line

    print_summary(stored.result)
    timings = stored.result.timings
    where = f" (store: {config.cache})" if config.cache else " (cache off)"
    cached, computed = timings["requests_from_cache"], timings["requests_computed"]
    print(f"answers: {cached:.0f} from the cache, {computed:.0f} computed{where}")
    if "workers" in timings:
        print(workers_line(timings))
    _print_health(stored)
    print(f"results: {stored.folder}")


def _print_health(stored: StoredRun) -> None:
    """Output health of the run's generative tasks, in a line each (``xlh health RUN`` for the table)."""
    from harness.analysis.health import health_plugin, health_report
    from harness.render.health import summary_lines

    if not any(health_plugin(task.name) is not None for task in stored.result.tasks):
        return
    try:
        report = health_report([stored.folder])
    except Exception as error:  # noqa: BLE001 -- the results are written: a summary that fails must not fail the run
        print(
            f"xlh: warning: no output health summary ({type(error).__name__}: {error}); "
            f"`xlh health {stored.folder}` computes it again",
            file=sys.stderr,
        )
        return
    print(f"output health (xlh health {stored.folder} for every language):")
    for line in summary_lines(report):
        print(f"  {line}")


@contextlib.contextmanager
def _worker_pool(args: argparse.Namespace, needed: bool = True) -> Iterator[WorkerPool | None]:
    """The pool of Ray workers asked for (``--workers``/``--ray-address``), stopped afterwards; else None (also
    when nothing will run)."""
    address = args.ray_address or (os.environ.get("RAY_ADDRESS") if args.workers else None)
    if not needed or (not args.workers and not address):
        yield None
        return
    from harness.distributed.pool import PoolSettings, WorkerPool

    pool = WorkerPool(
        PoolSettings(
            workers=args.workers,
            address=address,
            cpus_per_worker=args.cpus_per_worker,
            gpus_per_worker=args.gpus_per_worker,
            gpus_per_engine=args.tensor_parallel_size if (args.backend or "") == "vllm" else 1,
            progress=not args.no_progress,
        )
    )
    pool.start()  # the workers' processes boot while the run loads its data
    try:
        yield pool
    finally:
        pool.shutdown()


def _selected_tasks(tasks: tuple[str, ...]) -> list[Task[Any]]:
    from harness.run.config import TaskSelection

    return [TaskSelection.parse(spec).task for spec in tasks]


def _backend_options(args: argparse.Namespace, tasks: Sequence[Task[Any]]) -> tuple[str, dict[str, object]]:
    """The backend's name and the options that backend takes (each backend has its own knobs). Without
    ``--backend``, a run with a task that reads hidden states (alignment) takes the one backend that returns
    them; a vLLM engine starts for scoring only (no tokenizer of its own, smaller steps on CPU) unless a task
    generates."""
    from harness.backends import default_backend

    hidden_states = any(task.reads_hidden_states for task in tasks)
    name = args.backend or ("hf" if hidden_states else default_backend())
    base = {"progress": not args.no_progress, "trust_remote_code": args.trust_remote_code}
    if name in ("hf", "transformers"):
        if args.chat:
            raise XlhError("--chat needs --backend vllm or openai")
        return name, {
            **base,
            "device": args.device,
            "dtype": args.dtype,
            "batch_size": args.batch_size,
            "max_batch_tokens": args.max_batch_tokens,
            "score_mode": args.score_mode,
            "attn_implementation": args.attn_implementation,
        }
    if name == "vllm":
        return name, {
            **base,
            "chat": args.chat,
            "dtype": args.dtype,
            "max_model_len": args.max_model_len,
            "gpu_memory_utilization": args.gpu_memory_utilization,
            "tensor_parallel_size": args.tensor_parallel_size,
            "enable_prefix_caching": not args.no_prefix_caching,
            "enforce_eager": args.enforce_eager,
            "kv_cache_gib": args.kv_cache_gib,
            "block_size": args.block_size,
            "generates": any(task.generates for task in tasks),
            "lora_path": args.lora,
            "score_mode": args.score_mode,
        }
    if name == "openai":
        if not args.base_url:
            raise XlhError("--backend openai needs --base-url (BASE_URL=http://HOST:PORT/v1)")
        return name, {
            **base,
            "chat": args.chat,
            "base_url": args.base_url,
            "served_model": args.served_model,
            "concurrency": args.concurrency,
        }
    return name, base  # an unknown name: create_backend lists the valid ones


def _model_folder(model: str) -> str:
    """A known short name resolves to its folder, built first when missing; anything else as given."""
    from harness.run import model_store

    resolved = model_store.resolve(model)
    if model in model_store.KNOWN_MODELS and not Path(resolved).is_dir():
        print(f"xlh: {model} is not built yet; building it (once) into {resolved}", file=sys.stderr)
        model_store.build_model(model, Path(resolved).parent, say=lambda line: print(line, file=sys.stderr))
    return resolved
