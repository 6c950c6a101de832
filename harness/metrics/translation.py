"""Corpus translation metrics from sacrebleu (chrF++, BLEU, spBLEU), with a bootstrap standard error.

Split in two as sacrebleu itself is: every segment (hypothesis + reference) becomes a row of sufficient
statistics (n-gram match counts), and the corpus score is computed from their column sums. The value of a
metric is exactly sacrebleu's corpus score (the same code path as ``sacrebleu REF -i HYP``); scores are on
sacrebleu's 0-100 scale, not 0-1.

Standard error: bootstrap over segments. The rows of statistics are resampled with replacement
``BOOTSTRAP_RESAMPLES`` times, drawn exactly as sacrebleu's own bootstrap draws them (``sacrebleu
--confidence``: ``numpy.random.default_rng(seed).choice(n, size=(resamples, n))`` with sacrebleu's default
seed 12345), each resample is scored, and the stderr is the standard deviation (ddof=1) of those scores.
sacrebleu reports a 95% interval from the same resamples; xlh keeps the standard deviation so that every
metric in a results file carries the same kind of error. The seed is a constant, never read from the
environment (sacrebleu reads ``$SACREBLEU_SEED``), so a run is reproducible.

spBLEU (BLEU on the FLORES-200 SentencePiece pieces, ``tokenize="flores200"``) needs the SentencePiece model
that sacrebleu downloads on first use into ``$SACREBLEU/models/`` (``~/.sacrebleu/models/``) and the
``sentencepiece`` package. xlh never downloads during a run: ``spbleu_unavailable`` says whether both are
present, and the metric reads the model file from the folder it is given.

Signatures are sacrebleu's own (``metric.get_signature()``, which names the bootstrap as ``bs`` and
``seed``), after the score's name, followed by how the stderr was computed and the sample count. Values
carry ``Unit.SCORE`` (0-100, shown as they are).

The metrics own their sufficient statistics (``harness.api.metric.SufficientStatistics``): the segment rows
above, and sacrebleu's formula on their sums, so paired tests resample segments without rescoring any text.

Each segment's statistics are extracted once (``segment_rows``): a FLORES direction's sentence chrF++ scores
come from its rows, extracted for all its segments together (``ngram_statistics``: sacrebleu's statistics
computed with numpy, row for row equal), and the direction's corpus scores read the same rows back. Metrics
that module does not cover use sacrebleu's own extraction.
"""

from __future__ import annotations

import functools
import importlib.util
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sacrebleu.utils
from sacrebleu.metrics import BLEU, CHRF
from sacrebleu.metrics.base import Metric as SacrebleuMetric
from sacrebleu.tokenizers.tokenizer_spm import SPM_MODELS, TokenizerSPM

from harness.api.metric import MetricValue, SampleScore, Unit
from harness.metrics import ngram_statistics
from harness.metrics.sacrebleu_vectorised import corpus_scores

BOOTSTRAP_RESAMPLES = 1000  # sacrebleu's default for --confidence
BOOTSTRAP_SEED = 12345  # sacrebleu's default $SACREBLEU_SEED
# sacrebleu's name for the FLORES-200 SentencePiece model; it stores the file under the URL's base name.
FLORES200_SPM = "flores200"
FLORES200_SPM_URL: str = SPM_MODELS[FLORES200_SPM]["url"]


