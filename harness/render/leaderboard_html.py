"""The leaderboard as one static HTML file: a sortable table (a few lines of inline JS, no framework), a
transfer-gap chart and a heatmap (models x languages) per task column, drawn with matplotlib and inlined
as PNG data URLs, so the page needs no server and no other file (it can be mailed or kept as a CI artifact).
"""

from __future__ import annotations

import base64
import io
import math
from html import escape

import matplotlib
from matplotlib.figure import Figure

from harness.analysis.board import BoardColumn, BoardRow, LanguageScore, Leaderboard, identity_text
from harness.api.metric import Unit
from harness.render.leaderboard_text import cell, describe, scaled, unit_note

PARTS = (("mean", "mean"), ("english", "en"), ("non_english", "non-en"), ("gap", "gap"))
ANNOTATE_CELLS = 600  # heatmaps with more cells (or more than MANY_LANGUAGES columns) go without numbers
INCHES_PER_LANGUAGE, INCHES_PER_MODEL, MAX_WIDTH, MANY_LANGUAGES = 0.55, 0.4, 28.0, 50

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; }
td[data-key="model"] { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th[data-key] { cursor: pointer; user-select: none; background: #f3f3f3; }
th[aria-sort="descending"]::after { content: " \\25BC"; }
th[aria-sort="ascending"]::after { content: " \\25B2"; }
.warnings { background: #fff6dc; border: 1px solid #e0c060; padding: 0.5em 1em; }
.problems { background: #fde8e8; border: 1px solid #d08080; padding: 0.5em 1em; }
img { max-width: 100%; }
.wide { overflow-x: auto; }
.wide img { max-width: none; }  /* a 200-language heatmap scrolls rather than shrinks */
code { font-size: 90%; }
"""

# Click a header: numbers sort high to low first, text A to Z; click again to reverse. Empty cells stay last.
SCRIPT = """
(function () {
  var table = document.getElementById("leaderboard");
  var body = table.tBodies[0];
  table.querySelectorAll("th[data-key]").forEach(function (th) {
    th.addEventListener("click", function () {
      var key = th.dataset.key, numeric = th.dataset.type === "number";
      var now = th.getAttribute("aria-sort");
      var order = now ? (now === "descending" ? "ascending" : "descending") : (numeric ? "descending" : "ascending");
      table.querySelectorAll("th[aria-sort]").forEach(function (other) { other.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", order);
      var value = function (row) { return row.querySelector('td[data-key="' + key + '"]').dataset.value; };
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = value(a), y = value(b);
        if (x === "" || y === "") { return (x === "") - (y === ""); }
        var c = numeric ? Number(x) - Number(y) : x.localeCompare(y);
        return order === "ascending" ? c : -c;
      });
      rows.forEach(function (row) { body.appendChild(row); });
    });
  });
})();
"""


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight", metadata={"Software": None})
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _shown(score: LanguageScore | None, unit: Unit) -> float:
    value = None if score is None else scaled(score.value, unit)
    return math.nan if value is None else value


def heatmap(board: Leaderboard, column: BoardColumn) -> str:
    """Models x languages of one column, as a PNG data URL."""
    rows = [row for row in board.rows if row.model in column.entries]
    unit = column.config.unit
    values = [
        [_shown(column.entries[row.model].languages.get(lang.code), unit) for lang in column.languages] for row in rows
    ]
    width = min(MAX_WIDTH, 2.5 + INCHES_PER_LANGUAGE * len(column.languages))
    figure = Figure(figsize=(width, 1.2 + INCHES_PER_MODEL * len(rows)))
    axes = figure.subplots()
    colours = matplotlib.colormaps["viridis"].with_extremes(bad="#dddddd")  # grey: a language not run
    image = axes.imshow(values, aspect="auto", cmap=colours, interpolation="nearest")
    small = len(column.languages) > MANY_LANGUAGES  # 200-language tasks: smaller labels, still legible
    axes.set_xticks(
        range(len(column.languages)), [lang.code for lang in column.languages], rotation=90, fontsize=6 if small else 9
    )
    axes.set_yticks(range(len(rows)), [row.display for row in rows])
    if not small and len(rows) * len(column.languages) <= ANNOTATE_CELLS:
        finite = [v for line in values for v in line if not math.isnan(v)]
        middle = (min(finite) + max(finite)) / 2 if finite else 0.0
        for y, line in enumerate(values):
            for x, value in enumerate(line):
                if not math.isnan(value):
                    colour = "black" if value > middle else "white"
                    axes.text(x, y, f"{value:.1f}", ha="center", va="center", fontsize=8, color=colour)
    axes.set_title(f"{column.label}: {column.config.metric} ({unit_note(unit)})", fontsize=10)
    figure.colorbar(image, ax=axes, fraction=0.04)
    return _png(figure)


def gap_chart(board: Leaderboard) -> str | None:
    """The transfer gap (English minus the non-English mean) of every model in every column that has
    English and another language; one panel per column (units differ between tasks)."""
    panels = [c for c in board.columns if any(s.gap is not None for s in c.summaries.values())]
    if not panels:
        return None
    heights = [0.6 + 0.3 * sum(1 for r in board.rows if r.model in c.summaries) for c in panels]
    figure = Figure(figsize=(9, 0.8 + sum(heights)))
    axes_list = figure.subplots(len(panels), 1, squeeze=False, height_ratios=heights)[:, 0]
    for axes, column in zip(axes_list, panels, strict=True):
        rows = [r for r in board.rows if r.model in column.summaries]
        gaps = [scaled(column.summaries[r.model].gap, column.config.unit) for r in rows]
        shown = [0.0 if g is None else g for g in gaps]
        colours = ["#bbbbbb" if g is None else ("#c0504d" if g > 0 else "#4f81bd") for g in gaps]
        axes.barh(range(len(rows)), shown, color=colours)
        axes.set_yticks(range(len(rows)), [r.display for r in rows])
        axes.invert_yaxis()
        axes.axvline(0, color="black", linewidth=0.8)
        reach = 1.1 * max([1.0, *(abs(g) for g in shown)])  # symmetric, at least ±1: zero stays in the middle
        axes.set_xlim(-reach, reach)
        axes.set_title(column.label, fontsize=9, loc="left")
        scale = "points" if column.config.unit is Unit.FRACTION else unit_note(column.config.unit)
        axes.set_xlabel(f"English − non-English mean ({scale})", fontsize=8)
    figure.tight_layout()
    return _png(figure)


def _number_cell(key: str, value: float | None, text: str, title: str = "") -> str:
    data = "" if value is None else repr(value)
    hint = f' title="{escape(title)}"' if title else ""
    return f'<td class="num" data-key="{key}" data-value="{data}"{hint}>{escape(text)}</td>'


def _table(board: Leaderboard) -> str:
    head_top = [
        '<th rowspan="2" data-key="model" data-type="text">model</th>',
        '<th rowspan="2" data-key="role" data-type="text">role</th>',
    ]
    head_parts = []
    for index, column in enumerate(board.columns):
        title = f"{column.config.metric} ({unit_note(column.config.unit)})"
        head_top.append(
            f'<th colspan="{len(PARTS)}" title="{escape(title)}">'
            f"{escape(column.label)}<br><small>{escape(title)}</small></th>"
        )
        head_parts += [f'<th data-key="c{index}-{part}" data-type="number">{name}</th>' for part, name in PARTS]
    lines = [
        '<table id="leaderboard">',
        "<thead>",
        "<tr>" + "".join(head_top) + "</tr>",
        "<tr>" + "".join(head_parts) + "</tr>",
        "</thead>",
        "<tbody>",
    ]
    for row in board.rows:
        cells = [
            f'<td data-key="model" data-value="{escape(row.display)}" title="{escape(_about(row))}">'
            f"{escape(row.display)}</td>",
            f'<td data-key="role" data-value="{escape(row.role or "")}">{escape(row.role or "-")}</td>',
        ]
        for index, column in enumerate(board.columns):
            cells += _summary_cells(index, column, row)
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines += ["</tbody>", "</table>"]
    return "\n".join(lines)


def _about(row: BoardRow) -> str:
    return f"{row.name_or_path} ({row.harness}, {identity_text(row.model)}); runs: {', '.join(row.runs)}"


def _summary_cells(index: int, column: BoardColumn, row: BoardRow) -> list[str]:
    summary = column.summaries.get(row.model)
    unit = column.config.unit
    if summary is None:
        return [_number_cell(f"c{index}-{part}", None, "-") for part, _ in PARTS]
    entry = column.entries[row.model]
    where = f"run {entry.run_id} ({entry.created_at}); languages: {', '.join(summary.languages)}"
    cells = []
    for part, _ in PARTS:
        value = getattr(summary, part)
        text = cell(value, unit, signed=part == "gap") + ("*" if part == "mean" and summary.partial else "")
        cells.append(_number_cell(f"c{index}-{part}", scaled(value, unit), text, where))
    return cells


def _details(board: Leaderboard, column: BoardColumn) -> str:
    unit = column.config.unit
    header = "".join(f"<th>{escape(lang.name)}<br><small>{escape(lang.code)}</small></th>" for lang in column.languages)
    lines = [f"<table><thead><tr><th>model</th>{header}</tr></thead><tbody>"]
    for row in board.rows:
        entry = column.entries.get(row.model)
        if entry is None:
            continue
        cells = []
        for lang in column.languages:
            score = entry.languages.get(lang.code)
            if score is None:
                cells.append('<td class="num">-</td>')
                continue
            text = cell(score.value, unit) + (f" ± {cell(score.stderr, unit)}" if score.stderr is not None else "")
            cells.append(f'<td class="num" title="n = {score.n}">{escape(text)}</td>')
        lines.append(f"<tr><td>{escape(row.display)}</td>{''.join(cells)}</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def _runs(board: Leaderboard) -> str:
    rows = "".join(
        f"<tr><td>{escape(e.display)}</td><td>{escape(col.label)}</td><td>{escape(e.run_id)}</td>"
        f"<td>{escape(e.created_at)}</td><td><code>{escape(str(e.path))}</code></td></tr>"
        for col in board.columns
        for e in sorted(col.entries.values(), key=lambda e: e.display)
    )
    html = (
        "<h2>Runs used</h2><table><thead><tr><th>model</th><th>column</th><th>run</th><th>created</th><th>file</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )
    if board.superseded:
        items = "".join(
            f"<li>{escape(e.display)}: run {escape(e.run_id)} ({escape(e.created_at)})</li>" for e in board.superseded
        )
        html += f"<p>Superseded by a newer run of the same model and configuration:</p><ul>{items}</ul>"
    return html


def to_html(board: Leaderboard, health: str = "") -> str:
    """The page; ``health``: the output-health section (``render.health.render_html``), shown before the runs."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<link rel="icon" href="data:,">',  # no favicon request (a console error on file://)
        "<title>xlh leaderboard</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>xlh leaderboard</h1>",
        f"<p>{len(board.rows)} models, {len(board.columns)} task configurations, from {board.files_read} results "
        f"files under <code>{escape(str(board.root))}</code>. Per column: the headline metric averaged over the "
        "run's languages (<b>mean</b>; fractions in %), English (<b>en</b>), the mean over the other languages "
        "(<b>non-en</b>) and the transfer <b>gap</b> (en minus non-en). Columns never mix task versions, data "
        "files, prompt variants, shots or LIMIT. <b>*</b>: fewer languages than the column has. Click a header "
        "to sort.</p>",
    ]
    if board.warnings:
        items = "".join(f"<li>{escape(w)}</li>" for w in board.warnings)
        parts.append(f'<div class="warnings" id="warnings"><b>Warnings</b><ul>{items}</ul></div>')
    if board.problems:
        items = "".join(f"<li><code>{escape(str(p.path))}</code>: {escape(p.message)}</li>" for p in board.problems)
        parts.append(f'<div class="problems" id="problems"><b>Skipped files</b><ul>{items}</ul></div>')
    parts.append(f'<div class="wide">{_table(board)}</div>')
    chart = gap_chart(board)
    if chart:
        parts += [
            "<h2>Transfer gap</h2>",
            f'<img id="transfer-gap" alt="transfer gap per model and task" src="{chart}">',
        ]
    parts.append("<h2>Per language</h2>")
    for index, column in enumerate(board.columns):
        parts += [
            f'<h3 id="column-{index}">{escape(column.label)}</h3>',
            f"<p><small>{escape(describe(column.config))}</small></p>",
            f'<div class="wide"><img class="heatmap" alt="{escape(column.label)}: models x languages" '
            f'src="{heatmap(board, column)}"></div>',
            f"<details><summary>scores ± standard error</summary>{_details(board, column)}</details>",
        ]
    parts += [health, _runs(board), f"<script>{SCRIPT}</script>", "</body></html>"]
    return "\n".join(parts) + "\n"
