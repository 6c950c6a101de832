"""Batched chrF/chrF++/BLEU segment statistics equal sacrebleu's own extraction, row for row, on every local
FLORES-200 language and on the segments that break n-gram code (empty, whitespace, punctuation, repeats,
characters outside the BMP, lone surrogates)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sacrebleu.metrics import BLEU, CHRF, TER
from sacrebleu.metrics.base import Metric

from harness.metrics import ngram_statistics
from harness.metrics.ngram_statistics import segment_statistics, supports

PER_LANGUAGE = 6  # sentences of each of the 204 languages (with a shifted copy: 12 pairs a language)

SCORERS: dict[str, Metric] = {
    "chrF++": CHRF(word_order=2),
    "BLEU": BLEU(),
    "chrF": CHRF(),
    "chrF++-whitespace": CHRF(word_order=2, whitespace=True),
    "chrF++-lowercase": CHRF(word_order=2, lowercase=True),
    "chrF-char3-word3": CHRF(char_order=3, word_order=3),
    "BLEU-lowercase": BLEU(lowercase=True),
    "BLEU-char": BLEU(tokenize="char"),
    "BLEU-zh": BLEU(tokenize="zh"),
    "BLEU-none-order2": BLEU(tokenize="none", max_ngram_order=2),
}

EDGE_CASES = [
    ("", ""),
    ("", "a reference"),
    ("a hypothesis", ""),
    ("   ", " \t\n "),
    ("a", "a"),
    ("aaaaaaaaaa", "aaa"),
    ("ab ab ab ab", "ab ab"),
    ("(hi) there.", "(hi) there ."),
    ("x. .y ,z, !", "x . y z"),
    ("emoji 😀😀 𝔘𝔫𝔦", "emoji 😀 𝔘𝔫𝔦𝔠𝔬𝔡𝔢"),
    ("lone \ud800 surrogate", "lone \ud800 surrogate too"),
    ("Straße STRASSE", "strasse Straße"),
    ("数学是一门学科。", "数学是一门重要的学科。"),
    ("the cat sat on the mat . the cat", "the cat sat on the mat"),
]


def sacrebleu_rows(scorer: Metric, hypotheses: list[str], references: list[str]) -> np.ndarray:
    return np.asarray(scorer._extract_corpus_statistics(hypotheses, [references]), dtype=np.int64)


def flores_pairs(data_dir: Path) -> tuple[list[str], list[str]]:
    """Per language: sentence i against itself and against sentence i+1 (some n-grams shared, most not)."""
    hypotheses, references = [], []
    files = sorted((data_dir / "flores200" / "flores200_dataset" / "devtest").glob("*.devtest"))
    assert len(files) >= 200, files[:3]
    for path in files:
        lines = path.read_text(encoding="utf-8").splitlines()[: PER_LANGUAGE + 1]
        for i in range(PER_LANGUAGE):
            hypotheses += [lines[i], lines[i + 1]]
            references += [lines[i], lines[i]]
    return hypotheses, references


@pytest.fixture(scope="module")
def pairs(data_dir: Path) -> tuple[list[str], list[str]]:
    hypotheses, references = flores_pairs(data_dir)
    edge_hypotheses, edge_references = zip(*EDGE_CASES, strict=True)
    return hypotheses + list(edge_hypotheses), references + list(edge_references)


@pytest.mark.parametrize("name", list(SCORERS))
def test_rows_equal_sacrebleus_on_every_flores_language_and_edge_cases(name, pairs) -> None:
    scorer = SCORERS[name]
    hypotheses, references = pairs
    got = segment_statistics(scorer, hypotheses, references)
    expected = sacrebleu_rows(scorer, hypotheses, references)
    assert got.dtype == np.int64 and got.shape == expected.shape
    wrong = np.flatnonzero((got != expected).any(axis=1))
    assert len(wrong) == 0, [(hypotheses[i][:40], references[i][:40], got[i], expected[i]) for i in wrong[:3]]


@pytest.mark.parametrize("hypothesis,reference", EDGE_CASES)
def test_a_single_pair_equals_sacrebleu(hypothesis, reference) -> None:
    for scorer in (SCORERS["chrF++"], SCORERS["BLEU"]):
        got = segment_statistics(scorer, [hypothesis], [reference])
        np.testing.assert_array_equal(got, sacrebleu_rows(scorer, [hypothesis], [reference]))


def test_small_chunks_and_small_codes_give_the_same_rows(pairs, monkeypatch) -> None:
    """Batches split into several sorts, and n-gram codes renumbered at every order (as a large alphabet such as
    Chinese characters forces at the higher orders), change nothing."""
    scorer = SCORERS["chrF++"]
    hypotheses, references = pairs
    expected = segment_statistics(scorer, hypotheses, references)
    monkeypatch.setattr(ngram_statistics, "MAX_PAIRS", 7)
    monkeypatch.setattr(ngram_statistics, "CODE_BITS", 40)
    np.testing.assert_array_equal(segment_statistics(scorer, hypotheses, references), expected)


def test_no_pairs_give_an_empty_table_of_the_right_width() -> None:
    assert segment_statistics(SCORERS["chrF++"], [], []).shape == (0, 24)
    assert segment_statistics(SCORERS["BLEU"], [], []).shape == (0, 10)


def test_other_metrics_and_mismatched_inputs_are_refused() -> None:
    assert supports(CHRF()) and supports(BLEU()) and not supports(TER())
    with pytest.raises(TypeError, match="TER"):
        segment_statistics(TER(), ["a"], ["a"])
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        segment_statistics(CHRF(), ["a", "b"], ["a"])
