"""``harness.render.correlate``: the four formats of one report, "too few languages" in place of numbers, and the
per-language values in JSON."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from harness.analysis.correlate import Coefficient, Correlation, CorrelationReport, PairStats, Series
from harness.analysis.table_model import Bootstrap
from harness.api.metric import Unit
from harness.errors import ConfigError
from harness.render.correlate import CSV_COLUMNS, coefficient_text, render


def _series(label: str, values: dict[str, float], direction: str = "") -> Series:
    return Series(label, "flores200", "default", "devtest", "chrf++", Unit.SCORE, Path("r/b/run2"), values, direction)


def _report() -> CorrelationReport:
    mexa = Series("mexa_mean", "alignment", "default", "devtest", "mexa_mean", Unit.FRACTION, Path("r/b/run1"),
                  {"deu_Latn": 0.5, "fra_Latn": 0.6, "swh_Latn": 0.2})  # fmt: skip
    into = _series("flores200:default@devtest chrf++ eng_Latn->X", {"deu_Latn": 50.0, "fra_Latn": 55.0,
                   "swh_Latn": 20.0}, "eng_Latn->X")  # fmt: skip
    few = _series("flores200:default@devtest chrf++ X->eng_Latn", {"deu_Latn": 60.0}, "X->eng_Latn")
    full = PairStats(3, Coefficient(0.98, 0.12, 0.5, 1.0), Coefficient(1.0, 0.0, None, None), skipped=12)
    rows = [Correlation("mexa_mean", into, ("deu_Latn", "fra_Latn", "swh_Latn"), full),
            Correlation("mexa_mean", few, ("deu_Latn",), PairStats(1, reason="too few languages"))]  # fmt: skip
    return CorrelationReport("base", "fingerprint 0123456789ab", Path("r/b/run1"), "alignment v1 default devtest",
                             [mexa], [into, few], rows, Bootstrap(200, 9), ["a note"])  # fmt: skip


def test_text_and_markdown_show_intervals_and_too_few_languages() -> None:
    text = render(_report(), "text")
    assert "0.980 [0.500, 1.000]" in text and "1.000 [no interval]" in text and "0.12" in text
    assert "12 of 200 resamples constant, skipped" in text and "seed=9" in text and "200 resamples" in text
    few = next(line for line in text.splitlines() if "X->eng_Latn  " in line)
    assert few.count("too few languages") == 2
    markdown = render(_report(), "md")
    assert markdown == render(_report(), "markdown") and "| mexa_mean | flores200:default@devtest chrf++" in markdown
    assert "- a note" in markdown


def test_csv_has_one_line_per_correlation_with_raw_numbers() -> None:
    lines = list(csv.DictReader(io.StringIO(render(_report(), "csv"))))
    assert tuple(lines[0]) == CSV_COLUMNS and len(lines) == 2
    assert lines[0]["pearson"] == "0.98" and lines[0]["spearman_low"] == "" and lines[0]["skipped_resamples"] == "12"
    assert lines[1]["pearson"] == "" and lines[1]["note"] == "too few languages" and lines[1]["n"] == "1"


def test_json_holds_every_series_values() -> None:
    document = json.loads(render(_report(), "json"))
    assert document["alignment"][0]["values"] == {"deu_Latn": 0.5, "fra_Latn": 0.6, "swh_Latn": 0.2}
    assert document["tasks"][0]["direction"] == "eng_Latn->X" and document["bootstrap"]["seed"] == 9
    assert document["correlations"][1]["pearson"] is None and document["correlations"][1]["reason"]
    assert coefficient_text(None, None) == "—"
    with pytest.raises(ConfigError, match="unknown format 'html'"):
        render(_report(), "html")
