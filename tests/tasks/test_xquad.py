import json
from pathlib import Path

import lm_eval
import pytest
import yaml
from lm_eval.utils import apply_template

from harness.api.requests import GenerationRequest
from harness.api.task import Shot
from harness.errors import DataError
from tasks.xquad import EXPECTED_QUESTIONS, LANGUAGES, WORDS, Xquad, XquadExample

TASK = Xquad()
SPLIT = "validation"
LMEVAL_XQUAD = Path(lm_eval.__file__).parent / "tasks" / "xquad"


def _language(code: str):
    return TASK.language(code)


def _prompt(example: XquadExample, code: str, shots: list[Shot[XquadExample]] | None = None) -> str:
    (request,) = TASK.requests(example, _language(code), "default", shots or [])
    assert isinstance(request, GenerationRequest)
    return request.prompt


def _example(id: str = "q1", paragraph: str | None = "0/0", context: str = "C.", answers=("A",)) -> XquadExample:
    return XquadExample(
        id=id,
        context=context,
        question="Q?",
        answers=tuple(answers),
        answer_starts=(0,) * len(answers),
        paragraph=paragraph,
    )


@pytest.fixture(scope="module")
def english(data_dir: Path) -> list[XquadExample]:
    return TASK.load_local(data_dir, _language("en"), SPLIT)


def test_every_language_loads_1190_parallel_questions(data_dir: Path) -> None:
    reference = None
    for language in LANGUAGES:
        examples = TASK.load_local(data_dir, language, SPLIT)
        assert len(examples) == EXPECTED_QUESTIONS
        layout = [(example.id, example.paragraph) for example in examples]
        reference = reference or layout
        assert layout == reference, language.code  # same ids, in the same paragraphs, in every language
        assert len({example.context for example in examples}) == 240


def test_examples_keep_every_answer_and_the_context(english: list[XquadExample]) -> None:
    first = english[0]
    assert first.id == "56beb4343aeaaa14008c925b"
    assert first.question == "How many points did the Panthers defense surrender?"
    assert first.answers == ("308",) and first.answer_starts == (34,)
    assert first.context.startswith("The Panthers defense gave up just 308 points")
    for example in english:
        for answer, start in zip(example.answers, example.answer_starts, strict=True):
            assert example.context[start : start + len(answer)] == answer


def test_prompts_match_lm_eval(english: list[XquadExample]) -> None:
    example = _example(context="Berlin ist die Hauptstadt.", answers=("Berlin",))
    de = TASK.requests(example, _language("de"), "default")
    assert de == [
        GenerationRequest(
            prompt="Kontext: Berlin ist die Hauptstadt.\n\nFrage: Q?\n\nAntwort:", stop=("\n",), max_new_tokens=256
        )
    ]
    assert _prompt(example, "zh") == ("语境: Berlin ist die Hauptstadt.\n\n问题: Q?\n\n回答:")
    assert _prompt(example, "th") == ("บริบท: Berlin ist die Hauptstadt.\n\nคำถาม: Q?\n\nคำตอบ:")
    en = _prompt(english[0], "en")
    assert en.startswith("Context: The Panthers defense gave up just 308 points")
    assert en.endswith(
        "returned for touchdowns.\n\nQuestion: How many points did the Panthers defense surrender?\n\nAnswer:"
    )


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda language: language.code)
def test_prompt_words_are_lm_evals_own(language, english: list[XquadExample]) -> None:
    # Render lm-eval's installed doc_to_text template with its own Jinja environment.
    config = yaml.safe_load((LMEVAL_XQUAD / f"xquad_{language.code}.yaml").read_text(encoding="utf-8"))
    example = english[3]
    doc = {"id": example.id, "context": example.context, "question": example.question}
    assert _prompt(example, language.code) == apply_template(config["doc_to_text"], doc)


def test_prompt_table_covers_every_language() -> None:
    assert set(WORDS) == {language.code for language in LANGUAGES}


def test_scores_use_every_answer_and_language_rules() -> None:
    example = _example(answers=("Broncos", "Denver Broncos"))
    scores = TASK.score(example, _language("en"), "default", [" Denver Broncos"]).scores
    assert scores["exact_match"] == scores["f1"] == 1.0
    # lm-eval compares with the first answer only.
    assert scores["exact_match_lmeval"] == 0.0 and scores["f1_lmeval"] == pytest.approx(2 / 3)


def test_chinese_and_thai_f1_give_partial_credit() -> None:
    zh = TASK.score(_example(answers=("北京大学",)), _language("zh"), "default", [" 北京"])
    assert zh.scores == pytest.approx({"f1": 2 / 3, "exact_match": 0.0, "f1_lmeval": 0.0, "exact_match_lmeval": 0.0})
    th = TASK.score(_example(answers=("กรุงเทพมหานคร",)), _language("th"), "default", [" กรุงเทพ"])
    assert th.scores == pytest.approx({"f1": 0.7, "exact_match": 0.0, "f1_lmeval": 0.0, "exact_match_lmeval": 0.0})
    assert th.extracted == "กรุงเทพ" and th.gold == ["กรุงเทพมหานคร"]


