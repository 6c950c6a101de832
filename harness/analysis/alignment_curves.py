"""Per-layer alignment curves of an alignment run, read from its ``samples.jsonl``.

An ``alignment`` run (``tasks/alignment.py``) scores one parallel sentence pair (English and another language) per
sample, and keeps per layer (index 0 is the embedding layer, then each transformer layer) in the sample's
``details``: whether the pair is MEXA-aligned (``aligned_<pooling>``, 0/1) and its cosine similarity
(``cosine_<pooling>``), for the position-weighted mean pooled hidden states (``weighted``) and the last token
(``last_token``). A language's curve is the mean of one of those lists over its samples, layer by layer: its
MEXA score (the share of aligned pairs) or its mean cosine similarity at every layer. The run's ``mexa_mean``
is the mean of the MEXA curve over layers, ``mexa_max`` its maximum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.api.metric import SampleScore
from harness.errors import ConfigError, DataError
from harness.records.comparability import run_name
from harness.records.io import read_run, read_sample_scores, task_samples
from harness.records.schema import RESULTS_FILE, SAMPLES_FILE, RunResult, TaskResult

ALIGNMENT_TASK = "alignment"  # the task's registered name (tasks/alignment.py)
CURVES = {"mexa": "aligned", "cosine": "cosine"}  # curve -> the prefix of its per-layer list in ``details``
CURVE_NAMES = {"mexa": "MEXA alignment with English", "cosine": "mean cosine similarity to English"}
POOLINGS = ("weighted", "last_token")


def detail_key(curve: str, pooling: str) -> str:
    """The ``details`` key of a curve's per-layer list: ``aligned_weighted``, ``cosine_last_token``.

    Raises:
        ConfigError: an unknown curve or pooling, naming the known ones.
    """
    if curve not in CURVES or pooling not in POOLINGS:
        raise ConfigError(f"unknown curve {curve!r} or pooling {pooling!r}: curves {', '.join(CURVES)}; "
                        f"poolings {', '.join(POOLINGS)}")  # fmt: skip
    return f"{CURVES[curve]}_{pooling}"


@dataclass(frozen=True)
class LanguageCurve:
    """One language's per-layer means (``values[0]``: the embedding layer) over its ``n`` sentence pairs."""

    code: str
    flores: str
    name: str
    n: int
    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        """The mean over layers (for MEXA with weighted pooling, the run's ``mexa_mean``)."""
        return math.fsum(self.values) / len(self.values)

    @property
    def best_layer(self) -> int:
        """The layer where the curve is highest (the lowest such layer on a tie)."""
        return int(np.argmax(self.values))

    @property
    def best_value(self) -> float:
        return self.values[self.best_layer]


@dataclass(frozen=True)
class AlignmentCurves:
    """One curve (MEXA or cosine, one pooling) of every language of an alignment run."""

    folder: Path
    run: RunResult
    task: TaskResult
    curve: str
    pooling: str
    languages: tuple[LanguageCurve, ...]

    @property
    def model(self) -> str:
        return run_name(self.run)

    @property
    def layers(self) -> int:
        """Points per curve: the embedding layer and every transformer layer."""
        return len(self.languages[0].values) if self.languages else 0

    def sentences(self) -> str:
        """Sentence pairs per language, in words: ``1012`` or ``100-1012`` when languages differ."""
        counts = sorted({language.n for language in self.languages})
        return str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"

    def best_layers(self) -> dict[str, tuple[int, float]]:
        """Per language code, the best layer and the curve's value there."""
        return {language.code: (language.best_layer, language.best_value) for language in self.languages}


def alignment_task(run: RunResult, where: Path) -> TaskResult:
    """The alignment task result of a run (the first, should a run hold several variants).

    Raises:
        DataError: the run has no alignment task, naming ``where`` and the tasks it has.
    """
    for task in run.tasks:
        if task.name == ALIGNMENT_TASK:
            return task
    held = ", ".join(task.name for task in run.tasks) or "none"
    raise DataError(f"not an alignment run (its tasks: {held}; run: xlh eval --tasks {ALIGNMENT_TASK})", where)


def curve_of(items: dict[str, SampleScore], key: str, where: str) -> tuple[float, ...]:
    """The per-layer mean of ``details[key]`` over ``items`` (every item's list of one length).

    Raises:
        DataError: an item without the list, or lists of different lengths, naming ``where`` and the item.
    """
    rows: list[list[float]] = []
    for item, score in items.items():
        found = score.details.get(key)
        if not isinstance(found, list) or not found:
            raise DataError(f"{where} item {item}: no per-layer list {key!r} in its details")
        if rows and len(found) != len(rows[0]):
            raise DataError(f"{where} item {item}: {len(found)} layers in {key!r}, other items have {len(rows[0])}")
        rows.append([math.nan if value is None else float(value) for value in found])
    return tuple(float(value) for value in np.mean(np.asarray(rows, dtype=np.float64), axis=0))


def read_curves(folder: Path, curve: str = "mexa", pooling: str = "weighted") -> AlignmentCurves:
    """Every language's curve of the alignment run in ``folder`` (languages in the results' order).

    Raises:
        DataError: not a run folder, not an alignment run, no samples, or samples without the curve's details.
    """
    key = detail_key(curve, pooling)
    if not (folder / RESULTS_FILE).is_file():
        raise DataError(f"not a run folder (no {RESULTS_FILE}; give results/<model>/<run-id>)", folder)
    run = read_run(folder)
    task = alignment_task(run, folder)
    groups = read_sample_scores(folder / SAMPLES_FILE)
    languages = []
    for code, language in task.languages.items():
        items = task_samples(groups, run, task, code)
        if not items:
            raise DataError(f"no samples of {ALIGNMENT_TASK} in {code}", folder / SAMPLES_FILE)
        values = curve_of(items, key, f"{folder / SAMPLES_FILE}: {code}")
        languages.append(LanguageCurve(code, language.flores, language.name, len(items), values))
    lengths = {len(language.values) for language in languages}
    if len(lengths) > 1:
        raise DataError(f"languages have curves of different lengths ({sorted(lengths)} layers)", folder)
    return AlignmentCurves(folder, run, task, curve, pooling, tuple(languages))


__all__ = [
    "ALIGNMENT_TASK",
    "CURVES",
    "CURVE_NAMES",
    "POOLINGS",
    "AlignmentCurves",
    "LanguageCurve",
    "alignment_task",
    "curve_of",
    "detail_key",
    "read_curves",
]
