import json
from pathlib import Path

import pytest

from harness.api.requests import ChoiceRequest, ChoiceScores
from harness.api.task import Shot
from harness.errors import ConfigError, DataError
from tasks.xnli import EXPECTED_ROWS, LABELS, LANGUAGES, WORDS, Xnli, XnliExample, premise_starts

TASK = Xnli()


def test_all_languages_and_splits_load_with_expected_counts(data_dir: Path) -> None:
    for language in LANGUAGES:
        for split in ("test", "validation"):
            examples = TASK.load_local(data_dir, language, split)
            assert len(examples) == EXPECTED_ROWS[split]


def test_dev_labels_map_names_to_hf_ids(data_dir: Path) -> None:
    first = (data_dir / "xnli" / "xtreme" / "dev-en.tsv").read_text(encoding="utf-8").splitlines()[0].split("\t")
    example = TASK.load_local(data_dir, TASK.language("en"), "validation")[0]
    assert LABELS[example.label] == first[2]
    assert (example.premise, example.hypothesis) == (first[0], first[1])


def test_test_labels_come_from_the_english_jsonl_by_position(data_dir: Path) -> None:
    lines = (data_dir / "xnli" / "hf_jsonl" / "en" / "test.jsonl").read_text(encoding="utf-8").splitlines()
    gold = [json.loads(line)["label"] for line in lines]
    for code in ("en", "th", "bg"):
        labels = [example.label for example in TASK.load_local(data_dir, TASK.language(code), "test")]
        assert labels == gold
    # every label occurs 1,670 times in the test split
    assert sorted(gold.count(label) for label in range(3)) == [1670, 1670, 1670]


def test_sentence_variant_is_lm_evals_formulation() -> None:
    example = XnliExample(id="0", premise="Der Hund bellt", hypothesis="Ein Tier macht Lärm", label=0)
    (request,) = TASK.requests(example, TASK.language("de"), "sentence")
    assert request == ChoiceRequest(
        context="",
        continuations=(
            " Der Hund bellt, richtig? Ja, Ein Tier macht Lärm",
            " Der Hund bellt, richtig? Auch, Ein Tier macht Lärm",
            " Der Hund bellt, richtig? Nein, Ein Tier macht Lärm",
        ),
    )


def test_label_variant_puts_the_pair_in_the_context() -> None:
    example = XnliExample(id="0", premise="P", hypothesis="H", label=2)
    (request,) = TASK.requests(example, TASK.language("en"), "label")
    assert request.context == "P\nH\nright?"
    assert request.continuations == (" Yes", " Also", " No")


def test_a_misspelt_variant_is_refused_instead_of_falling_through_to_label() -> None:
    example = XnliExample(id="0", premise="P", hypothesis="H", label=2)
    with pytest.raises(ConfigError, match=r"task 'xnli' has no prompt variant 'sentense'; valid: sentence, label"):
        TASK.requests(example, TASK.language("en"), "sentense")


def test_word_table_covers_every_language() -> None:
    assert set(WORDS) == {language.code for language in LANGUAGES}


def test_score_uses_choice_lengths_without_the_delimiter() -> None:
    example = XnliExample(id="0", premise="P", hypothesis="H", label=1)
    # Raw: "Yes" wins. Per character of "Yes"/"Also": -1.0 vs -0.975, so "Also" wins; had the leading
    # space been counted (4 and 5 characters) "Yes" would still win (-0.75 vs -0.78).
    scores = ChoiceScores(loglikelihoods=(-3.0, -3.9, -9.0), token_counts=(1, 1, 1), is_greedy=(False,) * 3)
    result = TASK.score(example, TASK.language("en"), "label", [scores])
    assert result.scores == {"acc": 0.0, "acc_norm": 1.0}
    assert result.extracted == "entailment" and result.details["prediction_norm"] == "neutral"
    assert result.gold == "neutral"


def _copy_xnli(tmp_path: Path, data_dir: Path) -> Path:
    xtreme = tmp_path / "xnli" / "xtreme"
    xtreme.mkdir(parents=True)
    (tmp_path / "xnli" / "hf_jsonl" / "en").mkdir(parents=True)
    for name in ("test-de.tsv", "dev-de.tsv"):
        (xtreme / name).write_bytes((data_dir / "xnli" / "xtreme" / name).read_bytes())
    labels = data_dir / "xnli" / "hf_jsonl" / "en" / "test.jsonl"
    (tmp_path / "xnli" / "hf_jsonl" / "en" / "test.jsonl").write_bytes(labels.read_bytes())
    return tmp_path


def test_label_row_count_mismatch_fails_loudly(tmp_path: Path, data_dir: Path) -> None:
    root = _copy_xnli(tmp_path, data_dir)
    labels = root / "xnli" / "hf_jsonl" / "en" / "test.jsonl"
    labels.write_text("".join(labels.read_text(encoding="utf-8").splitlines(keepends=True)[:-1]), encoding="utf-8")
    with pytest.raises(DataError, match=r"test-de\.tsv: test labels come from .*5009 rows and this file 5010"):
        TASK.load_local(root, TASK.language("de"), "test")


def _rewrite_test_de(root: Path, reorder) -> None:
    path = root / "xnli" / "xtreme" / "test-de.tsv"
    lines = path.read_text(encoding="utf-8").splitlines()
    path.write_text("\n".join(reorder(lines)) + "\n", encoding="utf-8")


