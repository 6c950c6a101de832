"""sacrebleu's corpus-score formulas (BLEU, chrF/chrF++) over many rows of summed statistics at once.

A bootstrap scores ~1000 resampled corpora; sacrebleu's ``_compute_score_from_stats`` is a Python loop per
corpus. These functions compute the same numbers for a whole (rows x statistics) matrix with numpy.

Exactness: each function replays sacrebleu 2.6.0's arithmetic step by step -- the same operations in the same
order (left-to-right products and quotients, sums accumulated order by order as Python's ``sum`` does, the same
branches for zero counts, the same early stops) -- so results equal ``scorer._compute_score_from_stats(row).score``
up to the last-bit differences between numpy's and ``math``'s ``log``/``exp`` (well below 1e-9 on the 0-100
scale). ``.score`` is sacrebleu's full-precision float (it rounds only when formatting), and so are these.
Counts are computed as float64, exact for integers below 2**53 (sacrebleu divides Python ints, which agree there).

Only scorers whose type is exactly ``BLEU`` or ``CHRF`` are handled (the tokenizer does not matter: it only
shapes the statistics, e.g. spBLEU); a subclass could change the formula, so ``corpus_scores`` gives None
and callers keep sacrebleu's per-row path.
"""

from __future__ import annotations

import numpy as np
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.metrics.base import Metric

# sacrebleu.utils.my_log's value for log(0): a zero precision makes the geometric mean (effectively) zero.
_LOG_ZERO = -9999999999.0


def _counts(totals: np.ndarray, width: int, what: str) -> np.ndarray:
    """``totals`` as a float64 (rows x ``width``) matrix of counts; integral floats are accepted (callers may
    keep summed statistics as float64), fractional ones are not (sacrebleu's caller would truncate them)."""
    array = np.asarray(totals)
    if array.ndim != 2 or array.shape[1] != width:
        raise ValueError(f"{what} statistics need a 2-D array with {width} columns, got shape {array.shape}")
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{what} statistics must be numbers, got {array.dtype}")
    counts = array.astype(np.float64)
    if array.dtype.kind == "f" and not np.array_equal(counts, np.trunc(counts)):
        raise ValueError(f"{what} statistics must be whole counts")
    return counts


def _my_log(values: np.ndarray) -> np.ndarray:
    """sacrebleu.utils.my_log elementwise: log, with 0 mapped to -9999999999."""
    zero = values == 0.0
    return np.where(zero, _LOG_ZERO, np.log(np.where(zero, 1.0, values)))


def bleu_scores(scorer: BLEU, totals: np.ndarray) -> np.ndarray:
    """BLEU of each row of summed statistics ``[sys_len, ref_len, correct_1..N, total_1..N]`` (N is the
    scorer's ``max_ngram_order``), as ``BLEU.compute_bleu`` computes it with the scorer's ``smooth_method``
    ('none', 'floor', 'add-k', 'exp'), ``smooth_value`` (None: sacrebleu's default) and ``effective_order``.

    Raises:
        NotImplementedError: a smoothing method sacrebleu 2.6.0 does not define.
        ValueError: ``totals`` is not a (rows x 2+2N) matrix of whole counts.
    """
    method = scorer.smooth_method
    if method not in ("none", "floor", "add-k", "exp"):
        raise NotImplementedError(f"BLEU smooth_method {method!r} has no vectorised formula; score rows one by one")
    order = int(scorer.max_ngram_order)
    stats = _counts(totals, 2 + 2 * order, "BLEU")
    given = BLEU.SMOOTH_DEFAULTS[method] if scorer.smooth_value is None else scorer.smooth_value
    value = 0.0 if given is None else float(given)  # None only for methods that take no value
    sys_len, ref_len = stats[:, 0], stats[:, 1]
    correct, total = stats[:, 2 : 2 + order], stats[:, 2 + order :]
    rows = len(stats)

    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        # Brevity penalty: exp(1 - r/c) when the system is shorter, 0 when it is empty.
        ratio = np.divide(ref_len, sys_len, out=np.zeros(rows), where=sys_len > 0)
        bp = np.where(sys_len < ref_len, np.where(sys_len > 0, np.exp(1 - ratio), 0.0), 1.0)

        # sacrebleu walks the orders and stops at the first order without n-grams (after add-k smoothing);
        # ``running`` marks rows that have not stopped, ``eff_order`` the orders averaged over.
        running = np.ones(rows, dtype=bool)
        eff_order = np.full(rows, float(order))
        mteval = np.ones(rows)  # 'exp': doubles at each order with no match
        precisions = np.zeros((rows, order))
        for n in range(order):
            hits, count = correct[:, n], total[:, n]
            if method == "add-k" and n > 0:
                hits, count = hits + value, count + value
            running &= count != 0
            if scorer.effective_order:
                eff_order = np.where(running, n + 1.0, eff_order)
            safe = np.where(running, count, 1.0)
            miss = hits == 0
            if method == "exp":
                mteval = np.where(running & miss, mteval * 2, mteval)
                missed = 100.0 / (mteval * safe)
            elif method == "floor":
                missed = 100.0 * value / safe
            else:
                missed = np.zeros(rows)
            precision = np.where(miss, missed, 100.0 * hits / safe)
            precisions[:, n] = np.where(running, precision, 0.0)

        # Python's sum over precisions[:eff_order], accumulated order by order, then the geometric mean.
        log_sum = np.zeros(rows)
        for n in range(order):
            log_sum = np.where(n < eff_order, log_sum + _my_log(precisions[:, n]), log_sum)
        score = bp * np.exp(log_sum / eff_order)
    # No matching n-gram of any order: sacrebleu returns 0.0 before smoothing (#141).
    return np.where(correct.any(axis=1), score, 0.0)


