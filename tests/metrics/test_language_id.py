"""harness/metrics/language_id.py: CLD2 labels as FLORES-200 codes, the measured accuracy table and the coverage
list read from it. FLORES sentences are read from the shared data, never copied here."""

from __future__ import annotations

import importlib.util
import sys
from importlib import metadata
from pathlib import Path

import pytest

from harness.api.languages import FLORES200_CODES
from harness.errors import DataError
from harness.metrics import language_id
from harness.metrics.language_id import DETECTOR, MIN_ACCURACY, AccuracyRow, Detection, detect

REPO_ROOT = Path(__file__).resolve().parents[2]
SCRIPT = REPO_ROOT / "benchmarks" / "measure_lid.py"


@pytest.fixture(scope="module")
def measure_lid():
    spec = importlib.util.spec_from_file_location("measure_lid", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["measure_lid"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["measure_lid"]


@pytest.mark.parametrize("flores", ["deu_Latn", "swh_Latn", "zho_Hans", "zho_Hant", "arb_Arab"])
def test_flores_sentences_are_detected_as_their_language(measure_lid, data_dir: Path, flores: str) -> None:
    """At least 9 of the first 10 (zho_Hant's 9th is kana-less text CLD2 calls Japanese: no FLORES code)."""
    detections = detect(measure_lid.sentences(data_dir, flores, limit=10))
    assert sum(d.flores == flores for d in detections) >= 9, detections
    assert all(d.flores in (flores, None) for d in detections)
    assert all(0.0 < d.confidence <= 1.0 and d.label for d in detections)


@pytest.mark.parametrize("text", ["", "   \n\t", "12 345 !!! 3.14", "🙂🙂"])
def test_no_letters_is_no_language(text: str) -> None:
    assert detect([text]) == [Detection(flores=None, label=None, confidence=0.0, reliable=False)]


def test_newlines_and_control_characters_are_read_past() -> None:
    """CLD2 calls C1 controls invalid UTF-8 (FLORES's Catalan has U+0097): they are spaces to it."""
    text = "Der Hund läuft\nüber die Straße und\u0097 bellt laut, weil er die Katze sieht.\ud800"
    assert detect([text])[0].flores == "deu_Latn"


def test_a_language_without_a_flores_code_in_the_texts_script_is_no_code() -> None:
    """Not guessed: Latin-script Serbian is not srp_Cyrl, a Tifinagh text is CLD2's script-only label."""
    serbian = detect(["Ovo je moja kuća, a ono tamo je škola u kojoj sam učio kada sam bio dete."])[0]
    assert serbian.flores is None or serbian.flores.endswith("_Latn")
    tifinagh = detect(["ⴰⵣⵓⵍ ⴼⵍⵍⴰⵡⵏ ⵎⴰⵏⵣⴰⴽⵉⵏ ⵜⴰⵎⴰⵣⵉⵖⵜ ⵜⵓⵙⵙⵏⴰ"])[0]
    assert tifinagh == Detection(
        flores=None, label="xx-Tfng", confidence=tifinagh.confidence, reliable=tifinagh.reliable
    )


def test_languages_the_detector_does_not_know_are_not_covered() -> None:
    assert "yue_Hant" not in language_id.outputs()  # CLD2 reads Cantonese as Chinese: never reported as yue_Hant
    assert not language_id.covered("yue_Hant")
    assert not language_id.covered("taq_Tfng")
    assert not language_id.covered("xyz_Latn")  # not a FLORES-200 code at all
    assert language_id.covered("deu_Latn") and language_id.covered("swh_Latn")
    assert not language_id.covered("bos_Latn")  # reported, but mostly as Croatian: below MIN_ACCURACY


def test_labels_become_flores_codes_by_langcodes_and_the_texts_script() -> None:
    assert language_id.candidates("sw") == ("swh_Latn",)
    assert language_id.candidates("fa") == ("pes_Arab",)  # not prs_Arab, which CLDR writes fa-AF
    assert language_id.candidates("ms") == ("zsm_Latn",)
    assert language_id.candidates("no") == ("nob_Latn",)
    assert language_id.candidates("iw") == ("heb_Hebr",)
    assert language_id.candidates("xx-Tfng") == ()
    assert language_id.to_flores("zh", "我们的国家很大，人口很多。") == "zho_Hans"
    assert language_id.to_flores("zh-Hant", "我们的国家很大，人口很多。") == "zho_Hans"  # CLD2's script is a guess
    assert language_id.to_flores("zh", "我們的國家很大，人口很多。") == "zho_Hant"
    assert language_id.to_flores("ku", "ئەمە کتێبێکی باشە") == "ckb_Arab"
    assert language_id.to_flores("ku", "Ev pirtûkeke baş e") == "kmr_Latn"
    assert language_id.to_flores("ja", "東京大学") is None  # no kana: no Japanese text
    assert language_id.to_flores("sr", "Ovo je moja kuća") is None


def test_the_stored_table_has_every_language_and_derives_the_coverage_list() -> None:
    table = language_id.table()
    assert list(table) == list(FLORES200_CODES)
    assert {code for code, row in table.items() if row.outputs} == language_id.outputs()
    assert language_id.coverage() == tuple(c for c, r in table.items() if r.outputs and r.accuracy >= MIN_ACCURACY)
    assert all(row.n == 1012 for row in table.values())
    assert 110 <= len(language_id.coverage()) <= len(language_id.outputs())


def test_the_stored_table_is_what_the_script_measures(measure_lid, data_dir: Path) -> None:
    """Whole languages, as the table was written: identical rows (the table keeps 4 decimals)."""
    codes = ("deu_Latn", "bos_Latn", "rus_Cyrl", "yue_Hant")  # rus_Cyrl: CLD2 lists "un" first at times
    measured = language_id.format_table(measure_lid.measure(data_dir, codes), [])
    assert measured == language_id.format_table([language_id.table()[code] for code in codes], [])


def test_the_scripts_slice_mode_counts_as_detect_does(measure_lid, data_dir: Path) -> None:
    rows = measure_lid.measure(data_dir, ("hrv_Latn", "zsm_Latn"), limit=50)
    for row in rows:
        detections = detect(measure_lid.sentences(data_dir, row.flores)[:50])
        assert row.n == 50
        assert row.accuracy == sum(d.flores == row.flores for d in detections) / 50


def test_table_text_round_trips_and_rejects_a_wrong_covered_column() -> None:
    rows = [AccuracyRow("deu_Latn", True, 4, 0.75, "eng_Latn", 0.25), AccuracyRow("yue_Hant", False, 4, 0.0, "", 0.0)]
    text = language_id.format_table(rows, [f"detector: {DETECTOR.signature}", "data: four lines"])
    assert language_id.parse_table(text) == (DETECTOR.signature, tuple(rows))
    with pytest.raises(DataError, match="covered says yes"):
        language_id.parse_table(text.replace("deu_Latn\tyes\tno", "deu_Latn\tyes\tyes"))


def test_accuracy_row_names_the_most_common_wrong_answer() -> None:
    detections = [
        Detection("hrv_Latn", "hr", 0.9, True),
        Detection("bos_Latn", "bs", 0.9, True),
        Detection(None, "xx-Tfng", 0.9, True),
        Detection(None, "xx-Tfng", 0.9, True),
    ]
    assert language_id.accuracy_row("bos_Latn", detections) == AccuracyRow(
        "bos_Latn", True, 4, 0.25, "label:xx-Tfng", 0.5
    )


def test_the_detector_version_is_recorded_and_pinned() -> None:
    assert metadata.version("pycld2") == DETECTOR.version
    assert f'"pycld2=={DETECTOR.version}",' in (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    signature = language_id.parse_table(
        (REPO_ROOT / "harness" / "metrics" / language_id.TABLE).read_text(encoding="utf-8")
    )[0]
    assert signature == DETECTOR.signature == "lid:pycld2|v:0.42|map:1|plain-text|best-effort"
    assert DETECTOR.model_sha256 is None  # CLD2's tables are compiled into the extension module
