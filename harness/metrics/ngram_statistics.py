"""sacrebleu's chrF/chrF++ and BLEU segment statistics for many segments at once, with numpy.

sacrebleu extracts the n-grams of one segment at a time in Python: a ``Counter`` of substrings per n-gram
order, for the hypothesis and for the reference (about 800 strings per FLORES sentence for chrF++). A FLORES
direction has 1,012 segments and a whole run 406 directions, which made that extraction most of the harness's
own time. Here every segment of a batch is extracted together: each symbol (a character, or a word for chrF++'s
word n-grams and BLEU) becomes a dense integer, each n-gram an integer built from its symbols, and one sort per
order lines up equal n-grams of the same segment, hypothesis and reference side by side, so that the matches
(the smaller of the two counts, summed over n-gram kinds) come out per segment in a few numpy calls.

The rows are sacrebleu's exactly: the same preprocessing (sacrebleu's own ``_preprocess_segment``,
``_remove_punctuation`` and tokenizers), the same n-grams (two n-grams are equal iff their symbols are, and
symbols are numbered one to one), integer counts; ``tests/metrics/test_ngram_statistics.py`` compares every
row with sacrebleu's extraction on every local FLORES language and on edge cases. One reference per segment,
as FLORES has; other shapes use sacrebleu's path (``segment_rows`` in ``translation.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.metrics.base import Metric as SacrebleuMetric

CODE_BITS = 63  # an n-gram's code: segment, n-gram, side (hypothesis 0, reference 1), as a non-negative int64
MAX_PAIRS = 4096  # segments per sort: 12 bits of the code, leaving 50 for the n-gram


def supports(scorer: SacrebleuMetric) -> bool:
    """Whether this module computes ``scorer``'s rows: sacrebleu's chrF/chrF++ and BLEU classes as they are
    (a subclass may change what a segment's statistics are)."""
    return type(scorer) in (CHRF, BLEU)


def segment_statistics(scorer: SacrebleuMetric, hypotheses: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """One row of ``scorer``'s statistics per (hypothesis, reference) pair, equal to sacrebleu's
    ``_extract_corpus_statistics(hypotheses, [references])``: int64, one row per pair."""
    if not supports(scorer):
        raise TypeError(f"no batched statistics for {type(scorer).__name__}")
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    chunks = [
        _chunk(scorer, hypotheses[start : start + MAX_PAIRS], references[start : start + MAX_PAIRS])
        for start in range(0, len(hypotheses), MAX_PAIRS)
    ]
    return np.concatenate(chunks) if chunks else np.zeros((0, _width(scorer)), dtype=np.int64)


def _width(scorer: SacrebleuMetric) -> int:
    if isinstance(scorer, CHRF):
        return 3 * (scorer.char_order + scorer.word_order)
    assert isinstance(scorer, BLEU)
    return 2 + 2 * scorer.max_ngram_order


def _chunk(scorer: SacrebleuMetric, hypotheses: Sequence[str], references: Sequence[str]) -> np.ndarray:
    hyps = [scorer._preprocess_segment(text) for text in hypotheses]
    refs = [scorer._preprocess_segment(text) for text in references]
    if isinstance(scorer, CHRF):
        return _chrf_rows(scorer, hyps, refs)
    assert isinstance(scorer, BLEU)
    return _bleu_rows(scorer, hyps, refs)


def _chrf_rows(scorer: CHRF, hyps: list[str], refs: list[str]) -> np.ndarray:
    """Per order (characters 1..char_order, then words 1..word_order): hypothesis n-grams (0 when the reference
    has none of that order, as sacrebleu counts), reference n-grams, matches."""
    texts = hyps + refs
    if not scorer.whitespace:
        texts = ["".join(text.split()) for text in texts]
    blocks = [_orders(*_characters(texts), scorer.char_order)]
    if scorer.word_order > 0:
        words = [scorer._remove_punctuation(text) for text in hyps + refs]
        blocks.append(_orders(*_numbered(words), scorer.word_order))
    columns = []
    for hyp_counts, ref_counts, matches in blocks:
        for order in range(hyp_counts.shape[1]):
            hyp = np.where(ref_counts[:, order] > 0, hyp_counts[:, order], 0)
            columns += [hyp, ref_counts[:, order], matches[:, order]]
    return np.stack(columns, axis=1).astype(np.int64)


def _bleu_rows(scorer: BLEU, hyps: list[str], refs: list[str]) -> np.ndarray:
    """[hypothesis length, reference length, matches of each order..., hypothesis n-grams of each order...]."""
    tokens = [text.split() for text in hyps + refs]
    symbols, lengths = _numbered(tokens)
    hyp_counts, _, matches = _orders(symbols, lengths, scorer.max_ngram_order)
    n = len(hyps)
    return np.concatenate([lengths[:n, None], lengths[n:, None], matches, hyp_counts], axis=1).astype(np.int64)


# -- symbols --------------------------------------------------------------------------------------------------
def _characters(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The characters of ``texts`` (hypotheses, then references) as dense ids, and each text's length."""
    lengths = np.fromiter((len(text) for text in texts), dtype=np.int64, count=len(texts))
    # UTF-32 has one unit per Python character; lone surrogates (valid in a str) pass as their code points.
    points = np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype="<u4")
    _, dense = np.unique(points, return_inverse=True)
    return dense.astype(np.int64).reshape(-1), lengths


def _numbered(sequences: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
    """The words of ``sequences`` as dense ids (equal words, equal ids), and each sequence's length."""
    ids: dict[str, int] = {}
    flat = [ids.setdefault(word, len(ids)) for words in sequences for word in words]
    lengths = np.fromiter((len(words) for words in sequences), dtype=np.int64, count=len(sequences))
    return np.asarray(flat, dtype=np.int64), lengths


# -- counting ---------------------------------------------------------------------------------------------------
def _orders(symbols: np.ndarray, lengths: np.ndarray, max_order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For ``2n`` sequences (n hypotheses, then their n references) of ``symbols``: per pair and order 1..max_order,
    the hypothesis's n-gram count, the reference's, and the matches (sum over n-gram kinds of the smaller count)."""
    pairs = len(lengths) // 2
    shape = (pairs, max_order)
    hyp_counts, ref_counts, matches = (np.zeros(shape, dtype=np.int64) for _ in range(3))
    if pairs == 0 or len(symbols) == 0:
        return hyp_counts, ref_counts, matches
    sequence = np.repeat(np.arange(len(lengths)), lengths)
    starts = np.cumsum(lengths) - lengths
    remaining = lengths[sequence] - (np.arange(len(symbols)) - starts[sequence])  # symbols from here to the end
    pair, side = sequence % pairs, (sequence >= pairs).astype(np.int64)
    pair_bits = int(pairs - 1).bit_length()
    key_budget = CODE_BITS - 1 - pair_bits
    symbol_bits = max(1, int(symbols.max()).bit_length())
    key, key_bits = symbols.copy(), symbol_bits
    at = np.arange(len(symbols))
    for order in range(1, max_order + 1):
        at = at[remaining[at] >= order]  # where an n-gram of this order starts
        if len(at) == 0:
            break
        if order > 1:
            if key_bits + symbol_bits > key_budget:  # renumber the (order-1)-grams densely to make room
                _, dense = np.unique(key[at], return_inverse=True)
                key[at] = dense.reshape(-1)
                key_bits = max(1, int(dense.max()).bit_length())
            key[at] = (key[at] << symbol_bits) | symbols[at + order - 1]
            key_bits += symbol_bits
        code = np.sort((pair[at] << (key_budget + 1)) | (key[at] << 1) | side[at])
        kinds = np.flatnonzero(np.concatenate(([True], (code[1:] >> 1) != (code[:-1] >> 1))))
        in_reference = np.add.reduceat(code & 1, kinds)
        in_hypothesis = np.diff(np.append(kinds, len(code))) - in_reference
        shared = np.minimum(in_hypothesis, in_reference)
        kind_pair = code[kinds] >> (key_budget + 1)
        matches[:, order - 1] = np.bincount(kind_pair, weights=shared, minlength=pairs).astype(np.int64)
        hyp_counts[:, order - 1] = np.bincount(pair[at], weights=1 - side[at], minlength=pairs).astype(np.int64)
        ref_counts[:, order - 1] = np.bincount(pair[at], weights=side[at], minlength=pairs).astype(np.int64)
    return hyp_counts, ref_counts, matches


__all__ = ["segment_statistics", "supports"]
