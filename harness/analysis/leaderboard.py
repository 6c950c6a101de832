"""The leaderboard: every run under a results folder, and lm-eval results files placed there, in one table.

``build(root)`` reads every ``results.json`` under ``root`` (run folders starting with ``.`` are partial runs
and are ignored) and every lm-eval 0.4.13 results file (``results_<date>.json``, as its
``EvaluationTracker.save_results_aggregated`` writes them), whose per-task scores are imported by the task
name table ``leaderboard_lmeval.LMEVAL_TASKS``. ``write(board, root)`` writes ``leaderboard.md`` and
``leaderboard.csv`` (``leaderboard_text``) and the static ``leaderboard.html`` (``leaderboard_html``) there,
each file atomically.

Rows are models; a column is one *task configuration*: task, task version, prompt variant, split, shots
(their language and seed), LIMIT, headline metric and harness. Scores of different configurations are
never averaged or sorted together: each has its own column, and a column whose runs read different data
files (a different SHA-256 for a language) is split into ``data #1``, ``data #2`` with a warning. For each
model and configuration the latest run is used; the runs used and those superseded are listed. An imported
lm-eval score is its own column (``· lm-eval``): lm-eval's task versions, data source and metric code are not
xlh's, even where the parity tests show the same numbers.

A malformed results file is reported by name and skipped; the rest still build.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.api.languages import ENGLISH
from harness.errors import ConfigError, XlhError
from harness.records.io import atomic_write_text
from harness.records.schema import RESULTS_FILE, SCHEMA_VERSION
from harness.run.sampling import task_sampling

OUTPUTS = ("leaderboard.md", "leaderboard.csv", "leaderboard.html")
XLH = "xlh"


# -- records -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskConfig:
    """What two scores must share to be compared (or averaged) at all: one leaderboard column."""

    task: str
    version: str
    variant: str
    split: str
    shots: int
    shots_from: str | None  # None: zero-shot or shots in the item's own language
    shot_seed: int | None
    limit: float | None  # examples per language; lm-eval also takes a fraction
    sampling: str  # which items a LIMIT took: harness.run.sampling.sampling_of ("all", "first", "seed S")
    metric: str  # the headline metric
    unit: str  # "fraction" (shown as %), "score" (0..100) or "count"
    harness: str  # "xlh" or "lm-eval 0.4.13"

    def sort_key(self) -> tuple[Any, ...]:
        return (
            self.task,
            self.variant,
            self.split,
            self.harness != XLH,
            self.harness,
            self.shots,
            self.shots_from or "",
            self.limit is None,
            self.limit or 0,
            self.sampling,
            self.version,
            self.shot_seed or 0,
            self.metric,
        )


@dataclass(frozen=True)
class ModelKey:
    """A model as the runs name it; the fingerprint tells a retrained model in the same folder apart."""

    name: str
    fingerprint: str
    harness: str


@dataclass(frozen=True)
class LanguageScore:
    code: str
    flores: str
    name: str
    value: float
    stderr: float | None
    n: int
    data: str  # digest of the data files (and few-shot pool) this language was scored on


@dataclass(frozen=True)
class Entry:
    """One task configuration of one run: the headline metric per language."""

    model: ModelKey
    display: str
    role: str | None
    config: TaskConfig
    languages: dict[str, LanguageScore]
    run_id: str
    created_at: str
    path: Path  # the results file


@dataclass(frozen=True)
class Problem:
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
class Column:
    config: TaskConfig
    label: str
    entries: dict[ModelKey, Entry]
    languages: list[LanguageScore]  # one per language code, for names: English first, then by name
    summaries: dict[ModelKey, Summary] = field(default_factory=dict)


@dataclass
class Row:
    model: ModelKey
    display: str
    role: str | None
    runs: list[str]


@dataclass
class Leaderboard:
    root: Path
    rows: list[Row]
    columns: list[Column]
    problems: list[Problem]
    warnings: list[str]
    superseded: list[Entry]
    files_read: int


# -- xlh results files ---------------------------------------------------------------------------------


class Malformed(ValueError):
    """A results file that cannot be read as xlh or lm-eval results."""


def number(value: Any) -> float | None:
    """A metric value as float; None for null, NaN and lm-eval's ``"N/A"`` stderr."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def digest(parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _data_digest(data: dict[str, Any]) -> str:
    """The data a language was scored on: the SHA-256 of its files (paths differ between machines and are
    left out) or its Hub dataset, and the same of its few-shot pool."""
    pool = data.get("shot_pool")
    return digest(
        [
            sorted(data.get("files", {}).values()),
            data.get("hub"),
            _data_digest(pool) if isinstance(pool, dict) else None,
        ]
    )


def display_name(name: str) -> str:
    """How a model is shown: a Hub id (``org/name``), short name or ``models/x`` as given, else the folder."""
    if name.startswith(("/", ".", "~")) or name.count("/") > 1:
        return Path(name).name or name
    return name


