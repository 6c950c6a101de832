"""Corpus chrF++ / BLEU / spBLEU: values are sacrebleu's, the bootstrap draws are sacrebleu's, nothing is
downloaded."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
import sacrebleu
from sacrebleu.metrics import BLEU, CHRF

from harness.api.metric import SampleScore
from harness.metrics.translation import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    Bleu,
    ChrF,
    SpBleu,
    bootstrap_scores,
    flores200_spm_path,
    score_from_statistics,
    segment_statistics,
    sentence_chrf,
    spbleu_unavailable,
)


def _drop_words(sentence: str, every: int) -> str:
    """The sentence without every ``every``-th word: a hypothesis with a non-trivial BLEU."""
    return " ".join(word for i, word in enumerate(sentence.split(), start=1) if i % every)


@pytest.fixture(scope="module")
def corpus(data_dir: Path) -> tuple[list[str], list[str]]:
    path = data_dir / "flores200" / "flores200_dataset" / "devtest" / "deu_Latn.devtest"
    references = path.read_text(encoding="utf-8").split("\n")[:40]
    hypotheses = [_drop_words(reference, every=3 + i % 4) for i, reference in enumerate(references)]
    return hypotheses, references


def _samples(hypotheses: list[str], references: list[str]) -> list[SampleScore]:
    return [SampleScore(extracted=h, gold=r, scores={}) for h, r in zip(hypotheses, references, strict=True)]


def test_values_are_sacrebleus_corpus_scores(corpus) -> None:
    hypotheses, references = corpus
    samples = _samples(hypotheses, references)
    chrf = ChrF().aggregate(samples)
    bleu = Bleu().aggregate(samples)
    assert chrf.value == CHRF(word_order=2).corpus_score(hypotheses, [references]).score
    assert bleu.value == BLEU().corpus_score(hypotheses, [references]).score
    assert sacrebleu.corpus_bleu(hypotheses, [references]).score == bleu.value  # BLEU defaults: 13a
    assert 20 < bleu.value < 80 and 50 < chrf.value < 95  # a non-trivial case
    assert chrf.unit == bleu.unit == "score"


def test_signatures_are_sacrebleus_plus_the_bootstrap(corpus) -> None:
    samples = _samples(*corpus)
    version = sacrebleu.__version__
    assert ChrF().aggregate(samples).signature == (
        f"chrF2++|nrefs:1|bs:1000|seed:12345|case:mixed|eff:yes|nc:6|nw:2|space:no|version:{version}"
        "|stderr:sd_of_bootstrap_scores|n:40"
    )
    assert Bleu().aggregate(samples).signature == (
        f"BLEU|nrefs:1|bs:1000|seed:12345|case:mixed|eff:no|tok:13a|smooth:exp|version:{version}"
        "|stderr:sd_of_bootstrap_scores|n:40"
    )


@pytest.mark.parametrize(
    ("hypotheses", "references", "chrf", "bleu"),
    [
        (
            ["Niemand hat die Absicht, eine Mauer zu errichten"],
            ["Niemand hat die Absicht, eine Mauer zu errichten"],
            100,
            100,
        ),
        (["abcdefg hij"], ["klmnop qrs"], 0, 0),
    ],
)
def test_golden_extremes(hypotheses, references, chrf, bleu) -> None:
    samples = _samples(hypotheses, references)
    assert ChrF().aggregate(samples).value == pytest.approx(chrf, abs=1e-9)
    assert Bleu().aggregate(samples).value == pytest.approx(bleu, abs=1e-9)


def test_bootstrap_stderr_is_positive_deterministic_and_seeded(corpus) -> None:
    samples = _samples(*corpus)
    first, again = ChrF().aggregate(samples), ChrF().aggregate(samples)
    assert first.stderr is not None and first.stderr > 0
    assert first == again
    other_seed = ChrF(seed=BOOTSTRAP_SEED + 1).aggregate(samples)
    assert other_seed.value == first.value and other_seed.stderr != first.stderr
    assert (Bleu().aggregate(samples).stderr or 0) > 0


def test_bootstrap_draws_are_sacrebleus(corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    # sacrebleu's own bootstrap (`--confidence`) reports mean and 95% interval of the same resamples.
    monkeypatch.delenv("SACREBLEU_SEED", raising=False)
    hypotheses, references = corpus
    for ours, theirs in ((ChrF().scorer(), CHRF(word_order=2)), (Bleu().scorer(), BLEU())):
        stats = segment_statistics(ours, hypotheses, references)
        scores = np.sort(bootstrap_scores(ours, stats, BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED))
        reference = theirs.corpus_score(hypotheses, [references], n_bootstrap=BOOTSTRAP_RESAMPLES)
        # sacrebleu sums statistics in float32: equal up to float32 rounding
        assert scores.mean() == pytest.approx(reference._mean, abs=1e-4)
        lower, upper = scores[BOOTSTRAP_RESAMPLES // 40], scores[BOOTSTRAP_RESAMPLES - BOOTSTRAP_RESAMPLES // 40 - 1]
        assert (upper - lower) / 2 == pytest.approx(reference._ci, abs=1e-4)


def test_statistics_sum_to_the_corpus_score(corpus) -> None:
    hypotheses, references = corpus
    scorer = Bleu().scorer()
    stats = segment_statistics(scorer, hypotheses, references)
    assert stats.shape == (40, 10)  # hyp_len, ref_len, 4 matches, 4 totals
    assert score_from_statistics(scorer, stats.sum(axis=0)) == Bleu().aggregate(_samples(*corpus)).value


def test_one_sample_has_no_stderr() -> None:
    value = ChrF().aggregate(_samples(["ein Satz"], ["ein Satz hier"]))
    assert value.stderr is not None and math.isnan(value.stderr)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="no samples"):
        ChrF().aggregate([])
    with pytest.raises(TypeError, match="hypothesis as a string"):
        Bleu().aggregate([SampleScore(extracted=None, gold="ref", scores={})])
    with pytest.raises(ValueError, match="2 hypotheses but 1 references"):
        segment_statistics(Bleu().scorer(), ["a", "b"], ["a"])


def test_sentence_chrf_is_sacrebleus() -> None:
    hypothesis, reference = "Die Beziehung ist nicht freundlich.", "Das Verhältnis ist nicht gerade freundschaftlich."
    expected = sacrebleu.sentence_chrf(hypothesis, [reference], word_order=2).score
    assert sentence_chrf(hypothesis, reference) == expected


def test_spm_model_path_is_where_sacrebleu_looks(tmp_path: Path) -> None:
    assert flores200_spm_path(tmp_path) == tmp_path / "models" / "flores200sacrebleuspm"
    assert flores200_spm_path() == Path(sacrebleu.utils.SACREBLEU_DIR) / "models" / "flores200sacrebleuspm"


def test_spbleu_without_the_model_file_is_refused_not_downloaded(tmp_path: Path) -> None:
    reason = spbleu_unavailable(tmp_path)
    assert reason is not None and str(tmp_path / "models" / "flores200sacrebleuspm") in reason
    with pytest.raises(RuntimeError, match="spbleu left out"):
        SpBleu(sacrebleu_folder=tmp_path).aggregate(_samples(["a"], ["a"]))
    assert not (tmp_path / "models").exists()  # nothing was fetched


def test_spbleu_needs_the_sentencepiece_package_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "flores200sacrebleuspm").write_bytes(b"")
    assert spbleu_unavailable(tmp_path) is None  # sentencepiece is a test dependency
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *args: None)
    reason = spbleu_unavailable(tmp_path)
    assert reason is not None and "sentencepiece package" in reason


def test_spbleu_with_a_local_model_equals_sacrebleus_flores200_bleu(
    corpus, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real flores200 SentencePiece model is not on this machine (sacrebleu downloads it); a stand-in
    model trained on FLORES text at the same place exercises the whole path: xlh's spBLEU must equal
    sacrebleu's own ``BLEU(tokenize="flores200")`` reading the same file."""
    import sentencepiece
    from sacrebleu.tokenizers import tokenizer_spm

    hypotheses, references = corpus
    (tmp_path / "models").mkdir()
    model_prefix = tmp_path / "models" / "stand-in"
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(references * 3), model_prefix=str(model_prefix), vocab_size=300, minloglevel=2
    )
    (tmp_path / "models" / "stand-in.model").rename(flores200_spm_path(tmp_path))
    monkeypatch.setattr(tokenizer_spm, "SACREBLEU_DIR", str(tmp_path))  # where sacrebleu looks for it

    ours = SpBleu(sacrebleu_folder=tmp_path).aggregate(_samples(hypotheses, references))
    theirs = BLEU(tokenize="flores200").corpus_score(hypotheses, [references])
    assert ours.value == pytest.approx(theirs.score, abs=1e-9)
    assert 0 < ours.value < 100 and ours.stderr is not None and ours.stderr > 0
    assert "tok:flores200" in ours.signature
    from tasks.flores200 import Flores200

    task = Flores200(sacrebleu_folder=tmp_path)
    assert [metric.name for metric in task.metrics("default")] == ["chrf++", "bleu", "spbleu"]
    assert task.notes("default") == ()


