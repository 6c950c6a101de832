"""Scoring a run's answered samples and aggregating each task and language, on every core for large runs.

The unit of work is one task and language (``LanguageWork``): its samples are scored in file order, each
becomes one ``samples.jsonl`` line, and its metrics are aggregated from their ``SampleScore``s. Scoring and
the corpus metrics are pure Python (sacrebleu's n-grams for FLORES, answer extraction, the bootstrap), so a run
of at least ``PARALLEL_MIN_SAMPLES`` samples scores its languages on as many processes as the cores this
process may use, itself included: each language in one process (a FLORES direction's sentence chrF++ rows are
what its corpus chrF++ reads back), the lines and results kept in the run's order and written by this
process. Workers are spawned, not forked: a run scores with its backend still loaded, and forking a process
that holds torch or vLLM threads can deadlock. Work that cannot be sent to a process (a task class defined
inside a function) is scored here.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field

from harness.api.languages import Language
from harness.api.metric import Metric
from harness.api.requests import Answer, Embedding, Generation, Request, Response
from harness.api.task import Example, Task
from harness.records.io import dumps, to_jsonable
from harness.records.schema import DataInfo, LanguageResult, SampleRecord
from harness.run.config import TaskSelection

PARALLEL_MIN_SAMPLES = 20_000  # below this, starting workers (~1 s each: imports) costs more than it saves


@dataclass(slots=True)
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


@dataclass(slots=True)
class LanguageWork:
    """The answered units of one task and language (contiguous in a run), with what aggregating them needs."""

    key: tuple[str, str]  # (selection key, language code)
    metrics: tuple[Metric, ...]
    info: DataInfo
    units: list[Unit]


def score_language(work: LanguageWork) -> tuple[list[str], LanguageResult]:
    """Every sample of ``work`` as its ``samples.jsonl`` line, and the language's aggregated result."""
    lines = []
    truncated = length_capped = 0
    first = work.units[0]
    task, variant, language = first.selection.task, first.selection.variant, first.language
    answered = [(unit.example, unit.responses) for unit in work.units]
    scores = task.score_all(answered, language, variant)
    if len(scores) != len(answered):
        raise AssertionError(f"{task.name}: score_all gave {len(scores)} scores for {len(answered)} samples")
    for unit, (_, responses), scored in zip(work.units, answered, scores, strict=True):
        cut, finish_reasons = unit.truncated_tokens, unit.finish_reasons
        truncated += 1 if cut else 0
        length_capped += 1 if "length" in finish_reasons else 0
        record = SampleRecord(
            task=task.name,
            variant=variant,
            split=unit.selection.split,
            language=unit.language.code,
            id=unit.example.id,
            requests=[to_jsonable(r) for r in unit.requests],
            responses=[r.summary() if isinstance(r, Embedding) else to_jsonable(r) for r in responses],
            extracted=scored.extracted,
            gold=scored.gold,
            scores=scored.scores,
            details={**scored.details, "shots": unit.shot_ids} if unit.shot_ids else scored.details,
            truncated_tokens=cut,
            finish_reasons=finish_reasons,
        )
        lines.append(dumps(record))
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
) -> Iterator[tuple[tuple[str, str], list[str], LanguageResult]]:
    """``(key, *score_language(work))`` of each work in order, by ``workers`` processes: this one and
    ``workers - 1`` spawned ones (default: the usable cores when the run has ``PARALLEL_MIN_SAMPLES`` samples or
    more, else 1). This process scores whenever the others have two works each waiting, so no core idles and
    no extra process holds a copy of what this one has loaded; a language's units are let go once sent or
    scored, and at most ``IN_ORDER_BACKLOG`` scored languages wait for an earlier one to finish."""
    if workers is None:
        workers = usable_cores() if samples >= PARALLEL_MIN_SAMPLES else 1
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # see _one_thread_each; restored when the generator ends
        yield from _score_in_order(works, workers)


def _score_in_order(
    works: Iterable[LanguageWork], workers: int
) -> Iterator[tuple[tuple[str, str], list[str], LanguageResult]]:
    if workers <= 1:
        for work in works:  # one language at a time, each let go once written
            yield (work.key, *score_language(work))
        return
    spawn = multiprocessing.get_context("spawn")
    sendable: dict[int, bool] = {}
    with ProcessPoolExecutor(max_workers=workers - 1, mp_context=spawn, initializer=_one_thread_each) as pool:
        queue: deque[tuple[tuple[str, str], Future[tuple[list[str], LanguageResult]]]] = deque()
        for work in works:
            task = work.units[0].selection.task
            if id(task) not in sendable:
                sendable[id(task)] = _can_send(task, work.metrics)
            sent = sum(1 for _, future in queue if not future.done())
            if sendable[id(task)] and sent < 2 * (workers - 1):
                queue.append((work.key, pool.submit(score_language, work)))
            else:
                queue.append((work.key, _done(score_language(work))))
            del work  # the pool's copy, or the lines, are all that is left of it
            while queue and (queue[0][1].done() or len(queue) > IN_ORDER_BACKLOG):
                key, future = queue.popleft()
                yield (key, *future.result())
        while queue:
            key, future = queue.popleft()
            yield (key, *future.result())


IN_ORDER_BACKLOG = 16


def _done(value: tuple[list[str], LanguageResult]) -> Future[tuple[list[str], LanguageResult]]:
    future: Future[tuple[list[str], LanguageResult]] = Future()
    future.set_result(value)
    return future


def _one_thread_each() -> None:
    """A worker's numpy calls (the bootstrap's small matrix products) on one thread: the scoring processes
    already fill every core, and OpenBLAS's threads spinning beside them slowed a whole-suite run by a tenth
    to a third (measured with benchmarks/bench_harness.py)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _can_send(task: Task, metrics: tuple[Metric, ...]) -> bool:
    """Whether a task and its metrics survive pickling (a class defined in a function does not)."""
    try:
        pickle.dumps((task, metrics))
    except (pickle.PicklingError, AttributeError, TypeError):
        return False
    return True


__all__ = ["PARALLEL_MIN_SAMPLES", "LanguageWork", "Unit", "language_works", "score_language", "score_languages"]
