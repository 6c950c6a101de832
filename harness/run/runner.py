"""One evaluation run: select tasks and languages, load data, ask the backend once per request kind for
every task and language together, score, aggregate, and write the run folder atomically.

Scoring streams (``scoring``): each task and language is scored, aggregated and written to the staging
folder's ``samples.jsonl`` as a whole and then let go, so that what a run holds after the backend has answered
shrinks as it goes; never every ``SampleRecord`` of a run. Large runs score on every usable core."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING

import harness
from harness.api.languages import Language
from harness.api.requests import ChoiceRequest, EmbedRequest, GenerationRequest
from harness.api.task import Example, Shot, Task
from harness.backends import create_backend
from harness.backends.base import Backend
from harness.errors import ConfigError, DataError
from harness.records.io import RunFolder, StoredRun, model_slug
from harness.records.schema import (
    SCHEMA_VERSION,
    DataInfo,
    LanguageResult,
    ModelInfo,
    RunResult,
    TaskResult,
)
from harness.run.config import RunConfig, TaskSelection, validate
from harness.run.embedding import EmbeddingStream
from harness.run.examples import load_examples
from harness.run.lazy_engine import EngineChanged, LazyEngine, engine_signature, record_info, recorded_info
from harness.run.lineage import with_merge_lineage
from harness.run.model_info import describe_model, with_adapter
from harness.run.model_store import check_model
from harness.run.model_store import resolve as resolve_model
from harness.run.response_cache import CacheIdentity, CachingBackend, ResponseStore
from harness.run.sampling import SAMPLER_VERSION, limit_examples, missing_classes
from harness.run.scoring import Unit, language_works, score_languages

if TYPE_CHECKING:  # Ray is optional: imported only by runs with workers
    from harness.distributed.pool import WorkerPool

log = logging.getLogger("xlh")


def run(config: RunConfig, backend: Backend | None = None, pool: WorkerPool | None = None) -> StoredRun:
    """Evaluate and write a run folder; returns its path and the record written there. ``backend`` reuses an
    already loaded engine; ``pool`` answers the run's requests on its workers (``harness.distributed``)."""
    started = time.perf_counter()
    config = dataclasses.replace(config, model=resolve_model(config.model))  # short names -> models/<name>
    config = with_merge_lineage(config)  # a folder `xlh merge` built: role, parents and recipe from it
    check_model(config.model)  # a missing, corrupt or truncated model fails before any data is read
    plan = validate(config)
    reads_hidden_states = any(selection.task.reads_hidden_states for selection, _ in plan)
    if reads_hidden_states and pool is not None:
        names = ", ".join(sel.task.name for sel, _ in plan if sel.task.reads_hidden_states)
        raise ConfigError(f"{names}: hidden states are read in this process; run without workers")
    created = datetime.now(timezone.utc)
    run_id = _run_id(config, created)
    folder = RunFolder(config.out_dir, model_slug(config.model), run_id)
    for removed in folder.removed:
        print(f"xlh: removed {removed}, left behind by a run that was killed", file=sys.stderr)
    try:
        units, data_infos, skipped = _prepare(plan, config)
        if not units:
            reasons = "; ".join(f"{t}/{lang}: {why}" for (t, lang), why in skipped.items())
            raise DataError(f"nothing to evaluate: every selected language was skipped ({reasons})")
        loaded_at = time.perf_counter()
        cached, model = _engine_behind_store(backend, config, pool, eager=reads_hidden_states)
        model_loaded_at = time.perf_counter()
        try:
            try:
                _answer(cached, units)
            except EngineChanged as changed:  # the recorded engine was not the one loaded: its keys were wrong
                cached = _with_cache(changed.engine, model, config, cached.store)
                _answer(cached, units)
        finally:
            if pool is not None:
                cached.close()  # the run's workers go back to the pool
        answered_at = time.perf_counter()
        lazy_load_s = getattr(cached.inner, "load_seconds", 0.0)  # a LazyEngine loaded while answering
        engine_timings = getattr(cached.inner, "timings", None)  # a pool's workers: each one's share, retries
        if cached.store is not None:
            cached.store.close()
        embedding = EmbeddingStream(cached, units, progress=bool(config.backend_options.get("progress", True)))
        tasks = _score(plan, units, data_infos, skipped, config, folder, embedding)
        result = RunResult(
            schema_version=SCHEMA_VERSION,
            run_id=run_id,
            # Microseconds: "the newest run" of a model and setting is decided by this time (then the run id,
            # whose suffix is random), and two quick runs often start in the same second.
            created_at=created.isoformat(timespec="microseconds"),
            xlh_version=harness.__version__,
            command=list(config.command),
            model=model,
            role=config.role,
            parents=list(config.parents),
            display_name=config.display_name,
            study=config.study,
            recipe=config.recipe,
            backend=cached.info(),
            generation=config.generation,
            tasks=tasks,
            timings={
                "load_data_s": round(loaded_at - started, 3),
                "load_model_s": round(model_loaded_at - loaded_at + lazy_load_s, 3),
                "inference_s": round(answered_at - model_loaded_at - lazy_load_s, 3),
                "total_s": round(time.perf_counter() - started, 3),
                **({"embed_s": round(embedding.seconds, 3)} if embedding.total else {}),
                # Run facts like the times above: a resumed or repeated run differs here and only here.
                "requests_from_cache": cached.hits,
                "requests_computed": cached.computed,
                **(engine_timings() if engine_timings is not None else {}),
            },
        )
        return folder.publish(result)
    except BaseException:
        folder.discard()
        raise


