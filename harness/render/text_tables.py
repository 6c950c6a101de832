"""Plain-text table pieces every renderer shares: a Markdown cell that keeps its ``|``, a Markdown table, and a
fixed-width table (header, rule, rows) for the terminal."""

from __future__ import annotations

from collections.abc import Collection, Sequence


def markdown_cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell (a ``|`` would end the cell)."""
    return text.replace("|", "\\|")


def markdown_table(rows: Sequence[Sequence[str]], right_aligned: Collection[int] = ()) -> list[str]:
    """A Markdown table: ``rows[0]`` the header, then the other rows, every cell escaped (``markdown_cell``); the
    columns at ``right_aligned`` (numbers) aligned right."""
    rule = "".join("---:|" if index in right_aligned else "---|" for index in range(len(rows[0])))
    lines = ["| " + " | ".join(markdown_cell(cell) for cell in rows[0]) + " |", "|" + rule]
    return lines + ["| " + " | ".join(markdown_cell(cell) for cell in row) + " |" for row in rows[1:]]


def fixed_width_lines(rows: Sequence[Sequence[str]]) -> list[str]:
    """A left-aligned table: ``rows[0]`` the header, a rule of dashes under it, then the other rows; columns two
    spaces apart, each as wide as its widest cell, trailing spaces cut."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            lines.append("  ".join("-" * width for width in widths))
    return lines
