from collections import Counter
from pathlib import Path

import pytest

from harness.api.languages import FLORES200_CODES
from harness.api.metric import SampleScore
from harness.api.requests import ChoiceRequest, ChoiceScores
from harness.api.task import Shot
from harness.errors import DataError
from tasks.sib200 import EXPECTED_ROWS, LABELS, LANGUAGES, PROMPTS, SPLITS, VARIANTS, Sib200, SibExample

TASK = Sib200()
LABEL_CONTINUATIONS = (
    " science/technology",
    " travel",
    " politics",
    " sports",
    " health",
    " entertainment",
    " geography",
)


def test_declares_205_languages_and_five_prompts() -> None:
    assert [lang.code for lang in LANGUAGES] == [*FLORES200_CODES, "nqo_Nkoo"]
    assert VARIANTS == ("prompt_1", "prompt_2", "prompt_3", "prompt_4", "prompt_5") == tuple(PROMPTS)
    assert TASK.default_variant == "prompt_1" and TASK.default_split == "test"


def test_every_language_and_split_loads_parallel_items(data_dir: Path) -> None:
    for split in SPLITS:
        reference = None
        for language in LANGUAGES:
            examples = TASK.load_local(data_dir, language, split)
            assert len(examples) == EXPECTED_ROWS[split], (language.code, split)
            items = [(e.id, e.label) for e in examples]
            reference = reference or items
            assert items == reference, (language.code, split)  # same ids and topics in every language
    assert EXPECTED_ROWS == {"test": 204, "validation": 99, "train": 701}


def test_test_topic_distribution(data_dir: Path) -> None:
    labels = Counter(LABELS[e.label] for e in TASK.load_local(data_dir, TASK.language("hau_Latn"), "test"))
    assert labels == {
        "science/technology": 51,
        "travel": 40,
        "politics": 30,
        "sports": 25,
        "health": 22,
        "entertainment": 19,
        "geography": 17,
    }


def test_validation_is_the_dev_file(data_dir: Path) -> None:
    (path, labels) = TASK.local_files(data_dir, TASK.language("eng_Latn"), "validation")
    assert path.name == "dev.tsv" and labels.name == "labels.txt"


def test_pandas_quoting_is_read_as_csv(data_dir: Path) -> None:
    raw = (data_dir / "sib200" / "annotated" / "eng_Latn" / "train.tsv").read_text(encoding="utf-8").splitlines()
    assert raw[12].startswith('1239\tentertainment\t"""She’s very cute')
    example = {e.id: e for e in TASK.load_local(data_dir, TASK.language("eng_Latn"), "train")}["1239"]
    assert example.text == (
        '"She’s very cute and sings quite well, too," he said according to a transcript of the news conference.'
    )


@pytest.mark.parametrize("code", ["eng_Latn", "deu_Latn", "tel_Telu"])
def test_texts_equal_flores_devtest_lines(data_dir: Path, code: str) -> None:
    # Some FLORES sentences carry doubled quotes themselves (German devtest line 72: ""Clean Air Act""); one
    # level of CSV unquoting gives exactly the FLORES text, quirks included.
    flores = (data_dir / "flores200" / "flores200_dataset" / "devtest" / f"{code}.devtest").read_text(encoding="utf-8")
    lines = flores.splitlines()
    compared = 0
    for split in SPLITS:
        for example in TASK.load_local(data_dir, TASK.language(code), split):
            if int(example.id) >= 997:
                assert example.text == lines[int(example.id) - 997].rstrip(), (split, example.id)
                compared += 1
    assert compared == 494


TEXT = SibExample(id="7", text='Er sagte: "Das Spiel war gut." {x}', label=3)