def _engine_behind_store(
    backend: Backend | None, config: RunConfig, pool: WorkerPool | None, eager: bool = False
) -> tuple[CachingBackend, ModelInfo]:
    """The engine behind the response store (``backend`` when given), and the model's identity. An engine
    loaded for the same signature before left its info in the store: the run then loads none unless a request
    is missing (``lazy_engine``), or the run reads hidden states (``eager``), which are never stored."""
    model = _describe(config)
    if backend is None and model.fingerprint.startswith("unresolved:"):
        backend = _create(config, pool)  # a Hub model not downloaded yet: loading downloads it, then it has files
        model = _describe(config)
    if backend is not None:
        return _with_cache(backend, model, config, _store(model, config)), model
    store = _store(model, config)
    if store is None:
        return _with_cache(_create(config, pool), model, config, store), model
    signature = engine_signature(config, model, cluster=pool.cluster if pool is not None else None)
    recorded = recorded_info(store, signature)
    if recorded is None or eager:
        engine = _create(config, pool)
        record_info(store, signature, engine.info())
        return _with_cache(engine, model, config, store), model
    lazy = LazyEngine(
        lambda: _create(config, pool), recorded, lambda engine: record_info(store, signature, engine.info())
    )
    return _with_cache(lazy, model, config, store), model


def _create(config: RunConfig, pool: WorkerPool | None = None) -> Backend:
    options = {"revision": config.revision, **config.backend_options}
    if pool is not None:  # the engine lives on the pool's workers
        from harness.distributed.backend import WorkersBackend
        from harness.distributed.worker import EngineSpec

        return WorkersBackend(pool.open_run(EngineSpec.of(config.backend, config.model, config.generation, options)))
    return create_backend(config.backend, config.model, config.generation, **options)


def _describe(config: RunConfig) -> ModelInfo:
    """The model's identity: its fingerprint (a Hub model's once downloaded) and any LoRA adapter's."""
    model = describe_model(config.model, config.revision, full=config.full_fingerprint)
    return with_adapter(model, config.backend_options.get("lora_path"))  # type: ignore[arg-type]


