"""The vectorised BLEU / chrF formulas equal sacrebleu's per-row ``_compute_score_from_stats`` on random,
edge-case and real (FLORES-200) statistics, for every supported setting."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sacrebleu.metrics import BLEU, CHRF, TER
from sacrebleu.metrics.base import Metric

from harness.metrics.sacrebleu_vectorised import bleu_scores, chrf_scores, corpus_scores

FLORES_DEVTEST = Path("/work/shared/data/flores200/flores200_dataset/devtest")
SENTENCES = 300
TOLERANCE = 1e-9

SCORERS: dict[str, Metric] = {
    "chrF": CHRF(),
    "chrF++": CHRF(word_order=2),
    "chrF-eps": CHRF(eps_smoothing=True),
    "chrF++-eps": CHRF(word_order=2, eps_smoothing=True),
    "chrF-beta1-char3": CHRF(char_order=3, beta=1),
    "BLEU": BLEU(),
    "BLEU-none": BLEU(smooth_method="none"),
    "BLEU-floor": BLEU(smooth_method="floor"),
    "BLEU-floor-0.3": BLEU(smooth_method="floor", smooth_value=0.3),
    "BLEU-add-k": BLEU(smooth_method="add-k"),
    "BLEU-add-k-0.5": BLEU(smooth_method="add-k", smooth_value=0.5),
    "BLEU-add-k-0": BLEU(smooth_method="add-k", smooth_value=0),
    "BLEU-exp": BLEU(smooth_method="exp"),
    "BLEU-effective": BLEU(effective_order=True),
    "BLEU-effective-none": BLEU(effective_order=True, smooth_method="none"),
    "BLEU-effective-floor": BLEU(effective_order=True, smooth_method="floor"),
    "BLEU-effective-add-k": BLEU(effective_order=True, smooth_method="add-k"),
    "BLEU-order2": BLEU(max_ngram_order=2),
    "BLEU-order2-effective": BLEU(max_ngram_order=2, effective_order=True),
}


def width(scorer: Metric) -> int:
    if isinstance(scorer, BLEU):
        return 2 + 2 * scorer.max_ngram_order
    assert isinstance(scorer, CHRF)
    return 3 * (scorer.char_order + scorer.word_order)


def sacrebleu_scores(scorer: Metric, totals: np.ndarray) -> np.ndarray:
    return np.asarray([scorer._compute_score_from_stats(list(map(int, row))).score for row in totals])


def assert_matches(scorer: Metric, totals: np.ndarray) -> None:
    expected = sacrebleu_scores(scorer, totals)
    got = corpus_scores(scorer, totals)
    assert got is not None
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=TOLERANCE)


def random_totals(scorer: Metric, seed: int) -> np.ndarray:
    """Hundreds of rows at several scales, with many zeros (whole rows, single counts, sparse rows)."""
    rng = np.random.default_rng(seed)
    blocks = []
    for high in (2, 5, 40, 10_000, 10**9):
        block = rng.integers(0, high, size=(150, width(scorer)), endpoint=True)
        block[rng.random(block.shape) < 0.25] = 0  # sprinkle zeros everywhere
        blocks.append(block)
    blocks.append(np.zeros((3, width(scorer)), dtype=np.int64))
    return np.concatenate(blocks).astype(np.int64)


def bleu_edge_totals(order: int) -> np.ndarray:
    """Rows built to hit each branch of ``compute_bleu``: empty system, empty reference, short system,
    no matches, a zero total at order 1 or in the middle (early stop), zero matches at some orders."""

    def row(sys_len: int, ref_len: int, correct: list[int], total: list[int]) -> list[int]:
        return [sys_len, ref_len, *correct[:order], *total[:order]]

    ones, tens = [1, 1, 1, 1], [10, 9, 8, 7]
    rows = [
        row(0, 0, [0] * 4, [0] * 4),
        row(0, 5, [0] * 4, [0] * 4),
        row(0, 5, [1, 0, 0, 0], [1, 0, 0, 0]),
        row(5, 0, [3, 2, 1, 0], [5, 4, 3, 2]),
        row(3, 10, [3, 2, 1, 0], [3, 2, 1, 0]),
        row(10, 3, [7, 5, 3, 1], tens),
        row(10, 10, [0, 0, 0, 0], tens),
        row(10, 10, [4, 0, 0, 0], tens),
        row(10, 10, [0, 3, 0, 2], tens),
        row(10, 10, [4, 0, 2, 0], tens),
        row(10, 11, [3, 2, 0, 0], [10, 9, 0, 0]),
        row(2, 2, [2, 1, 0, 0], [2, 1, 0, 0]),
        row(1, 1, [1, 0, 0, 0], [1, 0, 0, 0]),
        row(4, 4, [1, 1, 1, 1], [0, 0, 0, 0]),
        row(4, 4, [2, 1, 1, 0], [3, 0, 2, 1]),
        row(1, 9, ones, ones),
        row(10**9, 10**9 + 7, [10**9 - 1, 10**8, 10**7, 10**6], [10**9] * 4),
    ]
    return np.asarray(rows, dtype=np.int64)


def chrf_edge_totals(orders: int) -> np.ndarray:
    """chrF rows: all empty, hypothesis or reference empty at some orders, no matches, perfect matches."""
    patterns = [(0, 0, 0), (5, 0, 0), (0, 5, 0), (5, 5, 0), (5, 5, 5), (7, 3, 2), (1, 1, 1), (10**9, 10**9 - 1, 10**8)]
    rows = [list(pattern) * orders for pattern in patterns]
    rng = np.random.default_rng(7)
    for _ in range(40):  # orders mixing the patterns
        rows.append([value for i in rng.integers(0, len(patterns), orders) for value in patterns[i]])
    return np.asarray(rows, dtype=np.int64)


@pytest.mark.parametrize("name", SCORERS)
def test_random_totals(name: str) -> None:
    scorer = SCORERS[name]
    assert_matches(scorer, random_totals(scorer, seed=20240601))


@pytest.mark.parametrize("name", SCORERS)
def test_edge_totals(name: str) -> None:
    scorer = SCORERS[name]
    if isinstance(scorer, BLEU):
        totals = bleu_edge_totals(scorer.max_ngram_order)
    else:
        totals = chrf_edge_totals(width(scorer) // 3)
    assert_matches(scorer, totals)


def read_lines(language: str) -> list[str]:
    path = FLORES_DEVTEST / f"{language}.devtest"
    if not path.is_file():
        pytest.skip(f"FLORES-200 devtest not at {path}")
    with path.open(encoding="utf-8") as file:
        return [next(file).rstrip("\n") for _ in range(SENTENCES)]


def drop_every_third_word(sentence: str) -> str:
    return " ".join(word for i, word in enumerate(sentence.split()) if i % 3 != 2)


@pytest.fixture(scope="module")
def corpora() -> list[tuple[list[str], list[str]]]:
    """(hypotheses, references): German and English with words dropped, and English scored against German
    (few matches, so higher orders often have none)."""
    english, german = read_lines("eng_Latn"), read_lines("deu_Latn")
    return [
        ([drop_every_third_word(line) for line in german], german),
        ([drop_every_third_word(line) for line in english], english),
        (english, german),
    ]


@pytest.mark.parametrize("name", SCORERS)
def test_real_statistics(name: str, corpora: list[tuple[list[str], list[str]]]) -> None:
    scorer = SCORERS[name]
    rng = np.random.default_rng(12345)
    for hypotheses, references in corpora:
        stats = np.asarray(scorer._extract_corpus_statistics(hypotheses, [references]), dtype=np.int64)
        n = len(stats)
        # Bootstrap resamples (as harness.metrics.translation draws them), small subsets, single segments.
        draws = rng.choice(n, size=(100, n), replace=True)
        counts = np.stack([np.bincount(draw, minlength=n) for draw in draws])
        subsets = (rng.random((100, n)) < 3 / n).astype(np.int64)
        totals = np.concatenate([counts @ stats, subsets @ stats, stats[:100], stats.sum(axis=0, keepdims=True)])
        assert_matches(scorer, totals)


def test_float_totals_of_whole_counts() -> None:
    scorer = CHRF(word_order=2)
    totals = random_totals(scorer, seed=3)
    np.testing.assert_array_equal(chrf_scores(scorer, totals.astype(np.float64)), chrf_scores(scorer, totals))
    with pytest.raises(ValueError, match="whole counts"):
        chrf_scores(scorer, totals + 0.5)


def test_wrong_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="10 columns"):
        bleu_scores(BLEU(), np.zeros((3, 9), dtype=np.int64))
    with pytest.raises(ValueError, match="18 columns"):
        chrf_scores(CHRF(), np.zeros(18, dtype=np.int64))


def test_dispatch() -> None:
    totals = np.ones((2, 10), dtype=np.int64)
    assert corpus_scores(TER(), totals) is None

    class MyBleu(BLEU):
        pass

    assert corpus_scores(MyBleu(), totals) is None  # a subclass may change the formula
    replaced = BLEU(tokenize="char")  # another tokenizer (spBLEU swaps it) does not change the formula
    replaced.tokenizer = BLEU(tokenize="none").tokenizer
    result = corpus_scores(replaced, totals)
    assert result is not None
    np.testing.assert_allclose(result, sacrebleu_scores(replaced, totals), rtol=0, atol=TOLERANCE)


def test_unknown_smoothing() -> None:
    scorer = BLEU()
    scorer.smooth_method = "nist-4"
    with pytest.raises(NotImplementedError, match="nist-4"):
        bleu_scores(scorer, np.ones((1, 10), dtype=np.int64))
    assert corpus_scores(scorer, np.ones((1, 10), dtype=np.int64)) is None