def test_prompt_1_and_4_are_the_same_in_every_language() -> None:
    (request,) = TASK.requests(TEXT, TASK.language("deu_Latn"), "prompt_1")
    assert request == ChoiceRequest(
        context="Given the categories science/technology, travel, politics, sports, health, entertainment, or "
        "geography; what category does the text: 'Er sagte: \"Das Spiel war gut.\" {x}' belong to: \n\n",
        continuations=LABEL_CONTINUATIONS,
    )
    (request,) = TASK.requests(TEXT, TASK.language("yor_Latn"), "prompt_4")
    assert request.context == (
        "Label the following text as science/technology, travel, politics, sports, health, entertainment, or "
        'geography. Provide only the category as your response. \n\ntext: Er sagte: "Das Spiel war gut." {x} '
        "\\category: \n\n"
    )


def test_prompts_2_3_5_name_the_language() -> None:
    (hausa,) = TASK.requests(TEXT, TASK.language("hau_Latn"), "prompt_2")
    assert hausa.context == (
        "Does this Hausa topic; 'Er sagte: \"Das Spiel war gut.\" {x}' belong to one of the following categories: "
        "science/technology, travel, politics, sports, health, entertainment, or geography? category only\n\n"
    )
    (german,) = TASK.requests(TEXT, TASK.language("deu_Latn"), "prompt_3")
    assert german.context == (
        "You are an assistant able to classify topics in texts. \n\nGiven the categories science/technology, "
        "travel, politics, sports, health, entertainment, or geography; what is the topic of the German statement "
        'below? Return only the category. \n\ntext: Er sagte: "Das Spiel war gut." {x} \\category:\n\n'
    )
    (nko,) = TASK.requests(TEXT, TASK.language("nqo_Nkoo"), "prompt_5")
    assert nko.context.startswith("You are tasked with performing topic classification on the following N’Ko text.")
    assert "\n\n science/technology: The text discusses scientific discoveries" in nko.context
    assert nko.context.endswith('for each input.\n\ntext: Er sagte: "Das Spiel war gut." {x} \\category: \n\n')
    assert nko.continuations == LABEL_CONTINUATIONS


def test_demonstrations_come_from_train_and_end_with_the_label() -> None:
    language = TASK.language("eng_Latn")
    shot = SibExample(id="3", text="Rain.", label=6)
    (request,) = TASK.requests(TEXT, language, "prompt_4", [Shot(shot, language)])
    assert request.context.startswith(
        "Label the following text as science/technology, travel, politics, sports, health, entertainment, or "
        "geography. Provide only the category as your response. \n\ntext: Rain. \\category: \n\n geography\n\n"
        "Label the following"
    )
    assert TASK.shot_split("test") == TASK.shot_split("validation") == "train"


def test_score_and_metrics() -> None:
    language = TASK.language("eng_Latn")
    # travel wins raw (-5.0) and per character (-5.0 / 6 = -0.83 against geography -8.1 / 9 = -0.9).
    lls = (-40.0, -5.0, -30.0, -6.0, -35.0, -50.0, -8.1)
    result = TASK.score(TEXT, language, "prompt_1", [ChoiceScores(lls, (1,) * 7, (False,) * 7)])
    assert (result.extracted, result.gold) == ("travel", "sports")
    assert result.scores == {"acc": 0.0, "acc_norm": 0.0}
    long_wins = (-40.0, -5.0, -30.0, -6.0, -35.0, -50.0, -5.4)  # geography: raw -5.4 < -5.0, per char -0.6
    result = TASK.score(TEXT, language, "prompt_1", [ChoiceScores(long_wins, (1,) * 7, (False,) * 7)])
    assert (result.extracted, result.details["prediction_norm"]) == ("travel", "geography")
    assert [metric.name for metric in TASK.metrics("prompt_1")] == ["acc", "macro_f1", "f1_weighted", "acc_norm"]