def _store(model: ModelInfo, config: RunConfig) -> ResponseStore | None:
    """The response store, or None: CACHE=off, no fingerprint (warned), or a store that cannot be used."""
    if config.cache is None:
        return None
    if model.fingerprint.startswith("unresolved:"):
        print(f"xlh: warning: no fingerprint for {config.model}: answers are not cached", file=sys.stderr)
        return None
    store = ResponseStore(config.cache)
    return store if store.enabled else None


def _with_cache(engine: Backend, model: ModelInfo, config: RunConfig, store: ResponseStore | None) -> CachingBackend:
    """The engine behind ``store``; without one (CACHE=off, no fingerprint, unusable store) it is chunked all
    the same, so answers never depend on the cache."""
    if store is None:
        return CachingBackend(engine, None, None)
    return CachingBackend(
        engine,
        store,
        CacheIdentity.of(
            config.model,
            model.fingerprint,
            engine.info(),
            config.generation,
            adapter_fingerprint=model.adapter_fingerprint,
        ),
    )


def _run_id(config: RunConfig, created: datetime) -> str:
    digest = hashlib.sha256(repr((config, time.perf_counter_ns())).encode()).hexdigest()[:6]
    return f"{created.strftime('%Y%m%d-%H%M%S')}-{digest}"


def _prepare(
    plan: list[tuple[TaskSelection, list[Language]]], config: RunConfig
) -> tuple[list[Unit], dict[tuple[str, str], DataInfo], dict[tuple[str, str], str]]:
    units: list[Unit] = []
    infos: dict[tuple[str, str], DataInfo] = {}
    skipped: dict[tuple[str, str], str] = {}
    pools: dict[tuple[str, str, str], tuple[list[Example], DataInfo]] = {}  # English shots serve every language
    warned: set[str] = set()
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
            limit = task_limit(selection.task, config)
            if limit is not None:
                selection.task.check_limit(limit, len(examples), language, selection.split)
            chosen = limit_examples(
                examples, limit, config.limit_mode, config.limit_seed, selection.task.name, selection.task.stratum
            )
            if limit is not None:
                info = dataclasses.replace(info, sample_ids=[example.id for example in chosen])
                if config.limit_mode == "first" and selection.key not in warned:
                    _warn_missing_classes(selection, language, examples, chosen, warned)
            infos[key] = info
            for example in chosen:
                shots = shots_for(example)
                requests = selection.task.requests(example, language, selection.variant, shots)
                units.append(Unit(selection, language, example, requests, [shot.example.id for shot in shots]))
    return units, infos, skipped


def _warn_missing_classes(
    selection: TaskSelection, language: Language, examples: list[Example], chosen: list[Example], warned: set[str]
) -> None:
    """A first-N LIMIT that left whole classes out (a file sorted by class), said once per task (``warned``); the
    seeded sample keeps the classes in proportion by construction, so only the first N need the check."""
    held = missing_classes(examples, chosen, selection.task.stratum)
    if held is None:
        return
    warned.add(selection.key)
    print(
        f"xlh: warning: {selection.key}/{language.code}: the {len(chosen)} items of this LIMIT hold {held[0]} of the "
        f"split's {held[1]} classes (the file is ordered by class): its scores measure those classes only; "
        "--limit-mode sample (the default) keeps every class in proportion",
        file=sys.stderr,
    )


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


def _answer(engine: Backend, units: list[Unit]) -> None:
    """Send every request of every task and language to the backend: one call per request kind (but
    ``EmbedRequest``, answered language by language as the run is scored: ``EmbeddingStream``)."""
    generation: list[tuple[Unit, int, GenerationRequest]] = []
    choice: list[tuple[Unit, int, ChoiceRequest]] = []
    for unit in units:
        unit.answers = [None] * len(unit.requests)  # type: ignore[list-item]
        for slot, request in enumerate(unit.requests):
            if isinstance(request, GenerationRequest):
                generation.append((unit, slot, request))
            elif isinstance(request, ChoiceRequest):
                choice.append((unit, slot, request))
            elif not isinstance(request, EmbedRequest):  # embeddings: per language, when scored (EmbeddingStream)
                raise TypeError(f"unknown request kind {type(request).__name__}")
    if generation:
        for (unit, slot, _), text in zip(generation, engine.generate([r for _, _, r in generation]), strict=True):
            unit.answers[slot] = text
    if choice:
        for (unit, slot, _), scores in zip(choice, engine.score_choices([r for _, _, r in choice]), strict=True):
            unit.answers[slot] = scores


