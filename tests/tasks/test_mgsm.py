from decimal import Decimal
from pathlib import Path

import pytest

from harness.api.requests import GenerationRequest
from harness.api.task import Shot
from harness.errors import ConfigError, DataError
from tasks.mgsm import DIRECT_WORDS, EXEMPLARS, EXPECTED_ROWS, LANGUAGES, Mgsm, MgsmExample, strict_extract

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


@pytest.mark.parametrize(
    ("code", "response", "right"),
    [
        ("en", " 2,125", 1),
        ("de", " 2.125", 1),
        ("de", " 2,125", 0),  # German decimal comma: 2.125
        ("fr", " 2 125", 1),
        ("fr", " 2\u202f125.", 1),
        ("ru", " 2 125", 1),
        ("es", " 2 125", 1),
        ("bn", " ২,১২৫", 1),
    ],
)
def test_thousands_separators_in_answers(code: str, response: str, right: int) -> None:
    example = MgsmExample(id="0", question="", answer=Decimal(2125))
    scores = TASK.score(example, _language(code), "direct", [response]).scores
    assert scores["exact_match"] == scores["flexible_match"] == right


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


# -- chain-of-thought variants and few-shot exemplars -------------------------------------------------


def test_exemplars_load_for_every_language_with_the_english_reasoning(data_dir: Path) -> None:
    english = TASK.load_local(data_dir, _language("en"), EXEMPLARS)
    for language in LANGUAGES:
        exemplars = TASK.load_local(data_dir, language, EXEMPLARS)
        assert [e.id for e in exemplars] == [f"exemplar-{n}" for n in range(1, 9)]
        assert [e.answer for e in exemplars] == [Decimal(n) for n in (11, 29, 39, 9, 33, 8, 8, 5)]
        assert [e.reasoning_en for e in exemplars] == [e.reasoning for e in english]
        assert not exemplars[0].question.startswith(DIRECT_WORDS[language.code].question)


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda lang: lang.code)
def test_strict_patterns_find_the_answer_of_every_exemplar(data_dir: Path, language) -> None:
    """The "The answer is N" table is checked against the 88 exemplars it was taken from."""
    for exemplar in TASK.load_local(data_dir, language, EXEMPLARS):
        assert strict_extract(exemplar.reasoning, language, "native_cot") == exemplar.answer, exemplar.reasoning
        assert strict_extract(exemplar.reasoning_en, language, "en_cot") == exemplar.answer


def test_cot_prompts() -> None:
    example = MgsmExample(id="0", question="Q?", answer=Decimal(1))
    de = _language("de")
    assert TASK.requests(example, de, "native_cot")[0].prompt == "Frage: Q?\nSchritt-für-Schritt-Antwort:"
    assert TASK.requests(example, de, "en_cot")[0].prompt == "Frage: Q?\nStep-by-Step Answer:"
    # Russian: the exemplars' cue, not lm-eval's "Пошаговоерешение:" typo.
    assert TASK.requests(example, _language("ru"), "native_cot")[0].prompt == "Задача: Q?\nПошаговое решение:"


@pytest.mark.parametrize(
    ("code", "variant", "response", "strict", "flexible"),
    [
        ("de", "native_cot", " 3 + 4 = 7. Die Antwort ist 7. Dann 8 Eier", 1, 0),
        ("de", "native_cot", " Die Antwort lautet 7.", 1, 1),
        ("de", "en_cot", " 3 + 4 = 7. The answer is 7.", 1, 1),
        ("de", "en_cot", " Die Antwort ist 7.", 0, 1),  # en_cot asks for the English phrase
        ("ja", "native_cot", "3+4=7。答えは7個です。", 1, 1),
        ("zh", "native_cot", " 答案是 7.00。", 1, 1),
        ("bn", "native_cot", " উত্তর হল ৭।", 1, 1),  # Bengali digits
        ("en", "native_cot", " The answer is 1,007.", 0, 0),
    ],
)
def test_cot_scoring(code, variant, response, strict, flexible) -> None:
    example = MgsmExample(id="0", question="", answer=Decimal(7))
    scores = TASK.score(example, _language(code), variant, [response]).scores
    assert (scores["strict_match"], scores["flexible_match"]) == (strict, flexible)
    assert "exact_match" not in scores


def test_lmeval_strict_pattern_misses_the_german_exemplar_wording() -> None:
    example = MgsmExample(id="0", question="", answer=Decimal(11))
    scores = TASK.score(example, _language("de"), "native_cot", [" 5 + 6 = 11. Die Antwort ist 11."]).scores
    assert scores["strict_match"] == 1 and scores["strict_match_lmeval"] == 0


def test_shots_are_the_first_exemplars_in_order(data_dir: Path) -> None:
    pool = TASK.load_local(data_dir, _language("de"), EXEMPLARS)
    item = TASK.load_local(data_dir, _language("de"), "test")[0]
    assert [e.id for e in TASK.select_shots(pool, item, 3, seed=1)] == ["exemplar-1", "exemplar-2", "exemplar-3"]
    assert TASK.select_shots(pool, item, 3, seed=1) == TASK.select_shots(pool, item, 3, seed=2)
    with pytest.raises(ConfigError, match="SHOTS=9 but MGSM has 8 exemplars"):
        TASK.select_shots(pool, item, 9, seed=1)


def test_few_shot_prompts_per_variant(data_dir: Path) -> None:
    de, en = _language("de"), _language("en")
    item = MgsmExample(id="0", question="Q?", answer=Decimal(1))
    german = TASK.load_local(data_dir, de, EXEMPLARS)[:1]
    english = TASK.load_local(data_dir, en, EXEMPLARS)[:1]

    direct = TASK.requests(item, de, "direct", [Shot(german[0], de)])[0]
    assert direct.prompt == f"Frage: {german[0].question}\nAntwort: 11\n\nFrage: Q?\nAntwort:"

    native = TASK.requests(item, de, "native_cot", [Shot(german[0], de)])[0]
    assert native.prompt.startswith(f"Frage: {german[0].question}\nSchritt-für-Schritt-Antwort: Roger begann")
    assert native.prompt.endswith("Die Antwort ist 11.\n\nFrage: Q?\nSchritt-für-Schritt-Antwort:")

    # EN-CoT: the German question with the English chain of thought of the same exemplar.
    en_cot = TASK.requests(item, de, "en_cot", [Shot(german[0], de)])[0]
    assert en_cot.prompt == (
        f"Frage: {german[0].question}\nStep-by-Step Answer: {english[0].reasoning}\n\nFrage: Q?\nStep-by-Step Answer:"
    )

    # Cross-lingual shots: English exemplars before a German item; both question words stop generation.
    crossed = TASK.requests(item, de, "native_cot", [Shot(english[0], en)])[0]
    assert crossed.prompt.startswith("Question: Roger has 5 tennis balls.")
    assert crossed.stop == ("Frage:", "Question:")


def test_exemplars_missing_for_a_language_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "mgsm").mkdir()
    (tmp_path / "mgsm" / "mgsm_exemplars.json").write_text(
        '{"EXEMPLAR_NUMBER_ANSWERS": [1], "MGSM_EXEMPLARS": {"en": {}}}', encoding="utf-8"
    )
    with pytest.raises(DataError, match=r"mgsm_exemplars\.json: no exemplars for 'de'"):
        TASK.load_local(tmp_path, _language("de"), EXEMPLARS)