def test_f1_metrics_over_the_seven_topics() -> None:
    # gold sports sports travel, predicted sports travel travel: sports F1 2/3, travel F1 2/3, 5 topics absent.
    samples = [
        SampleScore(extracted=p, gold=g, scores={"acc": float(p == g), "acc_norm": 0.0})
        for g, p in (("sports", "sports"), ("sports", "travel"), ("travel", "travel"))
    ]
    values = {metric.name: metric.aggregate(samples) for metric in TASK.metrics("prompt_1")}
    assert values["acc"].value == pytest.approx(2 / 3)
    assert values["f1_weighted"].value == pytest.approx(2 / 3, abs=1e-12)
    assert values["macro_f1"].value == pytest.approx((2 / 3 + 2 / 3) / 7, abs=1e-12)
    assert "labels:science/technology,travel,politics,sports,health,entertainment,geography" in (
        values["macro_f1"].signature
    )


def test_hub_record_gives_the_local_example(data_dir: Path) -> None:
    local = TASK.load_local(data_dir, TASK.language("eng_Latn"), "test")[0]
    record = {"index_id": int(local.id), "category": LABELS[local.label], "text": local.text}
    assert TASK.from_hub_record(record, 0, TASK.language("eng_Latn")) == local
    with pytest.raises(DataError, match=r"Davlan/sib200 \(eng_Latn\): row 5: unknown category 'weather'"):
        TASK.from_hub_record({**record, "category": "weather"}, 5, TASK.language("eng_Latn"))


def _copy(tmp_path: Path, data_dir: Path, code: str = "deu_Latn") -> Path:
    folder = tmp_path / "sib200" / "annotated" / code
    folder.mkdir(parents=True)
    for name in ("test.tsv", "labels.txt"):
        (folder / name).write_bytes((data_dir / "sib200" / "annotated" / code / name).read_bytes())
    return folder


def _rewrite(path: Path, index: int, line: str | None) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    if line is None:
        del lines[index]
    else:
        lines[index] = line
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_unknown_category_names_file_and_line(tmp_path: Path, data_dir: Path) -> None:
    folder = _copy(tmp_path, data_dir)
    _rewrite(folder / "test.tsv", 5, "1234\tweather\tEs regnet.")
    with pytest.raises(DataError, match=r"test\.tsv:6: unknown category 'weather'"):
        TASK.load_local(tmp_path, TASK.language("deu_Latn"), "test")


def test_missing_row_fails_the_count_check(tmp_path: Path, data_dir: Path) -> None:
    folder = _copy(tmp_path, data_dir)
    _rewrite(folder / "test.tsv", 5, None)
    with pytest.raises(DataError, match=r"test\.tsv: expected 204 rows, found 203"):
        TASK.load_local(tmp_path, TASK.language("deu_Latn"), "test")


def test_bad_header_and_reordered_labels_fail(tmp_path: Path, data_dir: Path) -> None:
    folder = _copy(tmp_path, data_dir)
    labels = folder / "labels.txt"
    original = labels.read_text(encoding="utf-8")
    _rewrite(labels, 0, "travel")
    with pytest.raises(DataError, match=r"labels\.txt: expected the labels science/technology, travel"):
        TASK.load_local(tmp_path, TASK.language("deu_Latn"), "test")
    labels.write_text(original, encoding="utf-8")
    _rewrite(folder / "test.tsv", 0, "id\tcategory\ttext")
    with pytest.raises(DataError, match=r"test\.tsv:1: expected the header index_id/category/text"):
        TASK.load_local(tmp_path, TASK.language("deu_Latn"), "test")


def test_duplicate_index_id_names_both_lines(tmp_path: Path, data_dir: Path) -> None:
    folder = _copy(tmp_path, data_dir)
    lines = (folder / "test.tsv").read_text(encoding="utf-8").splitlines()
    _rewrite(folder / "test.tsv", 9, lines[2])
    with pytest.raises(DataError, match=r"test\.tsv:10: index_id \d+ already appeared on line 3"):
        TASK.load_local(tmp_path, TASK.language("deu_Latn"), "test")