def test_cached_segments_change_no_statistic_value_or_signature(corpus) -> None:
    """Scoring segments seen before reuses their rows (``segment_rows``): the statistics, value, stderr and
    signature are those of sacrebleu extracting them again, hit or miss."""
    from harness.metrics import translation

    hypotheses, references = corpus
    others = [_drop_words(reference, every=2) for reference in references]
    for metric in (ChrF(), Bleu(), ChrF(word_order=0)):
        translation._ROWS.clear()
        cached = [metric.aggregate(_samples(hyps, references)) for hyps in (hypotheses, others, hypotheses)]
        assert len(translation._ROWS[metric].entries) == len(set(zip(hypotheses, references, strict=True))) + len(
            set(zip(others, references, strict=True))
        )
        for hyps, value in zip((hypotheses, others, hypotheses), cached, strict=True):
            stats = metric.item_statistics(_samples(hyps, references))
            fresh = segment_statistics(metric.scorer(), hyps, references)  # no cache: sacrebleu extracts them
            assert np.array_equal(stats, fresh)
            translation._ROWS.clear()
            assert metric.aggregate(_samples(hyps, references)) == value
            assert "nrefs:1" in value.signature


def test_sentence_chrf_rows_are_what_the_corpus_chrf_reads(corpus) -> None:
    """FLORES scores each sample's sentence chrF++ first: the corpus chrF++ then reads those rows, and its
    value equals sacrebleu's on the corpus; a full cache forgets the oldest segments, never a wrong row."""
    from harness.metrics import translation

    hypotheses, references = corpus
    translation._ROWS.clear()
    sentences = [sentence_chrf(h, r) for h, r in zip(hypotheses, references, strict=True)]
    pairs = zip(hypotheses, references, strict=True)
    assert sentences == [sacrebleu.sentence_chrf(h, [r], word_order=2).score for h, r in pairs]
    assert len(translation._ROWS[ChrF()].entries) == len(set(zip(hypotheses, references, strict=True)))
    assert ChrF().aggregate(_samples(hypotheses, references)).value == (
        CHRF(word_order=2).corpus_score(hypotheses, [references]).score
    )
    small = translation._Recent(2)
    for key in "abc":
        small.put(key, key.upper())
    assert small.get("a") is None and small.get("b") == "B" and list(small.entries) == ["c", "b"]
