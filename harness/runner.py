"""One evaluation run: select tasks and languages, load data, ask the backend once per request kind for
every task and language together, score, aggregate, and write the run folder atomically."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import harness
from harness.backends import GenerationParams, create_backend
from harness.backends.base import Backend
from harness.data import sha256_file
from harness.errors import ConfigError, DataError
from harness.languages import Language
from harness.metrics import SampleScore
from harness.model_info import ModelInfo, describe_model
from harness.model_store import check_model
from harness.model_store import resolve as resolve_model
from harness.registry import all_tasks, get_task
from harness.requests import ChoiceRequest, GenerationRequest, Request, Response
from harness.response_cache import CacheIdentity, CachingBackend, ResponseStore
from harness.results import (
    SCHEMA_VERSION,
    DataInfo,
    LanguageResult,
    RunFolder,
    RunResult,
    SampleRecord,
    TaskResult,
    model_slug,
    to_jsonable,
)
from harness.study import Recipe
from harness.task import Example, Shot, Task

log = logging.getLogger("xlh")


@dataclass(frozen=True)
class TaskSelection:
    """A task with its prompt variant and split (``xnli:label@validation`` on the command line)."""

    task: Task
    variant: str
    split: str

    @classmethod
    def parse(cls, spec: str) -> TaskSelection:
        name, _, split = spec.partition("@")
        name, _, variant = name.partition(":")
        task = get_task(name.strip())
        variant = variant or task.default_variant
        split = split or task.default_split
        task.check_variant(variant)
        task.check_split(split)
        return cls(task, variant, split)

    @property
    def key(self) -> str:
        return f"{self.task.name}:{self.variant}@{self.split}"


@dataclass(frozen=True)
class RunConfig:
    model: str
    tasks: tuple[str, ...]
    languages: tuple[str, ...] | None = None
    limit: int | None = None
    backend: str = "hf"
    data_dir: Path | None = None  # None: datasets come from the Hugging Face Hub
    out_dir: Path = Path("results")
    revision: str | None = None
    generation: GenerationParams = GenerationParams()
    backend_options: dict[str, Any] = field(default_factory=dict)
    role: str | None = None
    parents: tuple[str, ...] = ()
    display_name: str | None = None  # the model's name in tables (default: the model folder's name)
    study: str | None = None
    recipe: Recipe | None = None
    full_fingerprint: bool = False
    command: tuple[str, ...] = ()
    shots: int = 0
    shot_seed: int = 1234
    shots_from: str | None = None  # None: shots in the item's own language; else a language (``en``)
    cache: Path | None = None  # the response store (SQLite); None: answers are not cached


@dataclass
class _Unit:
    """One example of one task and language, with its requests and (later) responses."""

    selection: TaskSelection
    language: Language
    example: Example
    requests: list[Request]
    shot_ids: list[str] = field(default_factory=list)
    responses: list[Response] = field(default_factory=list)


def validate(config: RunConfig) -> list[tuple[TaskSelection, list[Language]]]:
    """Check the selection before any work: tasks, variants, splits, languages, LIMIT, SHOTS."""
    if config.limit is not None and config.limit < 1:
        raise ConfigError(f"LIMIT must be a positive number of examples per language, got {config.limit}")
    if config.shots < 0:
        raise ConfigError(f"SHOTS must be 0 or more, got {config.shots}")
    if not config.tasks:
        raise ConfigError(f"no task selected; valid: {', '.join(sorted(all_tasks()))}")
    if config.data_dir is not None and not config.data_dir.is_dir():
        raise ConfigError(f"DATA_DIR {config.data_dir} is not a folder")
    selections = [TaskSelection.parse(spec) for spec in config.tasks]
    keys = [selection.key for selection in selections]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    if duplicates:
        raise ConfigError(f"task selected twice: {', '.join(duplicates)}")
    plan = [(selection, selection.task.select_languages(config.languages)) for selection in selections]
    if config.languages:
        for selector in config.languages:
            if not any(lang.matches(selector) for _, langs in plan for lang in langs):
                valid = "; ".join(f"{sel.task.name}: {sel.task.language_summary()}" for sel, _ in plan)
                raise ConfigError(f"no selected task has language {selector!r}; valid: {valid}")
    if config.shots and config.shots_from is not None:
        for selection, _ in plan:
            selection.task.language(config.shots_from)  # fails before any work, naming the task
    return plan


def load_examples(task: Task, language: Language, split: str, data_dir: Path | None) -> tuple[list[Example], DataInfo]:
    """Every example of one language and split, with where they came from (local files or the Hub)."""
    if data_dir is not None:
        files = task.local_files(data_dir, language, split)
        for path in files:
            if not path.is_file():
                raise FileNotFoundError(str(path))
        examples = task.load_local(data_dir, language, split)
        info = DataInfo(
            source="local",
            split=split,
            files={str(path): sha256_file(path) for path in files},
            total_examples=len(examples),
        )
        return list(examples), info
    return _load_hub(task, language, split)


def _load_hub(task: Task, language: Language, split: str) -> tuple[list[Example], DataInfo]:
    import datasets

    source = task.hub_source(language, split)
    dataset = datasets.load_dataset(source.path, source.name, split=source.split, revision=source.revision)
    examples = [task.from_hub_record(dict(row), index, language) for index, row in enumerate(dataset)]
    hub = {
        "path": source.path,
        "name": source.name,
        "split": source.split,
        "revision": source.revision,
        "fingerprint": getattr(dataset, "_fingerprint", None),
    }
    return list(examples), DataInfo(source="hub", split=split, hub=hub, total_examples=len(examples))


def run(config: RunConfig, backend: Backend | None = None) -> Path:
    """Evaluate and write a run folder; returns its path. ``backend`` reuses an already loaded engine."""
    started = time.perf_counter()
    config = dataclasses.replace(config, model=resolve_model(config.model))  # short names -> models/<name>
    check_model(config.model)  # a missing, corrupt or truncated model fails before any data is read
    plan = validate(config)
    created = datetime.now(timezone.utc)
    run_id = _run_id(config, created)
    folder = RunFolder(config.out_dir, model_slug(config.model), run_id)
    try:
        units, data_infos, skipped = _prepare(plan, config)
        if not units:
            reasons = "; ".join(f"{t}/{lang}: {why}" for (t, lang), why in skipped.items())
            raise DataError(f"nothing to evaluate: every selected language was skipped ({reasons})")
        loaded_at = time.perf_counter()
        engine = backend or create_backend(
            config.backend, config.model, config.generation, revision=config.revision, **config.backend_options
        )
        model = describe_model(config.model, config.revision, full=config.full_fingerprint)
        cached = _with_cache(engine, model, config)
        model_loaded_at = time.perf_counter()
        _answer(cached, units)
        answered_at = time.perf_counter()
        if cached.store is not None:
            cached.store.close()
        tasks, samples = _score(plan, units, data_infos, skipped, config)
        result = RunResult(
            schema_version=SCHEMA_VERSION,
            run_id=run_id,
            created_at=created.isoformat(timespec="seconds"),
            xlh_version=harness.__version__,
            command=list(config.command),
            model=model,
            role=config.role,
            parents=list(config.parents),
            display_name=config.display_name,
            study=config.study,
            recipe=config.recipe,
            backend=engine.info(),
            generation=config.generation,
            tasks=tasks,
            timings={
                "load_data_s": round(loaded_at - started, 3),
                "load_model_s": round(model_loaded_at - loaded_at, 3),
                "inference_s": round(answered_at - model_loaded_at, 3),
                "total_s": round(time.perf_counter() - started, 3),
                # Run facts like the times above: a resumed or repeated run differs here and only here.
                "requests_from_cache": cached.hits,
                "requests_computed": cached.computed,
            },
        )
        folder.write(result, samples)
        return folder.commit()
    except BaseException:
        folder.discard()
        raise


def _with_cache(engine: Backend, model: ModelInfo, config: RunConfig) -> CachingBackend:
    """The engine behind the response store; without one (CACHE=off, no fingerprint, unusable store) it is
    chunked all the same, so answers never depend on the cache."""
    if config.cache is None:
        return CachingBackend(engine, None, None)
    if model.fingerprint.startswith("unresolved:"):
        print(f"xlh: warning: no fingerprint for {config.model}: answers are not cached", file=sys.stderr)
        return CachingBackend(engine, None, None)
    store = ResponseStore(config.cache)
    if not store.enabled:
        return CachingBackend(engine, None, None)
    return CachingBackend(
        engine, store, CacheIdentity.of(config.model, model.fingerprint, engine.info(), config.generation)
    )


def _run_id(config: RunConfig, created: datetime) -> str:
    digest = hashlib.sha256(repr((config, time.perf_counter_ns())).encode()).hexdigest()[:6]
    return f"{created.strftime('%Y%m%d-%H%M%S')}-{digest}"


def _prepare(
    plan: list[tuple[TaskSelection, list[Language]]], config: RunConfig
) -> tuple[list[_Unit], dict[tuple[str, str], DataInfo], dict[tuple[str, str], str]]:
    units: list[_Unit] = []
    infos: dict[tuple[str, str], DataInfo] = {}
    skipped: dict[tuple[str, str], str] = {}
    pools: dict[tuple[str, str, str], tuple[list[Example], DataInfo]] = {}  # English shots serve every language
    for selection, languages in plan:
        for language in languages:
            key = (selection.key, language.code)
            try:
                examples, info = load_examples(selection.task, language, selection.split, config.data_dir)
                shots_for, info = _shot_source(selection, language, examples, info, config, pools)
            except FileNotFoundError as missing:
                reason = f"data file not found: {missing}"
                print(f"xlh: skipping {selection.task.name}/{language.code}: {reason}", file=sys.stderr)
                skipped[key] = reason
                continue
            infos[key] = info
            for example in examples[: config.limit]:
                shots = shots_for(example)
                requests = selection.task.requests(example, language, selection.variant, shots)
                units.append(_Unit(selection, language, example, requests, [shot.example.id for shot in shots]))
    return units, infos, skipped


def _shot_source(
    selection: TaskSelection,
    language: Language,
    examples: list[Example],
    info: DataInfo,
    config: RunConfig,
    pools: dict[tuple[str, str, str], tuple[list[Example], DataInfo]],
) -> tuple[Callable[[Example], list[Shot]], DataInfo]:
    """How to draw the shots of each example of one language, and the data info with the pool recorded.
    ``pools`` keeps each pool loaded once per run (task, language, split)."""
    task = selection.task
    if not config.shots:
        return lambda example: [], info
    shot_language = task.language(config.shots_from) if config.shots_from else language
    pool_split = task.shot_split(selection.split)
    if shot_language == language and pool_split == selection.split:
        pool, pool_info = examples, info
    else:
        key = (task.name, shot_language.code, pool_split)
        if key not in pools:
            pools[key] = load_examples(task, shot_language, pool_split, config.data_dir)
        pool, pool_info = pools[key]
    info = dataclasses.replace(info, shot_pool=dataclasses.replace(pool_info, language=shot_language.code))

    def shots_for(example: Example) -> list[Shot]:
        chosen = task.select_shots(pool, example, config.shots, config.shot_seed)
        return [Shot(shot, shot_language) for shot in chosen]

    return shots_for, info


def _answer(engine: Backend, units: list[_Unit]) -> None:
    """Send every request of every task and language to the backend: one call per request kind."""
    generation: list[tuple[_Unit, int, GenerationRequest]] = []
    choice: list[tuple[_Unit, int, ChoiceRequest]] = []
    for unit in units:
        unit.responses = [None] * len(unit.requests)  # type: ignore[list-item]
        for slot, request in enumerate(unit.requests):
            if isinstance(request, GenerationRequest):
                generation.append((unit, slot, request))
            elif isinstance(request, ChoiceRequest):
                choice.append((unit, slot, request))
            else:
                raise TypeError(f"unknown request kind {type(request).__name__}")
    if generation:
        for (unit, slot, _), text in zip(generation, engine.generate([r for _, _, r in generation]), strict=True):
            unit.responses[slot] = text
    if choice:
        for (unit, slot, _), scores in zip(choice, engine.score_choices([r for _, _, r in choice]), strict=True):
            unit.responses[slot] = scores


def _score(
    plan: list[tuple[TaskSelection, list[Language]]],
    units: list[_Unit],
    infos: dict[tuple[str, str], DataInfo],
    skipped: dict[tuple[str, str], str],
    config: RunConfig,
) -> tuple[list[TaskResult], list[SampleRecord]]:
    samples: list[SampleRecord] = []
    per_language: dict[tuple[str, str], list[SampleScore]] = {}
    for unit in units:
        task, variant = unit.selection.task, unit.selection.variant
        scored = task.score(unit.example, unit.language, variant, unit.responses)
        per_language.setdefault((unit.selection.key, unit.language.code), []).append(scored)
        samples.append(
            SampleRecord(
                task=task.name,
                variant=variant,
                language=unit.language.code,
                id=unit.example.id,
                requests=[to_jsonable(r) for r in unit.requests],
                responses=[to_jsonable(r) for r in unit.responses],
                extracted=scored.extracted,
                gold=scored.gold,
                scores=scored.scores,
                details={**scored.details, "shots": unit.shot_ids} if unit.shot_ids else scored.details,
            )
        )
    results = []
    for selection, languages in plan:
        task = selection.task
        metrics = task.metrics(selection.variant)
        language_results = {}
        for language in languages:
            key = (selection.key, language.code)
            if key not in per_language:
                continue
            scores = per_language[key]
            language_results[language.code] = LanguageResult(
                code=language.code,
                flores=language.flores,
                name=language.name,
                n=len(scores),
                metrics={metric.name: metric.aggregate(scores) for metric in metrics},
                data=infos[key],
            )
        results.append(
            TaskResult(
                name=task.name,
                version=task.version,
                variant=selection.variant,
                split=selection.split,
                shots=config.shots,
                shot_seed=config.shot_seed if config.shots else None,
                shots_from=(config.shots_from or "same language") if config.shots else None,
                limit=config.limit,
                metrics=[metric.name for metric in metrics],
                languages=language_results,
                skipped={lang: why for (key, lang), why in skipped.items() if key == selection.key},
                notes=list(task.notes(selection.variant)),
            )
        )
    return results, samples


__all__ = ["RunConfig", "TaskSelection", "load_examples", "run", "validate"]
