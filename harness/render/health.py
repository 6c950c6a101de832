"""``xlh health`` output: a finished ``HealthReport`` as text tables, Markdown, long-form CSV or JSON.

One table per task setting (``task:variant@split``), a row per language and model (the models of a language on
adjacent rows, so they compare down a column), a column per check. A cell is the count and its share of the
check's denominator: ``2 (20.0%)``; off-target shows its denominator, the samples whose language was decided
(``2/9 (22.2%)``), and the language most off-target texts were in. A check that does not apply is "—"; off-target
where the detector does not cover an expected language is "not covered", and both language checks of a task
that names no expected language (XQuAD) are "not checked". The detector's own accuracy on each expected language
(FLORES devtest) closes the row. CSV has one line per run, setting, language and check (six per language, with
the status of those not counted); JSON holds the whole report, including how often each language was detected.
"""

from __future__ import annotations

import csv
import io
import json

from harness.analysis.health import (
    CHECKED,
    CHECKS,
    NOT_CHECKED,
    HealthReport,
    HealthValue,
    LanguageHealth,
    RunHealth,
    SettingHealth,
)
from harness.metrics import language_id
from harness.records.io import to_jsonable
from harness.render.report_formats import render_as
from harness.render.text_tables import fixed_width_lines, markdown_cell, markdown_table

HEADER = ("language", "model", "n", *CHECKS[:4], "off-target in", *CHECKS[4:], "detector accuracy")
CSV_COLUMNS = ("model", "identity", "folder", "run_id", "task", "variant", "split", "setting", "part", "language",
               "flores", "expected", "check", "status", "count", "n", "share", "signature",
               "detector_accuracy")  # fmt: skip
MISSING = "—"
LANGUAGE_CHECKS = ("off_target", "undetected")
DENOMINATORS = {
    "empty": "samples",
    "length_capped": "samples with finish reasons recorded",
    "unparsable": "samples (tasks with a parser)",
    "off_target": "samples whose language was detected",
    "undetected": "samples whose language is checked",
    "source_copy": "samples with a source",
}

Row = tuple[RunHealth, SettingHealth, LanguageHealth]


def _percent(share: float | None) -> str:
    return "n/a" if share is None else f"{100 * share:.1f}%"


def not_counted(check: str, language: LanguageHealth) -> str | None:
    """Why a language check has no number (``not covered``, ``not checked``), None where it has one."""
    if check in LANGUAGE_CHECKS and language.language_check != CHECKED:
        if language.language_check == NOT_CHECKED or check == "off_target":
            return language.language_check
    return None


def value_text(check: str, value: HealthValue | None, language: LanguageHealth) -> str:
    """One cell: ``2 (20.0%)``, off-target ``2/9 (22.2%)``, or why there is no number."""
    reason = not_counted(check, language)
    if reason is not None:
        return reason
    if value is None:
        return MISSING
    if check == "off_target":
        return f"{value.count}/{value.n} ({_percent(value.share)})"
    return f"{value.count} ({_percent(value.share)})"


def off_target_top(language: LanguageHealth) -> str:
    """The language off-target texts were most often in, with its count (``eng_Latn 3``), or ""."""
    if "off_target" not in language.checks:
        return ""
    wrong = [(code, count) for code, count in language.detected.items() if code not in language.expected]
    wrong = [(code, count) for code, count in wrong if code != language_id.NO_DETECTION]
    return f"{wrong[0][0]} {wrong[0][1]}" if wrong else ""


def accuracy_text(language: LanguageHealth) -> str:
    """The detector's FLORES devtest accuracy on each expected language: ``swh_Latn 0.999``."""
    shown = [f"{code} {accuracy:.3f}" for code, accuracy in language.detector_accuracy.items()]
    return ", ".join(shown) or MISSING


def rows_by_setting(report: HealthReport) -> dict[str, list[Row]]:
    """Per ``task:variant@split``, its rows: languages in first-seen order, each language's models adjacent."""
    grouped: dict[str, dict[str, list[Row]]] = {}
    for run in report.runs:
        for setting in run.settings:
            languages = grouped.setdefault(setting.key, {})
            for language in setting.languages:
                languages.setdefault(language.code, []).append((run, setting, language))
    return {key: [row for rows in languages.values() for row in rows] for key, languages in grouped.items()}


def _model(run: RunHealth, setting: SettingHealth, report: HealthReport) -> str:
    """The row's model; the setting's label too where the model has several settings of one task setting key."""
    same = [s for r in report.runs if r.model == run.model for s in r.settings if s.key == setting.key]
    return run.model if len(same) == 1 else f"{run.model} ({setting.label})"


def grid(report: HealthReport, rows: list[Row]) -> list[tuple[str, ...]]:
    """The cells of one table, in ``HEADER``'s order."""
    cells = []
    for run, setting, language in rows:
        values = [value_text(check, language.checks.get(check), language) for check in CHECKS]
        cells.append((language.code, _model(run, setting, report), str(language.n), *values[:4],
                      off_target_top(language), *values[4:], accuracy_text(language)))  # fmt: skip
    return cells


def header_lines(report: HealthReport) -> list[str]:
    return [
        f"detector: {report.detector}; off_target counted only where it covers every expected language "
        f"(accuracy >= {language_id.MIN_ACCURACY:g} on that language's FLORES devtest sentences)",
        f"source_copy: sentence chrF++ >= {report.copy_threshold:g} against the source",
        "shares: of the samples; " + "; ".join(f"{check}: of the {DENOMINATORS[check]}" for check in CHECKS[1:]),
    ]


