"""Transfer tables as Markdown, CSV, LaTeX and terminal text (``harness.render.tables``), on tables built from
the stored runs: the same numbers in every format, formatted by their unit."""

from __future__ import annotations

import csv
import io

import pytest

from harness.analysis.table_model import Bootstrap, Cell, Table, TableError
from harness.analysis.table_runs import load_runs
from harness.analysis.tables import transfer_tables
from harness.api.metric import Unit
from harness.render.tables import CSV_COLUMNS, format_cell, latex_escape, render
from tests.fixtures import FIXTURE_RUNS

BOOT = Bootstrap(resamples=100, seed=3)


@pytest.fixture(scope="module")
def tables() -> list[Table]:
    runs = load_runs([FIXTURE_RUNS[short] for short in ("base", "math", "lang", "merged")])
    return [*transfer_tables(runs, ["sib200"], ["acc"], settings=BOOT),
            *transfer_tables(runs, ["flores200"], ["chrf++"], settings=BOOT)]  # fmt: skip


def _table(tables: list[Table], metric: str, kind: str) -> Table:
    (found,) = [table for table in tables if table.metric == metric and table.kind == kind]
    return found


def _cell(table: Table, row: str, column: str) -> Cell:
    found = next(r for r in table.rows if r.name == row)
    cell = found.cells[next(i for i, c in enumerate(table.columns) if c.key == column)]
    assert cell is not None
    return cell


@pytest.mark.parametrize(
    ("cell", "kind", "unit", "text"),
    [
        (Cell(0.4567, 0.0213), "scores", "fraction", "45.7 ± 2.1"),
        (Cell(45.67, 2.13), "scores", Unit.SCORE, "45.7 ± 2.1"),
        (Cell(-0.015, 0.008), "deltas", Unit.FRACTION, "−1.5 ± 0.8"),
        (Cell(-0.0004, 0.001), "deltas", Unit.FRACTION, "+0.0 ± 0.1"),  # never "−0.0"
        (Cell(0.015, 0.01, -0.003, 0.032), "merge_gain", Unit.FRACTION, "+1.5 [−0.3, +3.2]"),
        (Cell(3.0), "scores", Unit.COUNT, "3.0"),
        (None, "scores", Unit.FRACTION, "—"),
    ],
)
def test_a_cell_is_formatted_by_its_unit(cell, kind, unit, text) -> None:
    assert format_cell(cell, kind, unit) == text


def test_markdown_shows_titles_cells_best_parents_and_notes(tables) -> None:
    chosen = [_table(tables, "acc", kind) for kind in ("scores", "deltas", "merge_gain")]
    markdown = render(chosen, "md")
    en = _cell(chosen[0], "base", "eng_Latn")
    assert f"| base | {100 * en.value:.1f} ± {100 * en.stderr:.1f} |" in markdown
    assert "| --- | ---: |" in markdown and "### sib200:prompt_1 · acc (%) · merge gain vs best parent" in markdown
    assert "### sib200:prompt_1 · acc (%) · delta vs base" in markdown and "| math − base |" in markdown
    assert "paired bootstrap over item ids: 100 resamples, numpy default_rng(seed=3)" in markdown
    assert "- merge gain = merged − max(parents) per language; the best parent is chosen again" in markdown
    gain = _cell(chosen[2], "merged", "deu_Latn")
    assert f"{100 * gain.value:+.1f}".replace("-", "−") in markdown
    assert "|   best parent | math |" in markdown  # eng_Latn's best parent, the first column


def test_a_score_metric_is_shown_as_it_is(tables) -> None:
    table = _table(tables, "chrf++", "scores")
    text = render([table], "md")
    cell = _cell(table, "merged", "eng_Latn-deu_Latn")
    assert "### flores200:default · chrf++ (0-100) · scores" in text
    assert f"{cell.value:.1f} ± {cell.stderr:.1f}" in text


def test_csv_is_long_form_with_raw_values(tables) -> None:
    chosen = [_table(tables, "acc", "merge_gain"), _table(tables, "chrf++", "scores")]
    lines = list(csv.DictReader(io.StringIO(render(chosen, "csv"))))
    assert tuple(lines[0]) == CSV_COLUMNS
    assert len(lines) == sum(len(t.rows) * len(t.columns) for t in chosen)
    gain = _cell(chosen[0], "merged", "deu_Latn")
    line = next(r for r in lines if r["table"] == "merge_gain" and r["column"] == "German")
    assert (float(line["value"]), float(line["ci_low"]), float(line["ci_high"])) == (gain.value, gain.low, gain.high)
    assert line["unit"] == "fraction" and line["cell_versus"] == gain.versus and line["limit"] == ""
    assert line["versus"] == "best of math, lang" and line["role"] == "merged" and line["version"] == "1"
    chrf = next(r for r in lines if r["table"] == "scores" and r["model"] == "base" and r["column_kind"] == "mean")
    assert chrf["unit"] == "score" and chrf["task"] == "flores200" and chrf["split"] == "devtest"


def test_latex_is_booktabs_with_everything_escaped(tables) -> None:
    chosen = [_table(tables, "acc", kind) for kind in ("scores", "deltas", "merge_gain")]
    latex = render(chosen, "latex")
    assert latex.count(r"\toprule") == 3 and latex.count(r"\bottomrule") == 3 and r"\midrule" in latex
    assert r"$\pm$" in latex and r"gap (En $-$ mean)" in latex and "math" in latex
    assert r"\caption{sib200:prompt\_1 $\cdot$ acc (\%) $\cdot$ scores. sib200 v1 prompt\_1 test}" in latex
    assert "_" not in latex.replace(r"\_", "")  # every underscore escaped
    assert latex_escape("a_b & 50% ~ {x}") == r"a\_b \& 50\% \textasciitilde{} \{x\}"


def test_terminal_text_has_the_title_numbers_and_notes(tables) -> None:
    table = _table(tables, "acc", "scores")
    terminal = render([table], "terminal", width=250)
    en = _cell(table, "base", "eng_Latn")
    assert "sib200:prompt_1 · acc (%) · scores" in terminal
    assert f"{100 * en.value:.1f} ± {100 * en.stderr:.1f}" in terminal and "sib200 v1 prompt_1 test" in terminal


def test_an_unknown_format_is_refused(tables) -> None:
    with pytest.raises(TableError, match="unknown format 'html'"):
        render(tables, "html")