def test_a_re_ordered_test_file_fails_naming_file_and_first_differing_line(tmp_path: Path, data_dir: Path) -> None:
    root = _copy_xnli(tmp_path, data_dir)

    def swap_two_groups_rows(lines: list[str]) -> list[str]:
        # Rows 3 and 4 (lines 3-4): the last hypothesis of premise 1 and the first of premise 2 trade places.
        return [*lines[:2], lines[3], lines[2], *lines[4:]]

    _rewrite_test_de(root, swap_two_groups_rows)
    with pytest.raises(
        DataError,
        match=r"test-de\.tsv:3: rows are not in the order of .*test\.jsonl.*this row "
        r"starts a new premise, its line 3 there repeats the previous row's premise",
    ):
        TASK.load_local(root, TASK.language("de"), "test")


def test_a_sorted_or_shifted_test_file_fails(tmp_path: Path, data_dir: Path) -> None:
    root = _copy_xnli(tmp_path / "sorted", data_dir)
    _rewrite_test_de(root, lambda lines: sorted(lines, key=lambda line: line.split("\t")[1]))
    with pytest.raises(DataError, match=r"test-de\.tsv:\d+: rows are not in the order of"):
        TASK.load_local(root, TASK.language("de"), "test")
    # Same row count, every row one place earlier: the first row of the file moves to the end.
    root = _copy_xnli(tmp_path / "shifted", data_dir)
    _rewrite_test_de(root, lambda lines: [*lines[1:], lines[0]])
    with pytest.raises(DataError, match=r"test-de\.tsv:3: rows are not in the order of"):
        TASK.load_local(root, TASK.language("de"), "test")


@pytest.mark.parametrize("reorder", ["shuffled groups", "shifted by one group", "groups reversed"])
def test_a_file_reordered_by_whole_premise_groups_fails(tmp_path: Path, data_dir: Path, reorder: str) -> None:
    """The premise pattern is the same for any order of whole groups of 3 (the review's case): the digits
    the rows share with their English pairs catch it."""
    import random

    def regroup(lines: list[str]) -> list[str]:
        groups = [lines[i : i + 3] for i in range(0, len(lines), 3)]
        if reorder == "shuffled groups":
            random.Random(0).shuffle(groups)
        elif reorder == "shifted by one group":
            groups = [*groups[1:], groups[0]]
        else:
            groups.reverse()
        return [line for group in groups for line in group]

    root = _copy_xnli(tmp_path, data_dir)
    _rewrite_test_de(root, regroup)
    with pytest.raises(DataError, match=r"test-de\.tsv:1: rows are not in the order of .*only \d+ hold the same"):
        TASK.load_local(root, TASK.language("de"), "test")


def test_every_language_test_file_has_the_english_premise_pattern(data_dir: Path) -> None:
    labels = data_dir / "xnli" / "hf_jsonl" / "en" / "test.jsonl"
    english = premise_starts([json.loads(line)["premise"] for line in labels.read_text(encoding="utf-8").splitlines()])
    assert sum(english) == 1670  # 1,670 premises, 3 hypotheses each
    for language in LANGUAGES:
        examples = TASK.load_local(data_dir, language, "test")  # would raise on a mismatch
        assert premise_starts([e.premise for e in examples]) == english, language.code


def test_unknown_dev_label_names_file_and_line(tmp_path: Path, data_dir: Path) -> None:
    root = _copy_xnli(tmp_path, data_dir)
    dev = root / "xnli" / "xtreme" / "dev-de.tsv"
    lines = dev.read_text(encoding="utf-8").splitlines()
    lines[41] = lines[41].rsplit("\t", 1)[0] + "\tmaybe"
    dev.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"dev-de\.tsv:42: unknown label 'maybe'"):
        TASK.load_local(root, TASK.language("de"), "validation")


def test_broken_label_json_names_line(tmp_path: Path, data_dir: Path) -> None:
    root = _copy_xnli(tmp_path, data_dir)
    labels = root / "xnli" / "hf_jsonl" / "en" / "test.jsonl"
    lines = labels.read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2][:-5]
    labels.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"test\.jsonl:3: invalid JSON"):
        TASK.load_local(root, TASK.language("de"), "test")


def test_few_shot_draws_from_validation_never_the_item_and_the_same_for_every_language(data_dir: Path) -> None:
    assert TASK.shot_split("test") == TASK.shot_split("validation") == "validation"
    de, fr = TASK.language("de"), TASK.language("fr")
    pool_de = TASK.load_local(data_dir, de, "validation")[:20]
    pool_fr = TASK.load_local(data_dir, fr, "validation")[:20]
    for item in pool_de[:5]:
        shots = TASK.select_shots(pool_de, item, 19, seed=7)
        assert item.id not in {shot.id for shot in shots}
        # The same seed and item id draw the same items in every language (translations of each other).
        assert [s.id for s in shots] == [s.id for s in TASK.select_shots(pool_fr, pool_fr[int(item.id)], 19, seed=7)]
    first, second = pool_de[0], pool_de[1]
    assert TASK.select_shots(pool_de, first, 3, seed=1) != TASK.select_shots(pool_de, first, 3, seed=2)
    assert TASK.select_shots(pool_de, first, 3, seed=1) != TASK.select_shots(pool_de, second, 3, seed=1)


def test_few_shot_context_puts_gold_demonstrations_before_the_item() -> None:
    de = TASK.language("de")
    shot = XnliExample(id="9", premise="P1", hypothesis="H1", label=2)
    item = XnliExample(id="1", premise="P2", hypothesis="H2", label=0)
    (sentence,) = TASK.requests(item, de, "sentence", [Shot(shot, de)])
    assert sentence.context == " P1, richtig? Nein, H1\n\n"
    (label,) = TASK.requests(item, de, "label", [Shot(shot, de)])
    assert label.context == "P1\nH1\nrichtig? Nein\n\nP2\nH2\nrichtig?"
    assert label.continuations == (" Ja", " Auch", " Nein")