def read_xlh(doc: dict[str, Any], path: Path) -> list[Entry]:
    """The entries of one xlh ``results.json`` (schema 1 up to SCHEMA_VERSION)."""
    if not isinstance(doc.get("schema_version"), int) or doc["schema_version"] > SCHEMA_VERSION:
        raise Malformed(f"unknown schema_version {doc.get('schema_version')!r} (this xlh reads 1..{SCHEMA_VERSION})")
    model = doc["model"]
    key = ModelKey(str(model["name_or_path"]), str(model["fingerprint"]), XLH)
    display = doc.get("display_name") or model.get("display_name") or display_name(key.name)
    entries = []
    for task in doc["tasks"]:
        headline = task["metrics"][0]
        languages, units = {}, []
        for code, language in task["languages"].items():
            metric = language["metrics"].get(headline)
            value = number(metric["value"]) if metric else None
            if value is None:
                continue  # a metric left out for this language (see the task's notes)
            units.append(metric.get("unit", "fraction"))
            languages[code] = LanguageScore(
                code=str(code),
                flores=str(language["flores"]),
                name=str(language["name"]),
                value=value,
                stderr=number(metric.get("stderr")),
                n=int(language["n"]),
                data=_data_digest(language["data"]),
            )
        if not languages:
            continue
        shots = int(task["shots"])
        shots_from = task.get("shots_from")
        config = TaskConfig(
            task=str(task["name"]),
            version=f"v{task['version']}",
            variant=str(task["variant"]),
            split=str(task["split"]),
            shots=shots,
            shots_from=None if not shots or shots_from in (None, "same language") else str(shots_from),
            shot_seed=task.get("shot_seed") if shots else None,
            limit=task.get("limit"),
            sampling=task_sampling(task),
            metric=str(headline),
            unit=units[0],
            harness=XLH,
        )
        entries.append(
            Entry(key, str(display), doc.get("role"), config, languages, str(doc["run_id"]), doc["created_at"], path)
        )
    return entries


# -- collecting ----------------------------------------------------------------------------------------


def _candidates(root: Path) -> Iterator[Path]:
    """JSON files under ``root``, skipping hidden folders (partial runs ``.<run-id>.partial``) and files."""
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
        for name in sorted(files):
            if name.endswith(".json") and not name.startswith("."):
                yield Path(folder) / name


def _describe(error: Exception) -> str:
    if isinstance(error, KeyError):
        return f"missing field {error.args[0]!r}"
    if isinstance(error, json.JSONDecodeError):
        return f"not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
    return str(error) or type(error).__name__


def collect(root: Path) -> tuple[list[Entry], list[Problem], list[str], int]:
    """Every entry under ``root``, the files skipped as malformed, notes, and how many files were read."""
    from harness.analysis.lmeval_import import is_lmeval, read_lmeval

    entries: list[Entry] = []
    problems: list[Problem] = []
    notes: list[str] = []
    read = 0
    for path in _candidates(root):
        xlh_file = path.name == RESULTS_FILE
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(doc, dict) and "schema_version" in doc and "tasks" in doc:
                found = read_xlh(doc, path)
            elif is_lmeval(doc):
                found = read_lmeval(doc, path, notes)
            elif xlh_file or path.name.startswith("results_"):
                raise Malformed("neither an xlh results.json nor an lm-eval results file")
            else:
                continue  # some other JSON file (a report, a config): not results
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
            if not (xlh_file or path.name.startswith("results")):
                continue  # not claimed to be results: not our business
            problems.append(Problem(path, _describe(error)))
            continue
        read += 1
        entries.extend(found)
    return entries, problems, notes, read


# -- the table -----------------------------------------------------------------------------------------


def _latest(entries: list[Entry]) -> tuple[dict[tuple[ModelKey, TaskConfig], Entry], list[Entry]]:
    chosen: dict[tuple[ModelKey, TaskConfig], Entry] = {}
    superseded = []
    for entry in sorted(entries, key=lambda e: (e.created_at, e.run_id)):
        key = (entry.model, entry.config)
        if key in chosen:
            superseded.append(chosen[key])
        chosen[key] = entry
    return chosen, superseded


def _split_by_data(entries: list[Entry]) -> list[list[Entry]]:
    """Groups of entries that read the same data for every language they share."""
    groups: list[list[Entry]] = []
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


def _label(config: TaskConfig, ambiguous: bool) -> str:
    parts = [f"{config.task}:{config.variant}@{config.split}", f"{config.shots}-shot"]
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


def summarise(entry: Entry, column_codes: set[str]) -> Summary:
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