def test_sample_records_normalised_answers() -> None:
    sample = TASK.score(_example(answers=("«Είμαστε ζητιάνοι»",)), _language("el"), "default", [" Είμαστε ζητιάνοι."])
    assert sample.details == {"normalized": "είμαστε ζητιάνοι", "normalized_gold": ["είμαστε ζητιάνοι"]}
    assert sample.scores["exact_match"] == 1.0 and sample.scores["exact_match_lmeval"] == 0.0


def test_demonstration_is_prompt_space_first_answer() -> None:
    shot = Shot(_example(id="s", context="Paris.", answers=("Paris", "Paris, France")), _language("de"))
    assert TASK.demonstration(shot, "default") == "Kontext: Paris.\n\nFrage: Q?\n\nAntwort: Paris"
    assert (
        _prompt(_example(), "en", [shot])
        == "Kontext: Paris.\n\nFrage: Q?\n\nAntwort: Paris\n\nContext: C.\n\nQuestion: Q?\n\nAnswer:"
    )


def test_shots_never_come_from_the_items_paragraph(data_dir: Path, english: list[XquadExample]) -> None:
    german = TASK.load_local(data_dir, _language("de"), SPLIT)
    item = english[0]
    same_paragraph = {example.id for example in english if example.paragraph == item.paragraph}
    assert len(same_paragraph) > 1
    for pool in (english, german):  # same language, and shots from another language (paragraph position)
        usable = [shot for shot in pool if not TASK.leaks(shot, item)]
        assert len(usable) == EXPECTED_QUESTIONS - len(same_paragraph)
        assert not {shot.id for shot in usable} & same_paragraph
        for seed in range(20):
            chosen = TASK.select_shots(pool, item, 5, seed)
            assert not {shot.id for shot in chosen} & same_paragraph


def test_hub_rows_without_paragraph_position_leak_by_context() -> None:
    record = {"id": "q2", "context": "C.", "question": "Q?", "answers": {"text": ["A", "B"], "answer_start": [0, 0]}}
    hub = TASK.from_hub_record(record, 1, _language("en"))
    assert hub.answers == ("A", "B") and hub.paragraph is None
    assert TASK.leaks(hub, _example(id="q1", paragraph=None))  # same context
    assert not TASK.leaks(hub, _example(id="q1", paragraph=None, context="Other."))
    assert TASK.leaks(_example(id="q1", paragraph=None, context="Other."), _example(id="q1", paragraph=None))


def _copy_with(tmp_path: Path, data_dir: Path, code: str, edit) -> None:
    """DATA_DIR in ``tmp_path`` with one language's file, edited."""
    (tmp_path / "xquad").mkdir()
    text = (data_dir / "xquad" / f"xquad.{code}.json").read_text(encoding="utf-8")
    (tmp_path / "xquad" / f"xquad.{code}.json").write_text(edit(text), encoding="utf-8")


def test_malformed_json_names_the_file_and_line(tmp_path: Path, data_dir: Path) -> None:
    def break_line_11(text: str) -> str:
        lines = text.splitlines()
        assert lines[10].strip() == '"answer_start": 38,'
        lines[10] = lines[10].replace(":", "")  # "answer_start" 38,
        return "\n".join(lines)

    _copy_with(tmp_path, data_dir, "de", break_line_11)
    with pytest.raises(DataError, match=r"xquad\.de\.json:11: invalid JSON"):
        TASK.load_local(tmp_path, _language("de"), SPLIT)


def test_missing_field_names_the_file_and_item(tmp_path: Path, data_dir: Path) -> None:
    def drop_question(text: str) -> str:
        document = json.loads(text)
        del document["data"][2]["paragraphs"][1]["qas"][0]["question"]
        return json.dumps(document, ensure_ascii=False)

    _copy_with(tmp_path, data_dir, "zh", drop_question)
    with pytest.raises(
        DataError, match=r"xquad\.zh\.json: data\[2\]\.paragraphs\[1\]\.qas\[0\]: expected str field 'question'"
    ):
        TASK.load_local(tmp_path, _language("zh"), SPLIT)


def test_wrong_question_count_names_the_file(tmp_path: Path, data_dir: Path) -> None:
    def drop_article(text: str) -> str:
        document = json.loads(text)
        del document["data"][0]
        return json.dumps(document, ensure_ascii=False)

    _copy_with(tmp_path, data_dir, "th", drop_article)
    with pytest.raises(DataError, match=r"xquad\.th\.json: expected 1190 questions, found \d+"):
        TASK.load_local(tmp_path, _language("th"), SPLIT)


def test_missing_file_is_a_data_error(tmp_path: Path) -> None:
    assert TASK.local_files(tmp_path, _language("ro"), SPLIT) == (tmp_path / "xquad" / "xquad.ro.json",)
    with pytest.raises(DataError, match=r"xquad\.ro\.json: data file not found"):
        TASK.load_local(tmp_path, _language("ro"), SPLIT)


def test_hub_source() -> None:
    source = TASK.hub_source(_language("vi"), SPLIT)
    assert (source.path, source.name, source.split) == ("google/xquad", "xquad.vi", "validation")
