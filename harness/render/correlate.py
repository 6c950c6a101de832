"""``xlh correlate`` output: a finished ``CorrelationReport`` as a text table, Markdown, long-form CSV or JSON.

Coefficients are shown with three decimals and their bootstrap interval (``0.912 [0.514, 0.990]``), p-values
with two significant digits; a pair of series with fewer than 3 shared languages says "too few languages"
instead of numbers. CSV has one line per pair (raw numbers, empty where there are none); JSON holds the
per-language values of every series too, so a correlation can be recomputed from it.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from harness.analysis.correlate import Coefficient, Correlation, CorrelationReport, Series
from harness.render.regress import p_value
from harness.render.report_formats import render_as
from harness.render.text_tables import fixed_width_lines, markdown_cell, markdown_table

HEADER = ("alignment", "task score", "n", "Pearson r [95% CI]", "p", "Spearman rho [95% CI]", "p", "note")
CSV_COLUMNS = ("alignment_metric", "series", "task", "variant", "split", "metric", "direction", "n", "languages",
               "pearson", "pearson_low", "pearson_high", "pearson_p", "spearman", "spearman_low", "spearman_high",
               "spearman_p", "resamples", "skipped_resamples", "note")  # fmt: skip
MISSING = "—"


def _p(value: float) -> str:
    """``render.regress.p_value``, and ``0`` for a p-value that is exactly 0 (a perfect rank correlation)."""
    return "0" if value == 0 else p_value(value)


def coefficient_text(coefficient: Coefficient | None, reason: str | None) -> str:
    """``0.912 [0.514, 0.990]``; the reason (``too few languages``) where there is no number."""
    if coefficient is None:
        return reason or MISSING
    if coefficient.low is None or coefficient.high is None:
        return f"{coefficient.value:.3f} [no interval]"
    return f"{coefficient.value:.3f} [{coefficient.low:.3f}, {coefficient.high:.3f}]"


def _note(row: Correlation, resamples: int) -> str:
    if row.stats.skipped:
        return f"{row.stats.skipped} of {resamples} resamples constant, skipped"
    return ""


def grid(report: CorrelationReport) -> list[tuple[str, ...]]:
    """One row of cells per correlation, in ``HEADER``'s order."""
    rows: list[tuple[str, ...]] = []
    for row in report.correlations:
        stats = row.stats
        pearson, spearman = stats.pearson, stats.spearman
        rows.append((
            row.alignment_metric,
            row.series.label,
            str(stats.n),
            coefficient_text(pearson, stats.reason),
            _p(pearson.p) if pearson else "",
            coefficient_text(spearman, stats.reason),
            _p(spearman.p) if spearman else "",
            _note(row, report.bootstrap.resamples),
        ))  # fmt: skip
    return rows


def header_lines(report: CorrelationReport) -> list[str]:
    """What was correlated: the model, the alignment run, the languages, the bootstrap."""
    boot = report.bootstrap
    languages = sorted({code for series in report.alignment for code in series.values})
    return [
        f"model: {report.model} ({report.identity})",
        f"alignment run: {report.alignment_folder} ({report.alignment_setting}; {len(languages)} languages)",
        f"across languages matched by FLORES-200 code; bootstrap over languages: {boot.resamples} resamples, "
        f"numpy default_rng(seed={boot.seed}), {100 * boot.confidence:g}% percentile interval; p from scipy.stats",
    ]


def _task_lines(report: CorrelationReport) -> list[str]:
    return [f"{series.label}: {series.folder}" for series in report.tasks]


def render_text(report: CorrelationReport) -> str:
    """A fixed-width table under the header lines, then the task runs used and the notes."""
    lines = header_lines(report) + ["", *fixed_width_lines([HEADER, *grid(report)])]
    lines += ["", "task runs:", *(f"  {line}" for line in _task_lines(report))]
    if report.notes:
        lines += ["notes:", *(f"  {note}" for note in report.notes)]
    return "\n".join(lines) + "\n"


def render_markdown(report: CorrelationReport) -> str:
    """A Markdown table with the header lines above and the runs and notes below as lists."""
    lines = [f"### Alignment vs task scores: {markdown_cell(report.model)}", ""]
    lines += [f"- {markdown_cell(line)}" for line in header_lines(report)] + [""]
    lines += markdown_table([HEADER, *grid(report)], right_aligned=(2, 4, 6))
    lines += ["", "Task runs:", "", *(f"- {markdown_cell(line)}" for line in _task_lines(report))]
    if report.notes:
        lines += ["", "Notes:", "", *(f"- {markdown_cell(note)}" for note in report.notes)]
    return "\n".join(lines) + "\n"


def _raw(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def _coefficient_cells(coefficient: Coefficient | None) -> list[str]:
    if coefficient is None:
        return ["", "", "", ""]
    return [_raw(coefficient.value), _raw(coefficient.low), _raw(coefficient.high), _raw(coefficient.p)]


def render_csv(report: CorrelationReport) -> str:
    """One line per correlation: raw coefficients, intervals and p-values (empty where there are none)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.correlations:
        series, stats = row.series, row.stats
        note = stats.reason or _note(row, report.bootstrap.resamples)
        described = [row.alignment_metric, series.label, series.task, series.variant, series.split, series.metric]
        numbers = [*_coefficient_cells(stats.pearson), *_coefficient_cells(stats.spearman)]
        writer.writerow([*described, series.direction, stats.n, " ".join(row.languages), *numbers,
                         report.bootstrap.resamples, stats.skipped, note])  # fmt: skip
    return out.getvalue()


def _series_json(series: Series) -> dict[str, Any]:
    return {
        "label": series.label,
        "task": series.task,
        "variant": series.variant,
        "split": series.split,
        "metric": series.metric,
        "unit": str(series.unit),
        "direction": series.direction or None,
        "folder": str(series.folder),
        "values": dict(sorted(series.values.items())),
    }


def _coefficient_json(coefficient: Coefficient | None) -> dict[str, float | None] | None:
    if coefficient is None:
        return None
    return {"value": coefficient.value, "low": coefficient.low, "high": coefficient.high, "p": coefficient.p}


def render_json(report: CorrelationReport) -> str:
    """The whole report: runs, every series with its per-language values, every correlation, notes."""
    boot = report.bootstrap
    document = {
        "model": report.model,
        "identity": report.identity,
        "alignment_run": str(report.alignment_folder),
        "alignment_setting": report.alignment_setting,
        "bootstrap": {
            "resamples": boot.resamples,
            "seed": boot.seed,
            "confidence": boot.confidence,
            "method": "percentile, languages resampled with replacement",
        },  # fmt: skip
        "alignment": [_series_json(series) for series in report.alignment],
        "tasks": [_series_json(series) for series in report.tasks],
        "correlations": [
            {
                "alignment_metric": row.alignment_metric,
                "series": row.series.label,
                "n": row.stats.n,
                "languages": list(row.languages),
                "pearson": _coefficient_json(row.stats.pearson),
                "spearman": _coefficient_json(row.stats.spearman),
                "skipped_resamples": row.stats.skipped,
                "reason": row.stats.reason,
            }
            for row in report.correlations
        ],
        "notes": report.notes,
    }
    return json.dumps(document, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def render(report: CorrelationReport, fmt: str) -> str:
    """The report in one of ``FORMATS`` (or ``md``); an unknown format is a ConfigError."""
    return render_as(
        report, fmt, {"text": render_text, "markdown": render_markdown, "csv": render_csv, "json": render_json}
    )


__all__ = ["CSV_COLUMNS", "HEADER", "coefficient_text", "grid", "render"]