def chrf_scores(scorer: CHRF, totals: np.ndarray) -> np.ndarray:
    """chrF of each row of summed statistics ``[hyp, ref, match]`` per order (``char_order`` character orders,
    then ``word_order`` word orders), as ``CHRF._compute_f_score`` computes it with the scorer's ``beta`` and
    ``eps_smoothing`` (True: the mean of per-order F scores with eps for empty orders, as chrF++.py; False:
    sacrebleu's default, the F score of precision and recall averaged over orders with hypothesis and reference
    n-grams).

    Raises:
        ValueError: ``totals`` is not a (rows x 3*(char_order+word_order)) matrix of whole counts.
    """
    order = int(scorer.char_order) + int(scorer.word_order)
    stats = _counts(totals, 3 * order, "chrF")
    factor = scorer.beta**2
    eps = 1e-16
    rows = len(stats)
    score, avg_prec, avg_rec = np.zeros(rows), np.zeros(rows), np.zeros(rows)
    effective = np.zeros(rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(order):
            n_hyp, n_ref, n_match = stats[:, 3 * i], stats[:, 3 * i + 1], stats[:, 3 * i + 2]
            prec = np.where(n_hyp > 0, n_match / np.where(n_hyp > 0, n_hyp, 1.0), eps)
            rec = np.where(n_ref > 0, n_match / np.where(n_ref > 0, n_ref, 1.0), eps)
            denom = factor * prec + rec
            score = score + np.where(denom > 0, (1 + factor) * prec * rec / np.where(denom > 0, denom, 1.0), eps)
            both = (n_hyp > 0) & (n_ref > 0)
            avg_prec = np.where(both, avg_prec + prec, avg_prec)
            avg_rec = np.where(both, avg_rec + rec, avg_rec)
            effective = effective + both
        if scorer.eps_smoothing:
            return 100 * score / order
        divisor = np.where(effective > 0, effective, 1.0)
        avg_prec = np.where(effective > 0, avg_prec / divisor, 0.0)
        avg_rec = np.where(effective > 0, avg_rec / divisor, 0.0)
        nonzero = (avg_prec + avg_rec) != 0
        f_score = (1 + factor) * avg_prec * avg_rec
        f_score = f_score / np.where(nonzero, factor * avg_prec + avg_rec, 1.0)
    return np.where(nonzero, 100 * f_score, 0.0)


def corpus_scores(scorer: Metric, totals: np.ndarray) -> np.ndarray | None:
    """sacrebleu's corpus score of each row of ``totals`` for a ``BLEU`` or ``CHRF`` scorer (exactly those
    types); None for any other scorer or setting without a vectorised formula, so callers score rows one by one.
    """
    try:
        if type(scorer) is BLEU:
            return bleu_scores(scorer, totals)
        if type(scorer) is CHRF:
            return chrf_scores(scorer, totals)
    except NotImplementedError:
        return None
    return None