def _setting_title(key: str, rows: list[Row]) -> str:
    parts = " / ".join(dict.fromkeys(setting.part for _, setting, _ in rows))
    return f"{key} (text checked: {parts})"


def _run_lines(report: HealthReport) -> list[str]:
    return [f"{run.model}: {run.folder} ({'; '.join(s.label for s in run.settings)})" for run in report.runs]


def render_text(report: HealthReport) -> str:
    """A fixed-width table per task setting under the header lines, then the runs used and the notes."""
    lines = header_lines(report)
    for key, rows in rows_by_setting(report).items():
        lines += ["", _setting_title(key, rows), *fixed_width_lines([HEADER, *grid(report, rows)])]
    lines += ["", "runs:", *(f"  {line}" for line in _run_lines(report))]
    if report.notes:
        lines += ["notes:", *(f"  {note}" for note in report.notes)]
    return "\n".join(lines) + "\n"


def render_markdown(report: HealthReport) -> str:
    """A Markdown table per task setting, the header lines, runs and notes as lists."""
    lines = ["### Output health", "", *(f"- {markdown_cell(line)}" for line in header_lines(report))]
    for key, rows in rows_by_setting(report).items():
        lines += ["", f"#### {markdown_cell(_setting_title(key, rows))}", ""]
        lines += markdown_table([HEADER, *grid(report, rows)], right_aligned=range(2, len(HEADER) - 1))
    lines += ["", "Runs:", "", *(f"- {markdown_cell(line)}" for line in _run_lines(report))]
    if report.notes:
        lines += ["", "Notes:", "", *(f"- {markdown_cell(note)}" for note in report.notes)]
    return "\n".join(lines) + "\n"


def summary_lines(report: HealthReport, worst: int = 3) -> list[str]:
    """A line per task setting for ``xlh eval``'s summary: each check's count over all languages, and the
    languages with the most off-target answers (``xlh health`` gives the whole table)."""
    lines = []
    for key, rows in rows_by_setting(report).items():
        parts = []
        for check in CHECKS:
            values = [value for _, _, language in rows if (value := language.checks.get(check)) is not None]
            if values and sum(value.count for value in values):
                count, n = sum(value.count for value in values), sum(value.n for value in values)
                parts.append(f"{check} {count}/{n}")
        off = [(value.share or 0.0, language.code) for _, _, language in rows
               if (value := language.checks.get("off_target")) is not None and value.count]  # fmt: skip
        if off:
            shown = ", ".join(f"{code} {_percent(share)}" for share, code in sorted(off, reverse=True)[:worst])
            parts.append(f"most off-target: {shown}")
        lines.append(f"{key}: {'; '.join(parts) or 'nothing to report'}")
    return lines


def render_html(report: HealthReport) -> str:
    """The leaderboard page's "Output health" section: the header lines, a table per task setting, the notes."""
    from html import escape

    parts = ['<h2 id="health">Output health</h2>', "<p><small>"]
    parts.append("<br>".join(escape(line) for line in header_lines(report)) + "</small></p>")
    for key, rows in rows_by_setting(report).items():
        head = "".join(f"<th>{escape(cell)}</th>" for cell in HEADER)
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in grid(report, rows)
        )
        parts += [f"<h3>{escape(_setting_title(key, rows))}</h3>",
                  f'<div class="wide"><table class="health"><thead><tr>{head}</tr></thead><tbody>{body}</tbody>'
                  "</table></div>"]  # fmt: skip
    if report.notes:
        parts.append("<ul>" + "".join(f"<li>{escape(note)}</li>" for note in report.notes) + "</ul>")
    return "\n".join(parts)


def _status(check: str, value: HealthValue | None, language: LanguageHealth) -> str:
    return not_counted(check, language) or ("counted" if value is not None else "not applicable")


def _raw(share: float | None) -> str:
    return "" if share is None else repr(share)


def render_csv(report: HealthReport) -> str:
    """One line per run, setting, language and check: raw count, denominator and share (empty where none)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for run in report.runs:
        for setting in run.settings:
            for language in setting.languages:
                accuracy = " ".join(f"{code}:{value!r}" for code, value in language.detector_accuracy.items())
                for check in CHECKS:
                    value = language.checks.get(check)
                    numbers = ["", "", "", ""] if value is None else [value.count, value.n, _raw(value.share),
                                                                      value.signature]  # fmt: skip
                    writer.writerow([run.model, run.identity, run.folder, run.run_id, setting.task, setting.variant,
                                     setting.split, setting.label, setting.part, language.code, language.flores,
                                     " ".join(language.expected), check, _status(check, value, language), *numbers,
                                     accuracy])  # fmt: skip
    return out.getvalue()


def render_json(report: HealthReport) -> str:
    """The whole report (``to_jsonable``), with the minimum accuracy and each check's denominator."""
    document = {"min_accuracy": language_id.MIN_ACCURACY, "denominators": DENOMINATORS, **to_jsonable(report)}
    return json.dumps(document, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def render(report: HealthReport, fmt: str) -> str:
    """The report in one of ``FORMATS`` (or ``md``); an unknown format is a ConfigError."""
    return render_as(
        report, fmt, {"text": render_text, "markdown": render_markdown, "csv": render_csv, "json": render_json}
    )


__all__ = ["CSV_COLUMNS", "HEADER", "render", "value_text"]
