"""``harness.analysis.health``: every check counted exactly on constructed runs of real sentences
(``tests/fixtures/health_runs.py`` says what each sample is), the denominators, the detector's coverage and
accuracy, signatures, old runs, several models, and the errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.analysis.health import (
    COPY_THRESHOLD,
    HealthError,
    HealthReport,
    HealthValue,
    LanguageHealth,
    health_report,
)
from harness.api.registry import get_task
from harness.api.task import HealthView
from harness.metrics import language_id
from tests.fixtures import FIXTURE_RUNS
from tests.fixtures import alignment_runs as fx
from tests.fixtures import health_runs as hx


@pytest.fixture(scope="module")
def run_folder(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    return hx.write_health_run(tmp_path_factory.mktemp("health"), data_dir)


@pytest.fixture(scope="module")
def report(run_folder: Path) -> HealthReport:
    return health_report([run_folder])


def _language(report: HealthReport, key: str, code: str, run: int = 0) -> LanguageHealth:
    (setting,) = [setting for setting in report.runs[run].settings if setting.key == key]
    (language,) = [language for language in setting.languages if language.code == code]
    return language


def _counts(language: LanguageHealth) -> dict[str, tuple[int, int]]:
    return {check: (value.count, value.n) for check, value in language.checks.items()}


def test_flores_english_copies_empty_and_capped_are_counted(report: HealthReport) -> None:
    into = _language(report, "flores200:default@devtest", "eng_Latn-swh_Latn")
    assert _counts(into) == {"empty": (1, 10), "length_capped": (1, 10), "off_target": (3, 9), "undetected": (1, 10),
                             "source_copy": (1, 10)}  # fmt: skip
    assert into.checks["off_target"].share == pytest.approx(3 / 9)  # of the samples whose language was decided
    assert into.detected == {"swh_Latn": 6, "eng_Latn": 3, "none": 1} and into.language_check == "checked"
    back = _language(report, "flores200:default@devtest", "swh_Latn-eng_Latn")
    assert _counts(back) == {"empty": (0, 10), "length_capped": (0, 10), "off_target": (2, 10), "undetected": (0, 10),
                             "source_copy": (2, 10)}  # fmt: skip
    assert back.expected == ("eng_Latn",) and back.detected == {"eng_Latn": 8, "swh_Latn": 2}


def test_a_target_the_detector_does_not_cover_is_not_covered_and_its_accuracy_shown(report: HealthReport) -> None:
    ace = _language(report, "flores200:default@devtest", "eng_Latn-ace_Latn")
    assert not language_id.covered("ace_Latn")
    assert ace.language_check == "not covered" and ace.uncovered == ("ace_Latn",)
    assert "off_target" not in ace.checks and _counts(ace)["undetected"] == (0, 10)
    assert ace.detector_accuracy == {"ace_Latn": language_id.table()["ace_Latn"].accuracy} == {"ace_Latn": 0.0}
    swahili = _language(report, "flores200:default@devtest", "eng_Latn-swh_Latn")
    assert swahili.detector_accuracy == {"swh_Latn": language_id.table()["swh_Latn"].accuracy}


def test_mgsm_chains_of_thought_in_the_wrong_language(report: HealthReport) -> None:
    native = _language(report, "mgsm:native_cot@test", "sw")
    assert _counts(native) == {"empty": (0, 10), "length_capped": (1, 10), "unparsable": (1, 10),
                               "off_target": (2, 10), "undetected": (0, 10)}  # fmt: skip
    assert native.detected == {"swh_Latn": 8, "eng_Latn": 2}
    english = _language(report, "mgsm:en_cot@test", "sw")  # English reasoning is allowed; Chinese is not
    assert _counts(english)["off_target"] == (2, 10) and english.detected == {"eng_Latn": 8, "zho_Hans": 2}
    assert english.expected == ("swh_Latn", "eng_Latn") and set(english.detector_accuracy) == {"swh_Latn", "eng_Latn"}


def test_xquad_unparsable_answers_and_no_language_check(report: HealthReport) -> None:
    german = _language(report, "xquad:default@validation", "de")
    assert _counts(german) == {"empty": (1, 10), "length_capped": (0, 10), "unparsable": (3, 10)}
    assert german.language_check == "not checked" and german.expected == () and german.detected == {}


def test_signatures_name_the_check_the_detector_the_threshold_and_the_text(report: HealthReport) -> None:
    into = _language(report, "flores200:default@devtest", "eng_Latn-swh_Latn")
    off, copy = into.checks["off_target"].signature, into.checks["source_copy"].signature
    assert off.startswith("check:off_target|lid:pycld2|v:0.42|") and "|text:hypothesis|expected:swh_Latn|" in off
    assert copy.startswith("check:source_copy|text:hypothesis|chrF++>=70 vs source|sacrebleu:") and COPY_THRESHOLD == 70
    english = _language(report, "mgsm:en_cot@test", "sw")
    assert "|text:final sentence|expected:swh_Latn+eng_Latn|" in english.checks["off_target"].signature
    assert english.checks["unparsable"].signature.startswith("check:unparsable|parser:mgsm v3 en_cot|")
    assert report.detector == language_id.DETECTOR.signature


def test_near_copies_reach_the_threshold_translations_do_not(data_dir: Path) -> None:
    from harness.analysis.health import _copies

    example = get_task("flores200").load_local(data_dir, get_task("flores200").language("eng_Latn-deu_Latn"),
                                                  "devtest")[5]  # fmt: skip
    words = example.source.split()
    texts = [example.source, " ".join(words[:-1]), example.target, "", example.source.lower()]
    views = [HealthView(text, ("deu_Latn",), "hypothesis", example.source) for text in texts]
    assert _copies(views) == [True, True, False, False, True]
    assert _copies([HealthView("x", ("deu_Latn",))]) == [None]


def test_a_language_with_nothing_decided_has_off_target_0_of_0(tmp_path: Path, data_dir: Path) -> None:
    examples = get_task("flores200").load_local(data_dir, get_task("flores200").language("eng_Latn-deu_Latn"),
                                                   "devtest")[:3]  # fmt: skip
    entry, records = hx.scored("flores200", "default", "devtest", "eng_Latn-deu_Latn", examples, [("", "eos")] * 3)
    folder = fx.write(tmp_path, fx.run([entry]), records)
    (language,) = health_report([folder]).runs[0].settings[0].languages
    assert language.checks["off_target"] == HealthValue(0, None, 0, language.checks["off_target"].signature)
    assert _counts(language)["empty"] == (3, 3)


def test_schema_3_samples_have_no_split_nor_finish_reasons() -> None:
    report = health_report([FIXTURE_RUNS["base_schema3"]])
    (language,) = report.runs[0].settings[0].languages
    assert language.n == 6 and "length_capped" not in language.checks and language.checks["empty"].n == 6


def test_models_side_by_side_and_task_selection(tmp_path: Path, data_dir: Path) -> None:
    hx.write_health_run(tmp_path, data_dir, "base")
    hx.write_health_run(tmp_path, data_dir, "other", run_id="20260302-090000-health")
    report = health_report([tmp_path], ["mgsm:en_cot", "xquad@validation"])
    assert [run.model for run in report.runs] == ["base", "other"]
    assert [[setting.key for setting in run.settings] for run in report.runs] == [
        ["mgsm:en_cot@test", "xquad:default@validation"]
    ] * 2
    assert _counts(_language(report, "mgsm:en_cot@test", "sw", run=1))["off_target"] == (2, 10)


def test_errors_name_the_problem(tmp_path: Path, run_folder: Path) -> None:
    with pytest.raises(HealthError, match="no such run folder"):
        health_report([tmp_path / "nowhere"])
    sib = fx.write(tmp_path, fx.run([fx.score_task("sib200", {"deu_Latn": ("deu_Latn", 0.5)})], "sib"))
    with pytest.raises(HealthError, match=r"no generative task to check \(its tasks: sib200:default@test; "
                                          r"tasks with output health: flores200, mgsm, xquad\)"):  # fmt: skip
        health_report([sib])
    with pytest.raises(HealthError, match="no generative task matching belebele"):
        health_report([run_folder], ["belebele"])
    with pytest.raises(HealthError, match="no generative task matching mgsm:direct in"):
        health_report([tmp_path], ["mgsm:direct"])
