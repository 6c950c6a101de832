"""The leaderboard's records: entries read from results files, columns, rows and the finished board.

The lowest module of the leaderboard: the collector (``board_collect``), the lm-eval importer
(``lmeval_import``), the board's builder (``leaderboard``) and the renderers (``harness.render.leaderboard_text``,
``harness.render.leaderboard_html``) all import it, and it imports none of them.

A row is one model (a ``ModelIdentity``); a column is one ``ColumnConfig``: the comparability ``Setting`` of
the task results in it, with the LIMIT's size and the headline metric. Which model and which setting are
decided by ``harness.records.comparability`` alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.api.metric import Unit
from harness.records.comparability import ModelIdentity, Setting

XLH = "xlh"
LMEVAL = "lm-eval"
# The weights of a model known only from an lm-eval results file: lm-eval records the model's name and (for
# a Hub model) its revision and commit, not a fingerprint of the weights. Such an identity starts with this.
LMEVAL_IDENTITY = "lm-eval:"


def number(value: Any) -> float | None:
    """A metric value as float; None for null, NaN, booleans and lm-eval's ``"N/A"`` stderr."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def decoding_text(setting: Setting) -> str:
    """How a setting's answers were drawn: ``greedy``, or ``temperature 0.7, top_p 1, seed 1234``."""
    if setting.temperature == 0.0:
        return "greedy"
    return f"temperature {setting.temperature:g}, top_p {setting.top_p:g}, seed {setting.seed}"


def identity_text(identity: ModelIdentity) -> str:
    """Everything that makes a row's model that model, in words (a tooltip, the CSV)."""
    if identity.weights.startswith(LMEVAL_IDENTITY):
        return identity.describe(f"as lm-eval records it: {identity.weights.removeprefix(LMEVAL_IDENTITY)}")
    return identity.describe()


@dataclass(frozen=True)
class ColumnConfig:
    """What two scores must share to be shown in one column: the same comparability ``Setting``, the same
    LIMIT size (a mean over 4 items is not a mean over 6, even where those are nested) and headline metric."""

    setting: Setting
    limit: float | None  # examples per language; lm-eval also takes a fraction
    metric: str  # the headline metric
    unit: Unit
    version: str  # the task version as shown: "v1", or lm-eval's "lm-eval v1.0"
    harness: str  # "xlh", or "lm-eval 0.4.13": the lm-eval version that wrote the file

    @property
    def task(self) -> str:
        return self.setting.task

    @property
    def variant(self) -> str:
        return self.setting.variant

    @property
    def split(self) -> str:
        return self.setting.split

    @property
    def shots(self) -> int:
        return self.setting.shots

    @property
    def shots_from(self) -> str | None:
        """The shots' language when it is not the item's own (None: zero-shot or the same language)."""
        origin = self.setting.shots_from
        return None if origin in (None, "same language") else origin

    @property
    def shot_seed(self) -> int | None:
        return self.setting.shot_seed

    @property
    def sampling(self) -> str:
        """Which items a LIMIT took: ``comparability.sampling_of`` ("all", "first", "seed S")."""
        return self.setting.sampling

    def sort_key(self) -> tuple[Any, ...]:
        """Columns in reading order: by task, variant and split; xlh before imports; then shots and LIMIT."""
        s = self.setting
        return (
            s.task,
            s.variant,
            s.split,
            self.harness != XLH,
            self.harness,
            s.shots,
            self.shots_from or "",
            self.limit is None,
            self.limit or 0,
            s.sampling,
            s.version,
            self.version,
            s.shot_seed or 0,
            self.metric,
            s.dtype,
            s.temperature,
            s.top_p,
            s.seed or 0,
            s.metrics,
        )


@dataclass(frozen=True)
class LanguageScore:
    code: str
    flores: str
    name: str
    value: float
    stderr: float | None
    n: int
    data: str  # ``comparability.data_key`` of the data this language was scored on


@dataclass(frozen=True)
class BoardEntry:
    """One task result of one run (or of one lm-eval file): the headline metric per language."""

    model: ModelIdentity
    display: str  # the name the row shows (``comparability.distinct_names`` once collected)
    role: str | None
    config: ColumnConfig
    languages: dict[str, LanguageScore]
    run_id: str
    created_at: str
    path: Path  # the results file
    name_or_path: str  # the model as the run names it
    harness: str  # "xlh" or "lm-eval 0.4.13"


@dataclass(frozen=True)
class Problem:
    """A file that claims to be results and cannot be read: skipped, and named with why."""

    path: Path
    message: str


@dataclass
class Summary:
    """One model in one column: the mean over its languages, English, the other languages, and the gap."""

    mean: float | None
    english: float | None
    non_english: float | None
    gap: float | None  # English minus the non-English mean (XTREME's transfer gap)
    languages: tuple[str, ...]
    partial: bool  # fewer languages than the column has: its mean is not comparable to the others'


@dataclass
class BoardColumn:
    config: ColumnConfig
    label: str
    entries: dict[ModelIdentity, BoardEntry]
    languages: list[LanguageScore]  # one per language code, for names: English first, then by name
    summaries: dict[ModelIdentity, Summary] = field(default_factory=dict)


@dataclass
class BoardRow:
    model: ModelIdentity
    display: str
    role: str | None
    runs: list[str]
    name_or_path: str
    harness: str


@dataclass
class Leaderboard:
    root: Path
    rows: list[BoardRow]
    columns: list[BoardColumn]
    problems: list[Problem]
    warnings: list[str]
    superseded: list[BoardEntry]
    files_read: int


__all__ = [
    "LMEVAL",
    "LMEVAL_IDENTITY",
    "XLH",
    "BoardColumn",
    "ColumnConfig",
    "BoardEntry",
    "LanguageScore",
    "Leaderboard",
    "Problem",
    "BoardRow",
    "Summary",
    "decoding_text",
    "identity_text",
    "number",
]