# -- per segment, then per corpus --------------------------------------------------------------------------
def segment_statistics(scorer: SacrebleuMetric, hypotheses: Sequence[str], references: Sequence[str]) -> np.ndarray:
    """One row of sufficient statistics per segment (one reference each), as sacrebleu extracts them."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    return _counts(scorer, scorer._extract_corpus_statistics(list(hypotheses), [list(references)]))


def score_from_statistics(scorer: SacrebleuMetric, totals: np.ndarray) -> float:
    """The corpus score from column sums of segment statistics (sacrebleu's own formula)."""
    return float(scorer._compute_score_from_stats([int(count) for count in totals]).score)


def _counts(scorer: SacrebleuMetric, rows: Any) -> np.ndarray:
    stats = np.asarray(rows)
    if stats.dtype.kind not in "iu":  # counts, summed exactly; a metric with real-valued statistics needs care
        raise TypeError(f"{type(scorer).__name__} statistics are not integer counts ({stats.dtype})")
    return stats.astype(np.int64)


# -- segments seen recently ---------------------------------------------------------------------------------
# FLORES scores a direction's sentence chrF++ and then, once its samples are in, its corpus scores from the same
# segments: the rows are read back from a bounded cache per metric (equal metrics make equal scorers) instead of
# extracted again; room for two FLORES directions (1,012 sentences each).
RECENT_SEGMENTS = 3000


class _Recent:
    """A bounded mapping that forgets the least recently used entry first."""

    def __init__(self, size: int) -> None:
        self.size, self.entries = size, OrderedDict[Any, Any]()

    def get(self, key: Any) -> Any | None:
        value = self.entries.get(key)
        if value is not None:
            self.entries.move_to_end(key)
        return value

    def put(self, key: Any, value: Any) -> None:
        self.entries[key] = value
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


_ROWS: dict[object, _Recent] = {}  # metric -> (hypothesis, reference) -> statistics row


def segment_rows(
    metric: object, scorer: SacrebleuMetric, hypotheses: Sequence[str], references: Sequence[str]
) -> np.ndarray:
    """``segment_statistics`` of ``metric`` (hashable; ``scorer`` is one of its scorers), reusing the rows of
    recently scored segments; new segments are extracted together (``ngram_statistics``, sacrebleu's rows
    exactly), or by sacrebleu itself for a metric that module does not cover."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    rows_seen = _ROWS.setdefault(metric, _Recent(RECENT_SEGMENTS))
    rows = [rows_seen.get(pair) for pair in zip(hypotheses, references, strict=True)]
    missing = [index for index, row in enumerate(rows) if row is None]
    scorer.num_refs = 1  # as sacrebleu's own extraction leaves it: its signature reads it
    if missing:
        hyps, refs = [hypotheses[i] for i in missing], [references[i] for i in missing]
        computed = (
            ngram_statistics.segment_statistics(scorer, hyps, refs)
            if ngram_statistics.supports(scorer)
            else segment_statistics(scorer, hyps, refs)
        )
        for index, row in zip(missing, computed, strict=True):
            rows[index] = row
            rows_seen.put((hypotheses[index], references[index]), row)
    return np.stack([row for row in rows if row is not None]) if rows else np.zeros((0, 0), dtype=np.int64)


def bootstrap_scores(scorer: SacrebleuMetric, stats: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Scores of ``resamples`` corpora drawn from the segments with replacement (sacrebleu's draws)."""
    # Summing the drawn rows is multiplying by how often each segment was drawn, in float64 (BLAS; exact, as
    # every count and sum stays far below 2**53), without a (resamples x n x statistics) array.
    totals = resample_counts(len(stats), resamples, seed) @ stats.astype(np.float64)
    return corpus_scores_of_rows(scorer, totals)


@functools.lru_cache(maxsize=8)
def resample_counts(n: int, resamples: int, seed: int) -> np.ndarray:
    """How often each of ``n`` segments is drawn in each resample (read-only). The draws depend on ``n``, the
    resample count and the seed alone, so every FLORES direction (1,012 sentences each) shares them."""
    indices = np.random.default_rng(seed).choice(n, size=(resamples, n), replace=True)
    offsets = (indices + n * np.arange(resamples)[:, None]).ravel()
    counts = np.bincount(offsets, minlength=resamples * n).reshape(resamples, n).astype(np.float64)
    counts.flags.writeable = False
    return counts


def corpus_scores_of_rows(scorer: SacrebleuMetric, totals: np.ndarray) -> np.ndarray:
    """The corpus score of each row of summed statistics: sacrebleu's formula vectorised over the rows where
    xlh has it (bit-identical, ``sacrebleu_vectorised``), else sacrebleu's per-row Python."""
    scores = corpus_scores(scorer, totals)
    if scores is None:
        scores = np.asarray([score_from_statistics(scorer, row) for row in totals], dtype=np.float64)
    return scores


def bootstrap_stderr(scores: np.ndarray) -> float:
    """Standard deviation (ddof=1) of bootstrap scores; NaN with fewer than two segments to resample."""
    if len(scores) < 2:
        return float("nan")
    return float(np.std(scores, ddof=1))


# -- the FLORES-200 SentencePiece model ---------------------------------------------------------------------
def sacrebleu_dir() -> Path:
    """Where sacrebleu keeps downloads: ``$SACREBLEU``, else ``~/.sacrebleu`` (read when sacrebleu loads)."""
    return Path(sacrebleu.utils.SACREBLEU_DIR)


def flores200_spm_path(folder: Path | None = None) -> Path:
    """The file sacrebleu loads (or would download) for ``tokenize="flores200"``."""
    return (folder or sacrebleu_dir()) / "models" / Path(FLORES200_SPM_URL).name


def spbleu_unavailable(folder: Path | None = None) -> str | None:
    """Why spBLEU cannot be computed without a download (None when it can)."""
    path = flores200_spm_path(folder)
    if not path.is_file():
        return (
            f"spbleu left out: the FLORES-200 SentencePiece model is not at {path} (sacrebleu would download it "
            f"from {FLORES200_SPM_URL}; xlh does not download during a run: put the file there or set $SACREBLEU)"
        )
    if importlib.util.find_spec("sentencepiece") is None:
        return "spbleu left out: the sentencepiece package is not installed (pip install sentencepiece)"
    return None


class _LocalFlores200Tokenizer(TokenizerSPM):
    """sacrebleu's FLORES-200 SentencePiece tokenizer (same pieces, same signature) loaded from a given
    file; sacrebleu's own constructor downloads the file when it is missing from ``$SACREBLEU/models``."""

    def __init__(self, model: Path) -> None:
        import sentencepiece

        self.name = SPM_MODELS[FLORES200_SPM]["signature"]
        self.sp = sentencepiece.SentencePieceProcessor()
        self.sp.Load(str(model))


# -- metrics ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CorpusTranslationMetric:
    """A sacrebleu corpus metric over the samples of one direction: ``extracted`` is the hypothesis,
    ``gold`` the reference. Subclasses say which sacrebleu metric (``scorer``)."""

    name: str
    resamples: int = BOOTSTRAP_RESAMPLES
    seed: int = BOOTSTRAP_SEED

    def scorer(self) -> SacrebleuMetric:
        """A fresh sacrebleu metric object (they cache references and bootstrap settings)."""
        raise NotImplementedError

    def aggregate(self, samples: Sequence[SampleScore]) -> MetricValue:
        scorer = self.scorer()
        stats = self._segment_statistics(scorer, samples)
        score = scorer._compute_score_from_stats([int(count) for count in stats.sum(axis=0)])
        resampled = bootstrap_scores(scorer, stats, self.resamples, self.seed) if len(stats) > 1 else np.zeros(0)
        return MetricValue(
            value=float(score.score),
            stderr=bootstrap_stderr(resampled),
            signature=self.signature(scorer, score.name, len(samples)),
            unit=Unit.SCORE,
        )

    def item_statistics(self, samples: Sequence[SampleScore]) -> np.ndarray:
        """sacrebleu's statistics of each segment (integer counts, as float64).

        Raises:
            ValueError: no samples.
            TypeError: a hypothesis or reference that is not a string.
        """
        return self._segment_statistics(self.scorer(), samples).astype(np.float64)

    def value_from_totals(self, totals: np.ndarray, counts: np.ndarray) -> np.ndarray:
        """sacrebleu's corpus score of each row of summed segment statistics (``counts`` is not needed)."""
        return corpus_scores_of_rows(self.scorer(), np.asarray(totals))

    def _segment_statistics(self, scorer: SacrebleuMetric, samples: Sequence[SampleScore]) -> np.ndarray:
        if not samples:
            raise ValueError(f"{self.name}: no samples to score")
        hypotheses = [_text(sample.extracted, "hypothesis") for sample in samples]
        references = [_text(sample.gold, "reference") for sample in samples]
        return segment_rows(self, scorer, hypotheses, references)

    def signature(self, scorer: SacrebleuMetric, score_name: str, n: int) -> str:
        # sacrebleu's signature names its own bootstrap this way (corpus_score(n_bootstrap=...) sets both).
        scorer.n_bootstrap = self.resamples
        scorer.seed = self.seed  # type: ignore[attr-defined]
        return f"{score_name}|{scorer.get_signature()}|stderr:sd_of_bootstrap_scores|n:{n}"


@dataclass(frozen=True)
class ChrF(CorpusTranslationMetric):
    """chrF++ by default (character 6-grams and word 2-grams, beta 2): ``sacrebleu.metrics.CHRF``."""

    name: str = "chrf++"
    word_order: int = 2

    def scorer(self) -> SacrebleuMetric:
        return CHRF(word_order=self.word_order)


@dataclass(frozen=True)
class Bleu(CorpusTranslationMetric):
    """BLEU with sacrebleu's defaults (``13a`` tokenizer, exp smoothing, mixed case): ``sacrebleu.metrics.BLEU``."""

    name: str = "bleu"
    tokenize: str = "13a"

    def scorer(self) -> SacrebleuMetric:
        return BLEU(tokenize=self.tokenize)


@dataclass(frozen=True)
class SpBleu(CorpusTranslationMetric):
    """spBLEU: BLEU on FLORES-200 SentencePiece pieces (``BLEU(tokenize="flores200")``), the model read from
    ``flores200_spm_path(sacrebleu_folder)``; fails rather than download when it is missing."""

    name: str = "spbleu"
    sacrebleu_folder: Path | None = None  # None: sacrebleu's own ($SACREBLEU or ~/.sacrebleu)

    def scorer(self) -> SacrebleuMetric:
        reason = spbleu_unavailable(self.sacrebleu_folder)
        if reason is not None:
            raise RuntimeError(reason)
        bleu = BLEU(tokenize="none")
        bleu.tokenizer = _LocalFlores200Tokenizer(flores200_spm_path(self.sacrebleu_folder))
        bleu.tokenizer_signature = bleu.tokenizer.signature()
        return bleu


def sentence_chrf(hypothesis: str, reference: str, word_order: int = 2) -> float:
    """Sentence-level chrF++ (0-100), for inspecting single samples; corpus chrF++ is not its mean. Exactly
    sacrebleu's ``sentence_chrf``: the score of the segment's statistics row, which the corpus chrF++ of the
    same metric then reads back (``segment_rows``) instead of extracting it again."""
    (score,) = sentence_chrfs([hypothesis], [reference], word_order)
    return score


def sentence_chrfs(hypotheses: Sequence[str], references: Sequence[str], word_order: int = 2) -> list[float]:
    """``sentence_chrf`` of each pair, the segments extracted together (``ngram_statistics``)."""
    if not hypotheses:
        return []
    metric = ChrF(word_order=word_order)
    scorer = _sentence_scorer(metric)
    rows = segment_rows(metric, scorer, hypotheses, references)
    return [float(score) for score in corpus_scores_of_rows(scorer, rows.astype(np.float64))]


@functools.cache
def _sentence_scorer(metric: ChrF) -> SacrebleuMetric:
    return metric.scorer()


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"translation metrics need the {what} as a string, got {value!r}")
    return value


__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "BOOTSTRAP_SEED",
    "Bleu",
    "ChrF",
    "CorpusTranslationMetric",
    "SpBleu",
    "bootstrap_scores",
    "bootstrap_stderr",
    "flores200_spm_path",
    "segment_rows",
    "score_from_statistics",
    "segment_statistics",
    "sentence_chrf",
    "sentence_chrfs",
    "spbleu_unavailable",
]
