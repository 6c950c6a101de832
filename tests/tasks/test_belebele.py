import json
from collections import Counter
from pathlib import Path

import lm_eval
import pytest

from harness.api.requests import ChoiceRequest, ChoiceScores
from harness.api.task import Shot
from harness.cli.main import main
from harness.errors import DataError
from tasks.belebele import (
    CODES,
    EXPECTED_PASSAGES,
    EXPECTED_QUESTIONS,
    LANGUAGES,
    Belebele,
    BelebeleExample,
)
from tasks.sib200 import Sib200

TASK = Belebele()
LOCAL = "belebele/saeub_item-evaluation"


def _load(data_dir: Path, code: str) -> list[BelebeleExample]:
    return TASK.load_local(data_dir, TASK.language(code), "test")


def test_declares_the_122_variants_of_lm_evals_belebele_yamls() -> None:
    folder = Path(lm_eval.__file__).parent / "tasks" / "belebele"
    lmeval_codes = sorted(p.stem.removeprefix("belebele_") for p in folder.glob("belebele_*.yaml"))
    assert len(LANGUAGES) == 122
    assert sorted(CODES) == lmeval_codes
    assert all(language.code == language.flores for language in LANGUAGES)


def test_local_languages_load_900_parallel_questions(data_dir: Path) -> None:
    english, german = _load(data_dir, "eng_Latn"), _load(data_dir, "deu_Latn")
    assert len(english) == len(german) == EXPECTED_QUESTIONS
    assert len({e.link for e in english}) == EXPECTED_PASSAGES
    assert [e.id for e in english] == [e.id for e in german]  # the same question has the same id
    assert len({e.id for e in english}) == EXPECTED_QUESTIONS
    assert [e.correct for e in english] == [e.correct for e in german]
    # SOURCE.md: correct positions 1:206 2:251 3:246 4:197 in both languages
    assert Counter(e.correct for e in english) == {0: 206, 1: 251, 2: 246, 3: 197}
    assert english[0].passage != german[0].passage


def test_converted_passage_maps_back_to_the_official_fields(data_dir: Path) -> None:
    first = json.loads((data_dir / LOCAL / "deu_Latn.jsonl").read_text(encoding="utf-8").splitlines()[0])
    one, two = _load(data_dir, "deu_Latn")[:2]
    link = first["metadata"]["extra"]["url"]
    assert (one.id, two.id) == (f"{link}#1", f"{link}#2")
    assert one.passage == two.passage == first["text"]
    assert one.question == first["items"][0]["question"]
    assert one.answers == tuple(answer["text"] for answer in first["items"][0]["answers"])
    assert first["items"][0]["answers"][one.correct]["correct"] is True


def test_hub_rows_give_the_same_example(data_dir: Path) -> None:
    local = _load(data_dir, "eng_Latn")[1]
    row = {
        "link": local.link,
        "question_number": 2,
        "flores_passage": local.passage,
        "question": local.question,
        **{f"mc_answer{i + 1}": answer for i, answer in enumerate(local.answers)},
        "correct_answer_num": str(local.correct + 1),  # a string on the Hub
        "dialect": "eng_Latn",
        "ds": "2023-05-03",
    }
    assert TASK.from_hub_record(row, 1, TASK.language("eng_Latn")) == local
    with pytest.raises(DataError, match=r"facebook/belebele \(eng_Latn\).*row 7: correct_answer_num must be 1..4"):
        TASK.from_hub_record({**row, "correct_answer_num": "5"}, 7, TASK.language("eng_Latn"))


EXAMPLE = BelebeleExample(
    id="https://x#1",
    link="https://x",
    question_number=1,
    passage="Der Hund bellt.",
    question="  Wer bellt?\n",
    answers=("Der Hund", "Die Katze", "Der Vogel", "Niemand"),
    correct=0,
)


