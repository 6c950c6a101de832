import unicodedata

import pytest

from harness.metrics.qa import (
    ANSWER_RULES,
    answer_tokens,
    best_over_references,
    exact_match,
    lmeval_exact_match,
    lmeval_f1,
    normalize_answer,
    require_rules,
    token_f1,
)


@pytest.mark.parametrize(
    ("text", "language", "normalized"),
    [
        ("The Denver Broncos!", "en", "denver broncos"),
        ("  an   apple ", "en", "apple"),
        ("theatre", "en", "theatre"),  # articles are whole words only
        ("U.S. $1,000", "en", "us 1000"),  # punctuation and ASCII symbols deleted, not replaced by a space
        ("Arab–Israeli", "en", "arabisraeli"),  # en dash is Unicode punctuation (lm-eval keeps it)
        ("«Είμαστε ζητιάνοι»,", "el", "είμαστε ζητιάνοι"),
        ("Die Berliner Mauer", "de", "berliner mauer"),
        ("la Casa Blanca", "es", "casa blanca"),
        ("a instalat", "ro", "a instalat"),  # Romanian "a" is not an article: kept (lm-eval deletes it)
        ("những năm 1990", "vi", "năm 1990"),  # MLQA's Vietnamese list
        ("البرونكوس", "ar", "برونكوس"),  # definite-article prefix
        ("مال", "ar", "مال"),  # alif-lam inside a word stays (MLQA's regex would leave "م")
        ("ल्यूक क्युचली।", "hi", "ल्यूक क्युचली"),  # danda is punctuation
        ("1990年，Apple公司。", "zh", "1990 年 apple 公 司"),  # characters; Latin words and numbers whole
        ("“กรุงเทพ”", "th", "ก ร ุ ง เ ท พ"),  # curly quotes are Unicode punctuation; each code point a token
    ],
)
def test_normalisation(text: str, language: str, normalized: str) -> None:
    assert normalize_answer(text, language) == normalized


def test_canonically_equivalent_spellings_compare_equal() -> None:
    composed = "của Denver"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert exact_match(decomposed, "Denver", "vi") == 1.0  # "của" recognised and removed in either form


@pytest.mark.parametrize(
    ("prediction", "reference", "language", "em", "f1"),
    [
        ("Denver Broncos", "the Denver Broncos", "en", 1.0, 1.0),
        ("the Denver Broncos team", "Denver Broncos", "en", 0.0, 0.8),  # P 2/3, R 1
        ("Broncos", "Denver Broncos", "en", 0.0, 2 / 3),  # P 1, R 1/2
        ("Carolina Panthers", "Denver Broncos", "en", 0.0, 0.0),
        ("Broncos Broncos", "Broncos", "en", 0.0, 2 / 3),  # multiset overlap: one shared token, P 1/2
        ("北京", "北京大学", "zh", 0.0, 2 / 3),  # P 1, R 2/4
        ("北京 大学", "北京大学", "zh", 1.0, 1.0),  # spaces between characters do not matter
        ("กรุงเทพ", "กรุงเทพมหานคร", "th", 0.0, 0.7),  # P 7/7, R 7/13
        ("", "Denver", "en", 0.0, 0.0),
        ("the", "a", "en", 1.0, 1.0),  # both normalise to nothing: they agree (SQuAD 2.0 convention)
    ],
)
def test_exact_match_and_f1(prediction: str, reference: str, language: str, em: float, f1: float) -> None:
    assert exact_match(prediction, reference, language) == em
    assert token_f1(prediction, reference, language) == pytest.approx(f1)


@pytest.mark.parametrize(
    ("prediction", "reference", "language", "character_f1"),
    [("北京", "北京大学", "zh", 2 / 3), ("กรุงเทพ", "กรุงเทพมหานคร", "th", 0.7), ("东京大学", "北京大学", "zh", 0.75)],
)
def test_character_f1_gives_partial_credit_where_whitespace_f1_equals_exact_match(
    prediction: str, reference: str, language: str, character_f1: float
) -> None:
    # lm-eval splits on whitespace: the whole answer is one token, so its F1 is its exact match (0 here).
    assert lmeval_f1(prediction, reference) == lmeval_exact_match(prediction, reference) == 0.0
    assert token_f1(prediction, reference, language) == pytest.approx(character_f1)


def test_best_over_references() -> None:
    references = ("Broncos", "Denver Broncos")
    assert best_over_references(exact_match, "Denver Broncos", references, "en") == 1.0
    assert best_over_references(token_f1, "the Denver Broncos team", references, "en") == pytest.approx(0.8)
    assert token_f1("the Denver Broncos team", references[0], "en") == pytest.approx(0.5)
    with pytest.raises(ValueError, match="no reference"):
        best_over_references(token_f1, "x", (), "en")


@pytest.mark.parametrize(
    ("prediction", "reference", "em", "f1"),
    [
        (" The Denver Broncos.", "Denver Broncos", 1.0, 1.0),
        ("«Είμαστε ζητιάνοι»", "Είμαστε ζητιάνοι", 0.0, 0.0),  # ASCII punctuation only: « » stay attached
        ("instalat", "a instalat", 1.0, 1.0),  # English "a" deleted from Romanian
        ("Broncos", "Denver Broncos", 0.0, 2 / 3),
    ],
)
def test_lmeval_scores_are_squad_english(prediction: str, reference: str, em: float, f1: float) -> None:
    assert lmeval_exact_match(prediction, reference) == em
    assert lmeval_f1(prediction, reference) == pytest.approx(f1)


def test_unknown_language_fails_loudly() -> None:
    with pytest.raises(KeyError):
        answer_tokens("x", "xx")
    with pytest.raises(RuntimeError, match=r"mytask: .*ANSWER_RULES has no rules for qq, xx"):
        require_rules("mytask", ["en", "xx", "qq"])


def test_every_rule_names_its_source() -> None:
    assert all(rules.source for rules in ANSWER_RULES.values())
    assert {code for code, rules in ANSWER_RULES.items() if rules.segmentation == "characters"} == {"zh", "ja", "th"}