def _columns(chosen: dict[tuple[ModelKey, TaskConfig], Entry], warnings: list[str]) -> list[Column]:
    by_config: dict[TaskConfig, list[Entry]] = {}
    for (_, config), entry in chosen.items():
        by_config.setdefault(config, []).append(entry)
    configs = sorted(by_config, key=TaskConfig.sort_key)
    base_labels = [_label(config, False) for config in configs]
    columns = []
    for config, base in zip(configs, base_labels, strict=True):
        label = _label(config, base_labels.count(base) > 1)
        groups = _split_by_data(sorted(by_config[config], key=lambda e: (e.created_at, e.display)))
        groups.sort(key=len, reverse=True)  # data #1: the files most runs read (stable: then the earliest)
        if len(groups) > 1:
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
            warnings.append(
                f"{label}: runs read different data files for {', '.join(differing)}; "
                f"not comparable, so split into {len(groups)} columns (data #1..#{len(groups)})"
            )
        for index, group in enumerate(groups, 1):
            scores = {code: s for entry in group for code, s in entry.languages.items()}
            ordered = sorted(scores.values(), key=lambda s: (s.flores != ENGLISH, s.name, s.code))
            column = Column(
                config,
                label if len(groups) == 1 else f"{label} · data #{index}",
                {entry.model: entry for entry in group},
                ordered,
            )
            codes = set(scores)
            column.summaries = {entry.model: summarise(entry, codes) for entry in group}
            for entry in group:
                if column.summaries[entry.model].partial:
                    warnings.append(
                        f"{column.label}: {entry.display} has {len(entry.languages)} of {len(codes)} languages "
                        f"({', '.join(sorted(entry.languages))}); its mean is over those only (marked *)"
                    )
            columns.append(column)
    return columns


def _rows(columns: list[Column]) -> list[Row]:
    rows: dict[ModelKey, Row] = {}
    latest: dict[ModelKey, str] = {}
    for column in columns:
        for model, entry in column.entries.items():
            row = rows.setdefault(model, Row(model, entry.display, entry.role, []))
            if entry.run_id not in row.runs:
                row.runs.append(entry.run_id)
            if entry.created_at >= latest.get(model, ""):  # the role a model's newest run gives it
                latest[model], row.role = entry.created_at, entry.role

    def rank(row: Row) -> tuple[Any, ...]:
        """By the first column, then the next for models without it, ...: only one column's scores are ever
        compared with each other."""
        key: list[Any] = []
        for column in columns:
            summary = column.summaries.get(row.model)
            key += [summary is None, -(summary.mean or 0.0) if summary else 0.0]
        return (*key, row.display)

    return sorted(rows.values(), key=rank)


def _distinct_names(entries: list[Entry]) -> list[Entry]:
    """Models shown under the same name (a folder retrained, two folders of the same name) get the start of
    their fingerprint, or their path where that is the same too."""
    models: dict[str, set[ModelKey]] = {}
    for entry in entries:
        models.setdefault(entry.display, set()).add(entry.model)
    renamed = []
    for entry in entries:
        twins = models[entry.display]
        if len(twins) > 1:
            same_fingerprint = len({model.fingerprint for model in twins}) == 1
            suffix = entry.model.name if same_fingerprint else entry.model.fingerprint[:8]
            entry = dataclasses.replace(entry, display=f"{entry.display} [{suffix}]")
        renamed.append(entry)
    return renamed


def build(root: Path) -> Leaderboard:
    """Read every results file under ``root`` and lay out the leaderboard."""
    if not root.is_dir():
        raise ConfigError(f"results folder {root} does not exist")
    entries, problems, warnings, read = collect(root)
    if not entries:
        skipped = "".join(f"\n  {p.path}: {p.message}" for p in problems)
        raise XlhError(f"no results under {root} (run `make eval` first){skipped}")
    entries = _distinct_names(entries)
    chosen, superseded = _latest(entries)
    columns = _columns(chosen, warnings)
    return Leaderboard(root, _rows(columns), columns, problems, warnings, superseded, read)


def write(board: Leaderboard, out: Path | None = None) -> list[Path]:
    """Write the Markdown, CSV and HTML leaderboard into ``out`` (default: the results folder), each file
    atomically (a reader sees the old file or the new one, never half of one)."""
    from harness.render.leaderboard_html import to_html
    from harness.render.leaderboard_text import to_csv, to_markdown

    out = out or board.root
    texts = {"leaderboard.md": to_markdown(board), "leaderboard.csv": to_csv(board), "leaderboard.html": to_html(board)}
    paths = []
    for name, text in texts.items():
        atomic_write_text(out / name, text)  # honours the umask: a page others may read or serve
        paths.append(out / name)
    return paths


def main(root: Path) -> int:
    """``xlh leaderboard``: build and write, name skipped files on stderr."""
    import sys

    board = build(root)
    for problem in board.problems:
        print(f"xlh: skipped {problem.path}: {problem.message}", file=sys.stderr)
    for warning in board.warnings:
        print(f"xlh: warning: {warning}", file=sys.stderr)
    for path in write(board):
        print(path)
    return 0