def _score(
    plan: list[tuple[TaskSelection, list[Language]]],
    units: list[Unit],
    infos: dict[tuple[str, str], DataInfo],
    skipped: dict[tuple[str, str], str],
    config: RunConfig,
    folder: RunFolder,
    embedding: EmbeddingStream,
) -> list[TaskResult]:
    """Score every unit in order (``units`` is emptied), appending each sample to ``folder``, and aggregate each
    task and language (``_prepare`` keeps them together); on every core for large runs (``scoring``)."""
    metrics = {selection.key: selection.task.metrics(selection.variant) for selection, _ in plan}
    languages: dict[tuple[str, str], LanguageResult] = {}
    samples = len(units)
    works = embedding(language_works(units, lambda selection: metrics[selection.key], infos))
    for key, lines, result in score_languages(works, samples, config.score_workers):
        folder.append_lines(lines)
        languages[key] = result
    results = []
    for selection, selected in plan:
        task = selection.task
        limit = task_limit(task, config)
        sampled = limit is not None and config.limit_mode == "sample"
        language_results = {
            lang.code: languages[(selection.key, lang.code)]
            for lang in selected
            if (selection.key, lang.code) in languages
        }
        results.append(
            TaskResult(
                name=task.name,
                version=task.version,
                variant=selection.variant,
                split=selection.split,
                shots=config.shots,
                shot_seed=config.shot_seed if config.shots else None,
                shots_from=(config.shots_from or "same language") if config.shots else None,
                limit=limit,
                limit_mode=config.limit_mode if limit is not None else None,
                limit_seed=config.limit_seed if sampled else None,
                limit_sampler=SAMPLER_VERSION if sampled else None,
                metrics=[metric.name for metric in metrics[selection.key]],
                languages=language_results,
                skipped={lang: why for (key, lang), why in skipped.items() if key == selection.key},
                notes=[*task.notes(selection.variant), *_health_note(task)],
            )
        )
    _warn_cut(results)
    return results


def _health_note(task: Task) -> list[str]:
    """For a task with output health (``Task.health_view``), the language identifier ``xlh health`` reads its
    generations with: the detector is part of what those checks mean, so results record it."""
    if not task.has_output_health:
        return []
    from harness.metrics.language_id import DETECTOR

    return [f"output health (xlh health): language identification {DETECTOR.signature}"]


def task_limit(task: Task, config: RunConfig) -> int | None:
    """The items a language of ``task`` gets: the run's LIMIT, else the task's own default (None: all)."""
    return config.limit if config.limit is not None else task.default_limit


def _warn_cut(results: list[TaskResult]) -> None:
    """One warning per task and language whose prompts were truncated or whose generations hit the budget
    (the counts of its LanguageResult): both move scores, and neither shows in a score."""
    for task in results:
        for code, language in task.languages.items():
            where = f"{task.key}/{code}"
            if language.truncated:
                cut = f"{language.truncated} of {language.n} samples had their prompt cut from the left to fit"
                print(f"xlh: warning: {where}: {cut} the model (truncated_tokens in samples.jsonl)", file=sys.stderr)
            if language.length_capped:
                capped = f"{language.length_capped} of {language.n} generations stopped at the token budget"
                print(f"xlh: warning: {where}: {capped} (finish_reasons 'length' in samples.jsonl)", file=sys.stderr)


__all__ = ["RunConfig", "TaskSelection", "load_examples", "run", "validate"]
