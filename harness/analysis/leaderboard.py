"""The leaderboard: every run under a results folder, and lm-eval results files placed there, in one table.

``build(root)`` reads every run folder under ``root`` through ``harness.records.io`` (any results schema 1-4;
hidden folders are runs still being written, and are ignored) and every lm-eval 0.4.13 results file
(``results_<date>.json``), whose per-task scores ``lmeval_import`` maps to xlh tasks by name
(``board_collect``). ``harness.cli.leaderboard`` writes the board as ``leaderboard.md``, ``leaderboard.csv``
(``harness.render.leaderboard_text``) and the static ``leaderboard.html`` (``harness.render.leaderboard_html``).

Rows are models: a ``ModelIdentity`` (weights, adapter, served model, chat template), so a LoRA, chat or
openai-served run of a base is its own row, and two checkpoints in folders of the same name are two rows; rows
sharing a name are told apart by ``comparability.distinct_names``. A column is one ``ColumnConfig``: the
comparability ``Setting`` (task, version, variant, split, shots, which items, metric signatures, sampling,
dtype, harness), the LIMIT's size and the headline metric. Scores of different columns are never averaged or
sorted together, and a column whose runs read different data (``data_key`` of a language differs) is split
into ``data #1``, ``data #2`` with a warning. For each model and column the newest run is used; the runs used
and those superseded are listed. An imported lm-eval score is its own column (``· lm-eval``) and its own row.

A results file that cannot be read is reported by name (with the reader's reason) and skipped; the rest still
build. The types (entries, columns, rows, the board) live in ``harness.analysis.board``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.analysis.board import (
    XLH,
    BoardColumn,
    BoardEntry,
    BoardRow,
    ColumnConfig,
    LanguageScore,
    Leaderboard,
    Problem,
    Summary,
    decoding_text,
    identity_text,
)
from harness.analysis.board_collect import collect
from harness.api.languages import ENGLISH
from harness.errors import ConfigError, XlhError
from harness.records.comparability import ModelIdentity, distinct_names
from harness.records.schema import setting_name

if TYPE_CHECKING:
    from harness.analysis.health import HealthReport

Chosen = dict[tuple[ModelIdentity, ColumnConfig], BoardEntry]


def build(root: Path) -> Leaderboard:
    """Read every results file under ``root`` and lay out the leaderboard.

    Raises:
        ConfigError: ``root`` is not a folder.
        XlhError: nothing under ``root`` could be read (the message names every file skipped, and why).
    """
    if not root.is_dir():
        raise ConfigError(f"results folder {root} does not exist")
    collected = collect(root)
    if not collected.entries:
        skipped = "".join(f"\n  {p.path}: {p.message}" for p in collected.problems)
        raise XlhError(f"no results under {root} (run `make eval` first){skipped}")
    entries = named(collected.entries)
    chosen, superseded = latest_entries(entries)
    warnings = list(collected.notes)
    columns = _columns(chosen, warnings)
    return Leaderboard(root, _rows(columns), columns, collected.problems, warnings, superseded, collected.files_read)


# -- which entries ---------------------------------------------------------------------------------------------
def named(entries: Sequence[BoardEntry]) -> list[BoardEntry]:
    """The entries with the names their rows show: each model's name from its newest run, told apart by
    ``comparability.distinct_names`` where models share one (and by the whole identity where even that does
    not tell them apart: two lm-eval files of models with the same name)."""
    newest: dict[ModelIdentity, BoardEntry] = {}
    for entry in sorted(entries, key=lambda e: (e.created_at, e.run_id)):
        newest[entry.model] = entry
    names = distinct_names({identity: entry.display for identity, entry in newest.items()})
    counts: dict[str, int] = {}
    for name in names.values():
        counts[name] = counts.get(name, 0) + 1
    for identity, name in names.items():
        if counts[name] > 1:
            names[identity] = f"{newest[identity].display} [{identity_text(identity)}]"
    return [dataclasses.replace(entry, display=names[entry.model]) for entry in entries]


def latest_entries(entries: Sequence[BoardEntry]) -> tuple[Chosen, list[BoardEntry]]:
    """The newest entry of each (model identity, column), by creation time then run id, and the entries they
    superseded. A column's config holds the LIMIT's size, so unlike ``comparability.latest`` (which prefers a
    setting's largest LIMIT) no size competes with another here; entries rather than runs, because lm-eval
    imports are entries too."""
    chosen: Chosen = {}
    superseded = []
    for entry in sorted(entries, key=lambda e: (e.created_at, e.run_id)):
        key = (entry.model, entry.config)
        if key in chosen:
            superseded.append(chosen[key])
        chosen[key] = entry
    return chosen, superseded


def _split_by_data(entries: list[BoardEntry]) -> list[list[BoardEntry]]:
    """Groups of entries that read the same data (``data_key``) for every language they share."""
    groups: list[list[BoardEntry]] = []
    for entry in entries:
        for group in groups:
            if all(
                other.languages[code].data == score.data
                for other in group
                for code, score in entry.languages.items()
                if code in other.languages
            ):
                group.append(entry)
                break
        else:
            groups.append([entry])
    return groups


# -- columns -----------------------------------------------------------------------------------------------
def _label(config: ColumnConfig, ambiguous: bool) -> str:
    parts = [setting_name(config.task, config.variant, config.split), f"{config.shots}-shot"]
    if config.shots_from:
        parts.append(f"from {config.shots_from}")
    if config.limit is not None:
        parts.append(f"LIMIT {config.limit:g}")
    if ambiguous:  # only where another column shares everything above
        if config.limit is not None:
            parts.append(f"({config.sampling})")  # a seeded sample and the first N are different columns
        parts.append(config.version)
        if config.shot_seed is not None:
            parts.append(f"seed {config.shot_seed}")
        parts.append(config.metric)
    label = " ".join(parts)
    return label if config.harness == XLH else f"{label} · {config.harness.split()[0]}"


def _settings_apart(config: ColumnConfig, twins: Sequence[ColumnConfig]) -> list[str]:
    """What else tells ``config`` apart from columns that share its label, where it differs: the dtype, how
    answers were drawn, and the metrics' signatures (a short digest of them)."""
    parts = []
    if len({twin.setting.dtype for twin in twins}) > 1:
        parts.append(config.setting.dtype)
    if len({decoding_text(twin.setting) for twin in twins}) > 1:
        parts.append(decoding_text(config.setting))
    if len({twin.setting.metrics for twin in twins}) > 1:
        parts.append("signatures " + hashlib.sha256(repr(config.setting.metrics).encode()).hexdigest()[:7])
    return parts


def _labels(configs: Sequence[ColumnConfig]) -> list[str]:
    bases = [_label(config, False) for config in configs]
    labels = []
    for config, base in zip(configs, bases, strict=True):
        twins = [other for other, label in zip(configs, bases, strict=True) if label == base]
        if len(twins) == 1:
            labels.append(base)
        else:
            labels.append(" ".join([_label(config, True), *_settings_apart(config, twins)]))
    return labels


def summarise(entry: BoardEntry, column_codes: set[str]) -> Summary:
    """One entry's mean, English, non-English mean and transfer gap (``partial``: not every column language)."""
    scores = list(entry.languages.values())
    english = [s.value for s in scores if s.flores == ENGLISH]
    others = [s.value for s in scores if s.flores != ENGLISH]
    non_english = sum(others) / len(others) if others else None
    return Summary(
        mean=sum(s.value for s in scores) / len(scores),
        english=english[0] if len(english) == 1 else None,
        non_english=non_english,
        gap=english[0] - non_english if len(english) == 1 and non_english is not None else None,
        languages=tuple(sorted(entry.languages)),
        partial=set(entry.languages) != column_codes,
    )


def _data_warning(label: str, groups: list[list[BoardEntry]]) -> str:
    differing = sorted(
        {
            code
            for a in groups
            for b in groups
            for x in a
            for y in b
            for code in set(x.languages) & set(y.languages)
            if x.languages[code].data != y.languages[code].data
        }
    )
    return (
        f"{label}: runs read different data files for {', '.join(differing)}; "
        f"not comparable, so split into {len(groups)} columns (data #1..#{len(groups)})"
    )


def _column(config: ColumnConfig, label: str, group: list[BoardEntry], warnings: list[str]) -> BoardColumn:
    scores = {code: s for entry in group for code, s in entry.languages.items()}
    ordered = sorted(scores.values(), key=lambda s: (s.flores != ENGLISH, s.name, s.code))
    column = BoardColumn(config, label, {entry.model: entry for entry in group}, ordered)
    codes = set(scores)
    column.summaries = {entry.model: summarise(entry, codes) for entry in group}
    for entry in group:
        if column.summaries[entry.model].partial:
            warnings.append(
                f"{column.label}: {entry.display} has {len(entry.languages)} of {len(codes)} languages "
                f"({', '.join(sorted(entry.languages))}); its mean is over those only (marked *)"
            )
    return column


def _columns(chosen: Chosen, warnings: list[str]) -> list[BoardColumn]:
    by_config: dict[ColumnConfig, list[BoardEntry]] = {}
    for (_, config), entry in chosen.items():
        by_config.setdefault(config, []).append(entry)
    configs = sorted(by_config, key=ColumnConfig.sort_key)
    columns = []
    for config, label in zip(configs, _labels(configs), strict=True):
        groups = _split_by_data(sorted(by_config[config], key=lambda e: (e.created_at, e.display)))
        groups.sort(key=len, reverse=True)  # data #1: the files most runs read (stable: then the earliest)
        if len(groups) > 1:
            warnings.append(_data_warning(label, groups))
        for index, group in enumerate(groups, 1):
            columns.append(_column(config, label if len(groups) == 1 else f"{label} · data #{index}", group, warnings))
    return columns


# -- rows --------------------------------------------------------------------------------------------------
def _rows(columns: list[BoardColumn]) -> list[BoardRow]:
    rows: dict[ModelIdentity, BoardRow] = {}
    newest: dict[ModelIdentity, str] = {}
    for column in columns:
        for model, entry in column.entries.items():
            row = rows.setdefault(
                model, BoardRow(model, entry.display, entry.role, [], entry.name_or_path, entry.harness)
            )
            if entry.run_id not in row.runs:
                row.runs.append(entry.run_id)
            if entry.created_at >= newest.get(model, ""):  # the role a model's newest run gives it
                newest[model], row.role = entry.created_at, entry.role

    def rank(row: BoardRow) -> tuple[Any, ...]:
        """By the first column, then the next for models without it, ...: only one column's scores are ever
        compared with each other."""
        key: list[Any] = []
        for column in columns:
            summary = column.summaries.get(row.model)
            key += [summary is None, -(summary.mean or 0.0) if summary else 0.0]
        return (*key, row.display)

    return sorted(rows.values(), key=rank)


__all__ = [
    "BoardColumn",
    "ColumnConfig",
    "BoardEntry",
    "LanguageScore",
    "Leaderboard",
    "Problem",
    "BoardRow",
    "Summary",
    "build",
    "latest_entries",
    "named",
    "summarise",
]


def board_health(board: Leaderboard) -> tuple[HealthReport | None, str | None]:
    """The output health (``harness.analysis.health``) of the xlh runs behind the board's generative columns, for
    the page's health section; (None, why) when there is none or it cannot be computed (the board is still
    written: a run without its samples cannot be checked, and says so)."""
    from harness.analysis.health import health_plugin, health_report  # the detector and sacrebleu: when used

    folders = sorted({entry.path.parent for column in board.columns for entry in column.entries.values()
                      if entry.harness == "xlh" and health_plugin(column.config.task) is not None})  # fmt: skip
    if not folders:
        return None, None
    tasks = sorted({column.config.task for column in board.columns if health_plugin(column.config.task) is not None})
    try:
        return health_report(folders, tasks), None
    except XlhError as error:
        return None, f"output health not shown: {error}"
