"""``harness.render.health``: the constructed run's counts (``tests/fixtures/health_runs.py``) exactly as each
format shows them: text and Markdown cells, CSV lines with their status, JSON with every number."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest

from harness.analysis.health import HealthReport, health_report
from harness.errors import ConfigError
from harness.render.health import CSV_COLUMNS, HEADER, render
from tests.fixtures import health_runs as hx


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> HealthReport:
    root = tmp_path_factory.mktemp("health")
    hx.write_health_run(root, data_dir, "base")
    hx.write_health_run(root, data_dir, "other", run_id="20260302-090000-health")
    return health_report([root])


def _rows(text: str, language: str) -> list[list[str]]:
    """The cells of the text table's rows of ``language`` (cells are split on two or more spaces)."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.startswith(f"{language} ")]


def test_text_rows_per_language_and_model(report: HealthReport) -> None:
    text = render(report, "text")
    assert "detector: lid:pycld2|v:0.42|map:1|plain-text|best-effort; off_target counted only where" in text
    assert "source_copy: sentence chrF++ >= 70 against the source" in text
    assert "flores200:default@devtest (text checked: hypothesis)" in text
    assert "mgsm:en_cot@test (text checked: final sentence)" in text
    into = _rows(text, "eng_Latn-swh_Latn")
    assert [row[1] for row in into] == ["base", "other"]  # the models of a language on adjacent rows
    assert into[0] == ["eng_Latn-swh_Latn", "base", "10", "1 (10.0%)", "1 (10.0%)", "—", "3/9 (33.3%)", "eng_Latn 3",
                       "1 (10.0%)", "1 (10.0%)", "swh_Latn 0.999"]  # fmt: skip
    assert _rows(text, "eng_Latn-ace_Latn")[0][6:9] == ["not covered", "0 (0.0%)", "0 (0.0%)"]
    assert _rows(text, "eng_Latn-ace_Latn")[0][-1] == "ace_Latn 0.000"
    native, en_cot = _rows(text, "sw")[0], _rows(text, "sw")[2]
    assert native[3:8] == ["0 (0.0%)", "1 (10.0%)", "1 (10.0%)", "2/10 (20.0%)", "eng_Latn 2"]
    assert en_cot[6:8] == ["2/10 (20.0%)", "zho_Hans 2"] and en_cot[-1] == "swh_Latn 0.999, eng_Latn 1.000"
    assert _rows(text, "de")[0] == ["de", "base", "10", "1 (10.0%)", "0 (0.0%)", "3 (30.0%)", "not checked",
                                    "not checked", "—", "—"]  # fmt: skip
    assert "runs:\n  base: " in text


def test_markdown_has_a_table_per_setting(report: HealthReport) -> None:
    text = render(report, "md")
    assert text.count("| " + " | ".join(HEADER) + " |") == 4
    assert "| eng_Latn-swh_Latn | base | 10 | 1 (10.0%) | 1 (10.0%) | — | 3/9 (33.3%) | eng_Latn 3 |" in text
    assert "| eng_Latn-ace_Latn | other | 10 | 0 (0.0%) | 0 (0.0%) | — | not covered |" in text


def test_csv_has_every_check_of_every_language_with_its_status(report: HealthReport) -> None:
    lines = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    assert tuple(lines[0]) == CSV_COLUMNS and len(lines) == 2 * 6 * 6  # 2 runs, 6 languages, 6 checks
    by = {
        (line["model"], line["language"], line["task"] + ":" + line["variant"], line["check"]): line for line in lines
    }
    off = by["base", "eng_Latn-swh_Latn", "flores200:default", "off_target"]
    assert (off["status"], off["count"], off["n"], float(off["share"])) == ("counted", "3", "9", 3 / 9)
    assert off["signature"].startswith("check:off_target|lid:pycld2") and off["detector_accuracy"] == "swh_Latn:0.999"
    ace = by["other", "eng_Latn-ace_Latn", "flores200:default", "off_target"]
    assert (ace["status"], ace["count"], ace["detector_accuracy"]) == ("not covered", "", "ace_Latn:0.0")
    assert by["base", "de", "xquad:default", "undetected"]["status"] == "not checked"
    assert by["base", "de", "xquad:default", "source_copy"]["status"] == "not applicable"
    assert by["base", "sw", "mgsm:native_cot", "unparsable"]["count"] == "1"


def test_json_holds_every_number(report: HealthReport) -> None:
    document = json.loads(render(report, "json"))
    assert document["detector"] == "lid:pycld2|v:0.42|map:1|plain-text|best-effort" and document["copy_threshold"] == 70
    assert document["denominators"]["off_target"] == "samples whose language was detected"
    flores = document["runs"][0]["settings"][0]
    assert (flores["task"], flores["variant"], flores["split"]) == ("flores200", "default", "devtest")
    into = flores["languages"][0]
    assert into["code"] == "eng_Latn-swh_Latn" and into["detector_accuracy"] == {"swh_Latn": 0.999}
    assert {check: (value["count"], value["n"]) for check, value in into["checks"].items()} == {
        "empty": (1, 10), "length_capped": (1, 10), "off_target": (3, 9), "undetected": (1, 10),
        "source_copy": (1, 10)}  # fmt: skip
    ace = flores["languages"][2]
    assert (ace["language_check"], ace["uncovered"], "off_target" in ace["checks"]) == (
        "not covered",
        ["ace_Latn"],
        False,
    )


def test_unknown_format() -> None:
    with pytest.raises(ConfigError, match="unknown format 'yaml'"):
        render(HealthReport("d", 70.0, []), "yaml")
