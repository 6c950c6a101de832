"""Scoring a run's answered samples and aggregating each task and language, on every core for large runs.

The unit of work is one task and language (``LanguageWork``): its samples are scored in file order, each
becomes one ``samples.jsonl`` line, and its metrics are aggregated from their ``SampleScore``s. Scoring and
the corpus metrics are pure Python (sacrebleu's n-grams for FLORES, answer extraction, the bootstrap), so a run
of at least ``PARALLEL_MIN_SAMPLES`` samples scores its languages in worker processes, as many as the cores
this process may use: each language in one worker (a FLORES direction's sentence chrF++ rows are what its
corpus chrF++ reads back), the lines and results coming back in the run's order, written by this process as
they arrive. Workers are spawned, not forked: a run scores with its backend still loaded, and forking a
process that holds torch or vLLM threads can deadlock. Work that cannot be sent to a process (a task class
defined inside a function) is scored here.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from harness.api.languages import Language
from harness.api.metric import Metric
from harness.api.requests import Answer, Generation, Request, Response
from harness.api.task import Example, Task
from harness.records.io import dumps, to_jsonable
from harness.records.schema import DataInfo, LanguageResult, SampleRecord
from harness.run.config import TaskSelection

PARALLEL_MIN_SAMPLES = 20_000  # below this, starting workers (~1 s each: imports) costs more than it saves


@dataclass
class Unit:
    """One example of one task and language, with its requests and (once answered) the backend's answers."""

    selection: TaskSelection
    language: Language
    example: Example
    requests: list[Request]
    shot_ids: list[str] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)

    @property
    def responses(self) -> list[Response]:
        """What the task scores: a generation's text, a choice request's scores."""
        return [answer.text if isinstance(answer, Generation) else answer for answer in self.answers]

    @property
    def truncated_tokens(self) -> int:
        return sum(answer.truncated_tokens for answer in self.answers)

    @property
    def finish_reasons(self) -> list[str]:
        return [answer.finish_reason for answer in self.answers if isinstance(answer, Generation)]


@dataclass
class LanguageWork:
    """The answered units of one task and language (contiguous in a run), with what aggregating them needs."""

    key: tuple[str, str]  # (selection key, language code)
    metrics: tuple[Metric, ...]
    info: DataInfo
    units: list[Unit]


def score_language(work: LanguageWork) -> tuple[list[str], LanguageResult]:
    """Every sample of ``work`` as its ``samples.jsonl`` line, and the language's aggregated result."""
    lines, scores = [], []
    truncated = length_capped = 0
    for unit in work.units:
        task, variant = unit.selection.task, unit.selection.variant
        scored = task.score(unit.example, unit.language, variant, unit.responses)
        scores.append(scored)
        truncated += 1 if unit.truncated_tokens else 0
        length_capped += 1 if "length" in unit.finish_reasons else 0
        record = SampleRecord(
            task=task.name,
            variant=variant,
            split=unit.selection.split,
            language=unit.language.code,
            id=unit.example.id,
            requests=[to_jsonable(r) for r in unit.requests],
            responses=[to_jsonable(r) for r in unit.responses],
            extracted=scored.extracted,
            gold=scored.gold,
            scores=scored.scores,
            details={**scored.details, "shots": unit.shot_ids} if unit.shot_ids else scored.details,
            truncated_tokens=unit.truncated_tokens,
            finish_reasons=unit.finish_reasons,
        )
        lines.append(dumps(record))
    language = work.units[0].language
    return lines, LanguageResult(
        code=language.code,
        flores=language.flores,
        name=language.name,
        n=len(scores),
        metrics={metric.name: metric.aggregate(scores) for metric in work.metrics},
        data=work.info,
        truncated=truncated,
        length_capped=length_capped,
    )


def language_works(
    units: list[Unit], metrics: Callable[[TaskSelection], tuple[Metric, ...]], infos: dict[tuple[str, str], DataInfo]
) -> Iterator[LanguageWork]:
    """``units`` (emptied as it goes) cut into runs of one task and language; each must be contiguous."""
    seen: set[tuple[str, str]] = set()
    units.reverse()  # popped from the end: file order, and each unit let go once handed over
    while units:
        first = units.pop()
        key = (first.selection.key, first.language.code)
        if key in seen:
            raise AssertionError(f"{key} is not contiguous in the run's units")
        seen.add(key)
        group = [first]
        while units and (units[-1].selection.key, units[-1].language.code) == key:
            group.append(units.pop())
        yield LanguageWork(key, metrics(first.selection), infos[key], group)


def score_languages(
    works: Iterable[LanguageWork], samples: int, workers: int | None = None
) -> Iterator[tuple[LanguageWork, list[str], LanguageResult]]:
    """``score_language`` of each work in order, in ``workers`` processes (default: the usable cores, when the
    run has ``PARALLEL_MIN_SAMPLES`` samples or more; 1 scores here)."""
    if workers is None:
        workers = usable_cores() if samples >= PARALLEL_MIN_SAMPLES else 1
    if workers > 1:
        works = list(works)
        workers = min(workers, len(works))
    if workers <= 1 or not _can_send(works):  # type: ignore[arg-type]
        for work in works:  # one language at a time, each let go once written
            yield (work, *score_language(work))
        return
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=spawn) as pool:
        for work, (lines, result) in zip(works, pool.map(score_language, works), strict=True):
            yield work, lines, result


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _can_send(works: Sequence[LanguageWork]) -> bool:
    """Whether the tasks and metrics of ``works`` survive pickling (a class defined in a function does not)."""
    kinds: dict[int, tuple[Task, tuple[Metric, ...]]] = {}
    for work in works:
        kinds.setdefault(id(work.units[0].selection.task), (work.units[0].selection.task, work.metrics))
    try:
        pickle.dumps(list(kinds.values()))
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


__all__ = ["PARALLEL_MIN_SAMPLES", "LanguageWork", "Unit", "language_works", "score_language", "score_languages"]
