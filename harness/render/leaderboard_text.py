"""The leaderboard as text: Markdown (the table, then per column its languages, the runs used, warnings and
skipped files) and CSV (one row per model, values as stored: fractions as fractions)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from harness.analysis.board import BoardColumn, ColumnConfig, Leaderboard, decoding_text, identity_text
from harness.api.metric import Unit
from harness.render.text_tables import markdown_cell


def scaled(value: float | None, unit: Unit) -> float | None:
    """A value on the scale it is shown on (``Unit.points``: fractions as %)."""
    return None if value is None else unit.points(value)


def cell(value: float | None, unit: Unit, signed: bool = False) -> str:
    """A value as tables show it (``Unit.format``), ``-`` for none."""
    return "-" if value is None else unit.format(value, signed=signed)


def unit_note(unit: Unit) -> str:
    """How a header names the unit: ``%``, ``0-100`` or ``count`` (``Unit.label``)."""
    return unit.label


def _relative(board: Leaderboard, path: Path) -> str:
    try:
        return str(path.relative_to(board.root))
    except ValueError:
        return str(path)


def _md_row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def to_markdown(board: Leaderboard) -> str:
    lines = [
        "# xlh leaderboard",
        "",
        f"{len(board.rows)} models, {len(board.columns)} task configurations, from {board.files_read} results "
        f"files under `{board.root}`. Each cell: the headline metric averaged over the languages of that run "
        "(fractions in %). Columns never mix task versions, data files, prompt variants, shots or LIMIT. "
        "`*`: fewer languages than the column has. Per-language scores, English, the non-English mean and the "
        "transfer gap (English minus the non-English mean) are below.",
        "",
    ]
    header = ["model", "role", *(f"{c.label} · {c.config.metric} ({unit_note(c.config.unit)})" for c in board.columns)]
    lines += [_md_row([markdown_cell(h) for h in header]), "|" + "---|" * 2 + "---:|" * len(board.columns)]
    for row in board.rows:
        cells = [markdown_cell(row.display), row.role or "-"]
        for column in board.columns:
            summary = column.summaries.get(row.model)
            text = cell(summary.mean, column.config.unit) if summary else "-"
            cells.append(text + ("*" if summary and summary.partial else ""))
        lines.append(_md_row(cells))
    for column in board.columns:
        lines += _md_column(board, column)
    lines += _md_provenance(board)
    return "\n".join(lines) + "\n"


def describe(config: ColumnConfig) -> str:
    """Everything that makes a column a column, in words."""
    setting = config.setting
    shots = f"{config.shots}" + (f" from {config.shots_from}" if config.shots_from else "")
    shots += f", seed {config.shot_seed}" if config.shot_seed is not None else ""
    limit = "all" if config.limit is None else f"{config.limit:g} ({config.sampling})"
    return (
        f"task {config.task} {config.version}, variant {config.variant}, split {config.split}, shots {shots}, "
        f"LIMIT {limit}, metric {config.metric} ({unit_note(config.unit)}), {decoding_text(setting)}, "
        f"dtype {setting.dtype}, harness {config.harness}"
    )


def _md_column(board: Leaderboard, column: BoardColumn) -> list[str]:
    """One column's section: each model's summary and every language (score ± standard error)."""
    unit = column.config.unit
    header = ["model", "mean", "English", "non-English", "gap", *(f"{s.name} ({s.code})" for s in column.languages)]
    lines = ["", f"## {markdown_cell(column.label)}", "", describe(column.config), ""]
    lines += [_md_row(header), "|---|" + "---:|" * (len(header) - 1)]
    for row in board.rows:
        summary, entry = column.summaries.get(row.model), column.entries.get(row.model)
        if summary is None or entry is None:
            continue
        values = [
            cell(summary.mean, unit) + ("*" if summary.partial else ""),
            cell(summary.english, unit),
            cell(summary.non_english, unit),
            cell(summary.gap, unit, signed=True),
        ]
        for language in column.languages:
            score = entry.languages.get(language.code)
            text = "-" if score is None else cell(score.value, unit)
            if score is not None and score.stderr is not None:
                text += f" ± {cell(score.stderr, unit)}"
            values.append(text)
        lines.append(_md_row([markdown_cell(row.display), *values]))
    return lines


def _md_provenance(board: Leaderboard) -> list[str]:
    """The runs each cell came from, the runs superseded, warnings and skipped files."""
    lines = ["", "## Runs used", "", "| model | column | run | created | file |", "|---|---|---|---|---|"]
    for column in board.columns:
        for entry in sorted(column.entries.values(), key=lambda e: e.display):
            where = f"`{_relative(board, entry.path)}`"
            lines.append(
                _md_row(
                    [markdown_cell(entry.display), markdown_cell(column.label), entry.run_id, entry.created_at, where]
                )
            )
    if board.superseded:
        lines += ["", "Superseded by a newer run of the same model and configuration:", ""]
        lines += [
            f"- {markdown_cell(e.display)}: run {e.run_id} ({e.created_at}), `{_relative(board, e.path)}`"
            for e in sorted(board.superseded, key=lambda e: (e.display, e.created_at))
        ]
    if board.warnings:
        lines += ["", "## Warnings", "", *(f"- {markdown_cell(w)}" for w in board.warnings)]
    if board.problems:
        lines += ["", "## Skipped files", ""]
        lines += [f"- `{_relative(board, p.path)}`: {markdown_cell(p.message)}" for p in board.problems]
    return lines


def to_csv(board: Leaderboard) -> str:
    """One row per model; per column its mean, English, non-English mean, gap and every language, as stored
    (fractions as fractions, not %)."""
    header = ["model", "name_or_path", "fingerprint", "identity", "harness", "role", "runs"]
    for column in board.columns:
        prefix = f"{column.label} · {column.config.metric}"
        header += [f"{prefix} · {part}" for part in ("mean", "English", "non-English", "gap", "languages")]
        header += [f"{prefix} · {s.code}" for s in column.languages]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)

    def number(value: float | None) -> str:  # the shortest text that reads back as the same float
        return "" if value is None else repr(value)

    for row in board.rows:
        values = [
            row.display,
            row.name_or_path,
            row.model.weights,
            identity_text(row.model),
            row.harness,
            row.role or "",
            " ".join(row.runs),
        ]
        for column in board.columns:
            summary = column.summaries.get(row.model)
            entry = column.entries.get(row.model)
            if summary is None or entry is None:
                values += [""] * (5 + len(column.languages))
                continue
            values += [number(v) for v in (summary.mean, summary.english, summary.non_english, summary.gap)]
            values.append(" ".join(summary.languages))
            values += [
                number(entry.languages[s.code].value) if s.code in entry.languages else "" for s in column.languages
            ]
        writer.writerow(values)
    return out.getvalue()
