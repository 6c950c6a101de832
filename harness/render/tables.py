"""Finished transfer tables (``harness.analysis.table_model.Table``) as text: terminal (rich), Markdown, CSV
(long form: one line per table, model and column, raw values with their unit) and LaTeX (booktabs).

Numbers are formatted by their ``Unit`` (a fraction as a percentage, a 0-100 score as it is), with one
decimal: scores ``45.7 ± 2.1``, deltas ``+1.5 ± 0.8``, merge gains ``+1.5 [−0.3, +3.2]``.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from typing import Any

from harness.analysis.table_model import Cell, Table, TableError
from harness.api.metric import Unit
from harness.render.text_tables import markdown_cell

FORMATS = ("terminal", "md", "csv", "latex")
CSV_COLUMNS = ("task", "variant", "metric", "unit", "table", "model", "role", "versus", "column", "column_kind",
               "value", "stderr", "ci_low", "ci_high", "cell_versus", "version", "split", "shots", "limit")  # fmt: skip
MISSING = "—"


def format_cell(cell: Cell | None, kind: str, unit: Unit | str, pm: str = "±", minus: str = "−") -> str:
    """One cell as tables show it: a score ± its stderr, a signed delta ± its stderr, or a signed merge gain
    with its interval; ``—`` for no cell."""
    if cell is None:
        return MISSING
    shown = Unit.of(unit)

    def number(x: float, signed: bool) -> str:
        return shown.format(x, signed=signed, minus=minus)

    error = f" {pm} {number(cell.stderr, False)}" if cell.stderr is not None else ""
    if kind == "scores":
        return number(cell.value, False) + error
    if kind == "deltas":
        return number(cell.value, True) + error
    if cell.low is None or cell.high is None:
        return number(cell.value, True)
    return f"{number(cell.value, True)} [{number(cell.low, True)}, {number(cell.high, True)}]"


def grid(table: Table) -> tuple[list[str], list[list[str]]]:
    """The header and body as text cells; a merge gain row is followed by its best parent per language."""
    header = ["model", *(column.label for column in table.columns)]
    body = []
    for row in table.rows:
        name = f"{row.name} − {row.versus}" if row.versus else row.name
        body.append([name, *(format_cell(cell, table.kind, table.unit) for cell in row.cells)])
        if table.kind == "merge_gain":
            body.append(["  best parent", *(cell.versus or "" if cell else "" for cell in row.cells)])
    return header, body


def render_markdown(tables: Sequence[Table]) -> str:
    """One ``###`` section per table: the table, then its notes as a list."""
    parts = []
    for table in tables:
        header, body = grid(table)
        lines = [f"### {table.title}", "", "| " + " | ".join(header) + " |"]
        lines.append("|" + "|".join([" --- "] + [" ---: "] * (len(header) - 1)) + "|")
        lines += ["| " + " | ".join(markdown_cell(cell) for cell in row) + " |" for row in body]
        lines += ["", *(f"- {note}" for note in table.notes), ""]
        parts.append("\n".join(lines))
    return "\n".join(parts)


def render_csv(tables: Sequence[Table]) -> str:
    """Long form: one line per table, model and column, raw values (unit "fraction": 0-1)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for table in tables:
        s = table.setting
        for row in table.rows:
            for column, cell in zip(table.columns, row.cells, strict=True):
                numbers = [_raw(getattr(cell, name, None)) for name in ("value", "stderr", "low", "high")]
                writer.writerow([s.task, s.variant, table.metric, str(table.unit), table.kind, row.name,
                                 row.role or "", row.versus, column.label, column.kind, *numbers,
                                 (cell.versus or "") if cell else "", s.version, s.split, s.shots,
                                 "" if row.limit is None else row.limit])  # fmt: skip
    return out.getvalue()


def _raw(value: float | None) -> str:
    return "" if value is None or math.isnan(value) else repr(float(value))


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
                  "±": r"$\pm$", "−": r"$-$", "→": r"$\rightarrow$", "—": "---", "·": r"$\cdot$"}  # fmt: skip


def latex_escape(text: str) -> str:
    """``text`` with LaTeX's special characters escaped and typographic signs as math."""
    return "".join(_LATEX_ESCAPES.get(char, char) for char in text)


def render_latex(tables: Sequence[Table]) -> str:
    """One booktabs ``table`` per Table (needs ``\\usepackage{booktabs}``); the caption is the title and the
    first note (the setting)."""
    parts = []
    for table in tables:
        header, body = grid(table)
        spec = "l" + "r" * (len(header) - 1)
        lines = [r"\begin{table}[t]", r"\centering", r"\small", rf"\begin{{tabular}}{{{spec}}}", r"\toprule"]
        lines.append(" & ".join(latex_escape(h) for h in header) + r" \\")
        lines.append(r"\midrule")
        lines += [" & ".join(latex_escape(cell) for cell in row) + r" \\" for row in body]
        lines += [r"\bottomrule", r"\end{tabular}", rf"\caption{{{latex_escape(table.title)}. "
                  rf"{latex_escape(table.notes[0]) if table.notes else ''}}}", r"\end{table}", ""]  # fmt: skip
        parts.append("\n".join(lines))
    return "\n".join(parts)


def render_rich(tables: Sequence[Table]) -> list[Any]:
    """rich Tables (print them with a rich Console); the notes are the caption."""
    from rich.table import Table as RichTable

    rendered = []
    for table in tables:
        header, body = grid(table)
        out = RichTable(title=table.title, caption="\n".join(table.notes), caption_justify="left")
        out.add_column(header[0], no_wrap=True)
        for label in header[1:]:
            out.add_column(label, justify="right")
        for row in body:
            out.add_row(*row, style="dim" if row[0].startswith("  ") else None)
        rendered.append(out)
    return rendered


def render(tables: Sequence[Table], fmt: str, width: int | None = None) -> str:
    """The tables as text in ``fmt`` (one of FORMATS); terminal text without colours for files and pipes.

    Raises:
        TableError: an unknown format.
    """
    if fmt == "md":
        return render_markdown(tables)
    if fmt == "csv":
        return render_csv(tables)
    if fmt == "latex":
        return render_latex(tables)
    if fmt == "terminal":
        from rich.console import Console

        buffer = io.StringIO()
        console = Console(file=buffer, width=width or 200, no_color=True, force_terminal=False)
        for rich_table in render_rich(tables):
            console.print(rich_table)
        return buffer.getvalue()
    raise TableError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")


__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "format_cell",
    "grid",
    "latex_escape",
    "render",
    "render_csv",
    "render_latex",
    "render_markdown",
    "render_rich",
]