def test_prompt_is_lm_evals_template() -> None:
    (request,) = TASK.requests(EXAMPLE, TASK.language("deu_Latn"), "default")
    assert request == ChoiceRequest(
        context="P: Der Hund bellt.\nQ: Wer bellt?\nA: Der Hund\nB: Die Katze\nC: Der Vogel\nD: Niemand\nAnswer:",
        continuations=(" A", " B", " C", " D"),
    )


def test_real_english_prompt(data_dir: Path) -> None:
    example = _load(data_dir, "eng_Latn")[1]
    (request,) = TASK.requests(example, TASK.language("eng_Latn"), "default")
    assert request.context.startswith("P: Make sure your hand is as relaxed as possible while still hitting all")
    assert request.context.endswith(
        "\nQ: When playing the accordion, which of the following will help to increase the volume?\n"
        "A: More speed\nB: More force\nC: Less pressure\nD: Less finger motion\nAnswer:"
    )


def test_demonstrations_end_with_the_gold_letter_and_never_show_the_item(data_dir: Path) -> None:
    language = TASK.language("deu_Latn")
    shot = BelebeleExample(**{**vars(EXAMPLE), "id": "https://y#2", "correct": 2})
    (request,) = TASK.requests(EXAMPLE, language, "default", [Shot(shot, language)])
    assert request.context == (
        "P: Der Hund bellt.\nQ: Wer bellt?\nA: Der Hund\nB: Die Katze\nC: Der Vogel\nD: Niemand\nAnswer: C\n\n"
        "P: Der Hund bellt.\nQ: Wer bellt?\nA: Der Hund\nB: Die Katze\nC: Der Vogel\nD: Niemand\nAnswer:"
    )
    pool = _load(data_dir, "deu_Latn")[:12]
    for example in pool:
        shots = TASK.select_shots(pool, example, 5, seed=1234)
        assert example not in shots and len(set(shots)) == 5
    assert TASK.shot_split("test") == "test"


def test_shots_never_come_from_the_items_passage(data_dir: Path) -> None:
    pool = _load(data_dir, "eng_Latn")
    assert sum(Counter(e.link for e in pool)[e.link] == 2 for e in pool) == 2 * (EXPECTED_QUESTIONS - EXPECTED_PASSAGES)
    # Without the exclusion, seed 1234 happens to draw no sibling question; seeds 2 and 3 draw 6 and 7.
    for seed in (1234, 2, 3):
        for example in pool:
            shots = TASK.select_shots(pool, example, 5, seed=seed)
            assert len(set(shots)) == 5
            assert all(s.link != example.link and s.passage != example.passage for s in shots), (seed, example.id)
    # The German passages are translations of the same ones: their questions are left out there too.
    german = {e.id: e for e in _load(data_dir, "deu_Latn")}
    english = pool[0]
    other = next(e for e in pool if e.link == english.link and e.id != english.id)
    assert TASK.leaks(german[other.id], english) and not TASK.leaks(german[pool[2].id], english)


def test_score_reads_letters() -> None:
    scores = ChoiceScores(loglikelihoods=(-4.0, -3.0, -1.5, -2.0), token_counts=(1,) * 4, is_greedy=(False,) * 4)
    result = TASK.score(EXAMPLE, TASK.language("deu_Latn"), "default", [scores])
    assert (result.extracted, result.gold) == ("C", "A")
    assert result.scores == {"acc": 0.0, "acc_norm": 0.0}


def test_select_languages_by_flores_or_short_code() -> None:
    for task in (TASK, Sib200()):
        assert [lang.code for lang in task.select_languages(["deu_Latn"])] == ["deu_Latn"]
        assert [lang.code for lang in task.select_languages(["de"])] == ["deu_Latn"]
    assert [lang.code for lang in TASK.select_languages(["hi"])] == ["hin_Deva", "hin_Latn"]


