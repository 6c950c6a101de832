from decimal import Decimal
from pathlib import Path

import pytest

from harness.errors import DataError
from harness.requests import GenerationRequest
from tasks.mgsm import DIRECT_WORDS, EXPECTED_ROWS, LANGUAGES, Mgsm, MgsmExample

TASK = Mgsm()


def _language(code: str):
    return TASK.language(code)


def test_every_language_loads_250_parallel_problems(data_dir: Path) -> None:
    golds = None
    for language in LANGUAGES:
        examples = TASK.load_local(data_dir, language, "test")
        assert len(examples) == EXPECTED_ROWS
        answers = [example.answer for example in examples]
        golds = golds or answers
        assert answers == golds  # parallel across languages


def test_thousands_separator_gold_answers_are_numbers(data_dir: Path) -> None:
    answers = {example.answer for example in TASK.load_local(data_dir, _language("en"), "test")}
    assert {Decimal(2125), Decimal(114200), Decimal(276000), Decimal(5600)} <= answers


def test_direct_prompts_match_lm_eval(data_dir: Path) -> None:
    # lm-eval 0.4.13 mgsm_direct_de / _fr / _zh doc_to_text and `until` for the test split.
    example = MgsmExample(id="0", question="Q?", answer=Decimal(1))
    de = TASK.requests(example, _language("de"), "direct")
    assert de == [GenerationRequest(prompt="Frage: Q?\nAntwort:", stop=("Frage:",))]
    fr = TASK.requests(example, _language("fr"), "direct")[0]
    assert fr.prompt == "Question : Q?\nRéponse :" and fr.stop == ("Question :",)
    zh = TASK.requests(example, _language("zh"), "direct")[0]
    assert zh.prompt == "问题： Q?\nAnswer:" and zh.stop == ("问题：",)


def test_prompt_table_covers_every_language() -> None:
    assert set(DIRECT_WORDS) == {language.code for language in LANGUAGES}


@pytest.mark.parametrize(
    ("response", "exact", "flexible", "exact_lmeval", "flexible_lmeval"),
    [
        (" 18", 1, 1, 1, 1),
        (" 18.00", 1, 1, 0, 0),  # lm-eval deletes the point: "1800" != "18"
        (" 18 dollars", 0, 1, 0, 1),
        (" She makes 9 * 2 = $18.", 0, 1, 0, 1),
        (" I don't know", 0, 0, 0, 0),
    ],
)
def test_scoring_compares_numbers(response, exact, flexible, exact_lmeval, flexible_lmeval) -> None:
    example = MgsmExample(id="0", question="", answer=Decimal(18))
    scores = TASK.score(example, _language("en"), "direct", [response]).scores
    assert scores["exact_match"] == exact
    assert scores["flexible_match"] == flexible
    assert scores["exact_match_lmeval"] == exact_lmeval
    assert scores["flexible_match_lmeval"] == flexible_lmeval
    assert scores["unparsable"] == (0 if flexible else 1)


def test_thousands_separators_in_answers() -> None:
    example = MgsmExample(id="0", question="", answer=Decimal(2125))
    scores = TASK.score(example, _language("de"), "direct", [" 2,125"]).scores
    assert scores["exact_match"] == scores["flexible_match"] == 1


def test_malformed_file_names_file_and_line(tmp_path: Path, data_dir: Path) -> None:
    folder = tmp_path / "mgsm"
    folder.mkdir()
    lines = (data_dir / "mgsm" / "mgsm_de.tsv").read_text(encoding="utf-8").splitlines()
    lines[6] = lines[6].replace("\t", " ")  # line 7 loses its answer column
    (folder / "mgsm_de.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"mgsm_de\.tsv:7: expected 2 tab-separated fields"):
        TASK.load_local(tmp_path, _language("de"), "test")


def test_non_numeric_gold_is_reported(tmp_path: Path) -> None:
    (tmp_path / "mgsm").mkdir()
    (tmp_path / "mgsm" / "mgsm_en.tsv").write_text("How many?\tmany\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"mgsm_en\.tsv:1: answer 'many' is not a number"):
        TASK.load_local(tmp_path, _language("en"), "test")
