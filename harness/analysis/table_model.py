"""What a finished transfer table is: its columns (weighted sums of language scores), cells, rows and notes,
and the paired bootstrap settings it records. ``harness.analysis.transfer`` and ``harness.analysis.merge_gain``
build tables; ``harness.render.tables`` shows them and knows nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from harness.api.language_groups import GROUPINGS, group_of, group_sort_key
from harness.api.languages import ENGLISH
from harness.api.metric import Unit
from harness.errors import XlhError
from harness.records.comparability import Setting
from harness.records.schema import LanguageResult
from harness.seeds import DEFAULT_SEED

KINDS = ("scores", "deltas", "merge_gain")
ROLE_ORDER = ("base", "expert", "merged", None)  # row order without a study: base, experts, merged, others


class TableError(XlhError):
    """Results that cannot be tabulated as asked (not comparable, unreadable, missing samples)."""


@dataclass(frozen=True)
class Bootstrap:
    """Paired bootstrap settings (recorded in each paired table's notes)."""

    resamples: int = 1000
    seed: int = DEFAULT_SEED
    confidence: float = 0.95

    def describe(self) -> str:
        """The settings as a table note."""
        return (
            f"paired bootstrap over item ids: {self.resamples} resamples, numpy default_rng(seed={self.seed}), "
            f"{100 * self.confidence:g}% percentile interval; stderr = sd of the resampled differences"
        )


@dataclass(frozen=True)
class Column:
    """A column is a weighted sum of language scores: one language, a group mean, the mean, the gap."""

    key: str
    label: str
    kind: str  # "english" | "language" | "group" | "mean" | "gap"
    weights: tuple[tuple[str, float], ...]  # language code -> weight


@dataclass(frozen=True)
class Cell:
    """One number of a table, in the metric's unit (a fraction stays a fraction until it is rendered)."""

    value: float
    stderr: float | None = None
    low: float | None = None  # the bootstrap interval (deltas and merge gains)
    high: float | None = None
    versus: str | None = None  # what was subtracted on this language (merge gain: the best parent on all items)


@dataclass(frozen=True)
class Row:
    """One model's cells, in the table's column order (None: a language of the column is missing)."""

    name: str
    role: str | None
    cells: tuple[Cell | None, ...]
    versus: str = ""  # what the row is compared with (deltas, merge gains)
    limit: int | None = None  # the row's run's LIMIT (None: every item)


@dataclass(frozen=True)
class Table:
    """A finished table of one task, metric and setting."""

    kind: str  # one of KINDS
    task: str
    metric: str
    unit: Unit
    setting: Setting
    group_by: str | None
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        """``xnli:sentence · acc (%) · delta vs base``."""
        what = {"scores": "scores", "deltas": "delta vs base", "merge_gain": "merge gain vs best parent"}[self.kind]
        grouped = f", mean per {self.group_by}" if self.group_by else ""
        heading = Unit.of(self.unit).heading(self.metric)
        return f"{self.setting.task}:{self.setting.variant} · {heading} · {what}{grouped}"


def columns_for(languages: Mapping[str, LanguageResult], group_by: str | None = None) -> tuple[list[Column], list[str]]:
    """English, the other languages (or their group means), the non-English mean and the transfer gap, with
    notes on the groups and on a missing gap.

    Args:
        languages: every language of the table's rows (code -> a result naming it).
        group_by: one of ``GROUPINGS`` for one column per group (the mean of its languages), or None.

    Raises:
        TableError: an unknown grouping.
    """
    english = [code for code, language in languages.items() if language.flores == ENGLISH]
    others = sorted((code for code in languages if code not in english), key=lambda c: (languages[c].name, c))
    notes: list[str] = []
    columns = [Column(code, languages[code].name, "english", ((code, 1.0),)) for code in english]
    if group_by is None:
        columns += [Column(code, languages[code].name, "language", ((code, 1.0),)) for code in others]
    else:
        if group_by not in GROUPINGS:
            raise TableError(f"unknown grouping {group_by!r}; valid: {', '.join(GROUPINGS)}")
        groups: dict[str, list[str]] = {}
        for code in others:
            groups.setdefault(group_of(languages[code].flores, group_by), []).append(code)
        for group in sorted(groups, key=lambda g: group_sort_key(group_by, g)):
            members = groups[group]
            weights = tuple((code, 1 / len(members)) for code in members)
            columns.append(Column(f"{group_by}:{group}", f"{group} ({len(members)})", "group", weights))
            notes.append(f"{group}: {', '.join(languages[code].name for code in members)}")
    if others:
        mean = tuple((code, 1 / len(others)) for code in others)
        columns.append(Column("mean", f"mean non-En ({len(others)})", "mean", mean))
        if len(english) == 1:
            gap = ((english[0], 1.0), *((code, -weight) for code, weight in mean))
            columns.append(Column("gap", "gap (En − mean)", "gap", gap))
    if not english:
        notes.append("no English entry (e.g. translation directions): no transfer gap")
    elif len(english) > 1:
        notes.append("several English entries: no transfer gap")
    return columns, notes


__all__ = ["KINDS", "ROLE_ORDER", "Bootstrap", "Cell", "Column", "Row", "Table", "TableError", "columns_for"]