def _copy(tmp_path: Path, data_dir: Path, code: str = "deu_Latn") -> Path:
    target = tmp_path / LOCAL / f"{code}.jsonl"
    target.parent.mkdir(parents=True)
    target.write_bytes((data_dir / LOCAL / f"{code}.jsonl").read_bytes())
    return target


def _edit_line(path: Path, index: int, edit) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[index])
    edit(record)
    lines[index] = json.dumps(record, ensure_ascii=False)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_two_correct_answers_name_file_and_line(tmp_path: Path, data_dir: Path) -> None:
    path = _copy(tmp_path, data_dir)
    _edit_line(path, 9, lambda r: [a.update(correct=i < 2) for i, a in enumerate(r["items"][0]["answers"])])
    with pytest.raises(
        DataError, match=r"deu_Latn\.jsonl:10: question 1: expected exactly one correct answer, found 2"
    ):
        TASK.load_local(tmp_path, TASK.language("deu_Latn"), "test")


def test_three_answers_name_file_and_line(tmp_path: Path, data_dir: Path) -> None:
    path = _copy(tmp_path, data_dir)
    _edit_line(path, 0, lambda r: r["items"][1]["answers"].pop())
    with pytest.raises(DataError, match=r"deu_Latn\.jsonl:1: question 2: expected a question with 4 answers"):
        TASK.load_local(tmp_path, TASK.language("deu_Latn"), "test")


def test_a_file_of_another_language_is_rejected(tmp_path: Path, data_dir: Path) -> None:
    path = _copy(tmp_path, data_dir, "eng_Latn")
    path.rename(path.with_name("deu_Latn.jsonl"))
    with pytest.raises(DataError, match=r"deu_Latn\.jsonl:1: passage is in 'eng_Latn', expected 'deu_Latn'"):
        TASK.load_local(tmp_path, TASK.language("deu_Latn"), "test")


def test_missing_passage_fails_the_count_check(tmp_path: Path, data_dir: Path) -> None:
    path = _copy(tmp_path, data_dir)
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"deu_Latn\.jsonl: expected 488 passages with 900 questions, found 487"):
        TASK.load_local(tmp_path, TASK.language("deu_Latn"), "test")


@pytest.mark.slow
def test_cli_evaluates_german_skips_french_and_draws_shots(tiny_model: Path, data_dir: Path, tmp_path: Path) -> None:
    args = ["--tasks", "belebele,sib200", "--langs", "deu_Latn,fra_Latn", "--limit", "2", "--shots", "1"]
    code = main(
        [
            "eval",
            "--model",
            str(tiny_model),
            "--out",
            str(tmp_path),
            "--data-dir",
            str(data_dir),
            "--no-progress",
            *args,
        ]
    )
    assert code == 0
    (folder,) = [p for p in tmp_path.glob("*/*") if p.is_dir()]
    tasks = {t["name"]: t for t in json.loads((folder / "results.json").read_text())["tasks"]}
    belebele, sib = tasks["belebele"], tasks["sib200"]
    assert set(belebele["languages"]) == {"deu_Latn"}
    assert "saeub_item-evaluation/fra_Latn.jsonl" in belebele["skipped"]["fra_Latn"]
    assert belebele["languages"]["deu_Latn"]["name"] == "German"
    assert set(sib["languages"]) == {"deu_Latn", "fra_Latn"} and sib["skipped"] == {}
    assert sib["metrics"] == ["acc", "macro_f1", "f1_weighted", "acc_norm"]
    samples = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    assert Counter((s["task"], s["language"]) for s in samples) == {
        ("belebele", "deu_Latn"): 2,
        ("sib200", "deu_Latn"): 2,
        ("sib200", "fra_Latn"): 2,
    }
    train_ids = {e.id for e in Sib200().load_local(data_dir, Sib200().language("deu_Latn"), "train")}
    for sample in samples:
        (shot,) = sample["details"]["shots"]
        assert shot != sample["id"]
        assert (shot in train_ids) == (sample["task"] == "sib200")
