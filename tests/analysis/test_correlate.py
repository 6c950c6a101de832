"""``harness.analysis.correlate``: the coefficients against numpy and scipy, the bootstrap over languages, language
matching (FLORES directions by their non-English side), which runs are used, and the errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from harness.analysis.correlate import (
    TOO_FEW,
    CorrelateError,
    CorrelationReport,
    PairStats,
    bootstrap_draws,
    correlate_runs,
    pair_stats,
)
from harness.analysis.table_model import Bootstrap
from harness.api.metric import Unit
from tests.fixtures import alignment_runs as fx

BOOT = Bootstrap(resamples=400, seed=7)
X = [0.12, 0.35, 0.41, 0.58, 0.66, 0.71, 0.9]
Y = [31.0, 40.5, 38.2, 55.1, 60.3, 58.9, 77.0]
LANGS = ("deu_Latn", "fra_Latn", "swh_Latn", "zho_Hans", "hin_Deva", "yor_Latn")


def test_coefficients_and_p_values_are_numpy_and_scipy_ones() -> None:
    result = pair_stats(X, Y, BOOT)
    assert result.n == 7 and result.reason is None and result.pearson and result.spearman
    assert result.pearson.value == pytest.approx(np.corrcoef(X, Y)[0, 1], abs=1e-12)
    assert result.pearson.p == pytest.approx(stats.pearsonr(X, Y).pvalue, rel=1e-12)
    assert result.spearman.value == pytest.approx(stats.spearmanr(X, Y).statistic, abs=1e-12)
    assert result.spearman.p == pytest.approx(stats.spearmanr(X, Y).pvalue, rel=1e-12)


def test_a_perfect_monotone_relation_has_spearman_one() -> None:
    x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
    result = pair_stats(x, [value**4 for value in x], BOOT)
    assert result.spearman and result.spearman.value == pytest.approx(1.0)
    assert result.pearson and result.pearson.value < 0.99  # monotone, not linear
    assert result.spearman.low == pytest.approx(1.0) and result.spearman.high == pytest.approx(1.0)


def test_the_interval_holds_the_estimate_and_is_reproducible_with_the_seed() -> None:
    first, again = pair_stats(X, Y, BOOT), pair_stats(X, Y, BOOT)
    other = pair_stats(X, Y, Bootstrap(resamples=400, seed=8))
    assert first == again and first.pearson != other.pearson
    for coefficient in (first.pearson, first.spearman):
        assert coefficient and coefficient.low is not None and coefficient.high is not None
        assert coefficient.low <= coefficient.value <= coefficient.high


def test_each_resample_is_scipy_on_the_resampled_languages() -> None:
    x, y = np.asarray(X), np.asarray(Y)
    pearson, spearman, skipped = bootstrap_draws(x, y, Bootstrap(resamples=60, seed=3))
    rows = np.random.default_rng(3).integers(0, len(x), (60, len(x)))
    usable = [row for row in rows if np.ptp(x[row]) > 0 and np.ptp(y[row]) > 0]
    assert skipped == 60 - len(usable) and len(pearson) == len(usable)
    assert pearson == pytest.approx([stats.pearsonr(x[row], y[row]).statistic for row in usable], abs=1e-12)
    assert spearman == pytest.approx([stats.spearmanr(x[row], y[row]).statistic for row in usable], abs=1e-12)
    low, high = np.percentile(pearson, [2.5, 97.5])
    interval = pair_stats(X, Y, Bootstrap(resamples=60, seed=3)).pearson
    assert interval and (interval.low, interval.high) == (pytest.approx(low), pytest.approx(high))


def test_constant_resamples_are_skipped_and_counted() -> None:
    result = pair_stats([0.1, 0.1, 0.1, 0.9], [10.0, 12.0, 11.0, 40.0], Bootstrap(resamples=500, seed=1))
    rows = np.random.default_rng(1).integers(0, 4, (500, 4))
    constant = sum(1 for row in rows if len(set(row) & {3}) == 0 or set(row) == {3})
    assert result.skipped == constant > 0


def test_too_few_languages_and_constant_scores_give_no_numbers() -> None:
    assert pair_stats([0.1, 0.2], [1.0, 2.0], BOOT).reason == TOO_FEW
    assert pair_stats([], [], BOOT).pearson is None
    assert pair_stats([0.5, 0.5, 0.5], [1.0, 2.0, 3.0], BOOT).reason == "constant alignment scores"
    assert pair_stats([0.1, 0.5, 0.7], [2.0, 2.0, 2.0], BOOT).reason == "constant task scores"


# -- runs ----------------------------------------------------------------------------------------------------------
def _write_model(root: Path) -> dict[str, float]:
    """An alignment run (with English) and task runs of one model: sib200 (FLORES codes), xnli (dataset codes),
    flores200 (both directions and one between two other languages). Returns the alignment mexa_mean."""
    result, samples = fx.alignment_run(fx.curves(("eng_Latn", *LANGS)))
    fx.write(root, result, samples)
    sib = {code: (code, 0.3 + 0.1 * rank) for rank, code in enumerate(("eng_Latn", *LANGS))}
    xnli = {"de": ("deu_Latn", 0.52), "fr": ("fra_Latn", 0.50), "sw": ("swh_Latn", 0.41), "zh": ("zho_Hans", 0.47)}
    flores = {f"eng_Latn-{code}": (code, 20.0 + 5 * rank) for rank, code in enumerate(LANGS)}
    flores |= {f"{code}-eng_Latn": (code, 60.0 - 3 * rank * rank) for rank, code in enumerate(LANGS)}
    flores["fra_Latn-deu_Latn"] = ("deu_Latn", 33.0)
    tasks = [fx.score_task("sib200", sib, variant="prompt_1"), fx.score_task("xnli", xnli),
             fx.score_task("flores200", flores, "chrf++", Unit.SCORE, split="devtest")]  # fmt: skip
    fx.write(root, fx.run(tasks, created="2026-03-02T09:00:00+00:00", run_id="20260302-090000-tasks1"))
    return {code: value.metrics["mexa_mean"].value for code, value in result.tasks[0].languages.items()}


def _row(report: CorrelationReport, label: str, metric: str = "mexa_mean") -> tuple[list[str], PairStats]:
    (row,) = [r for r in report.correlations if r.series.label == label and r.alignment_metric == metric]
    return list(row.languages), row.stats


def test_languages_are_matched_by_flores_code_and_directions_by_their_other_side(tmp_path: Path) -> None:
    mexa = _write_model(tmp_path)
    report = correlate_runs([tmp_path / "base"], bootstrap=BOOT)
    labels = [series.label for series in report.tasks]
    assert labels == ["flores200:default@devtest chrf++ eng_Latn->X", "flores200:default@devtest chrf++ X->eng_Latn",
                      "sib200:prompt_1@test acc", "xnli:default@test acc"]  # fmt: skip
    into = next(series for series in report.tasks if series.direction == "eng_Latn->X")
    assert into.values == {code: 20.0 + 5 * rank for rank, code in enumerate(LANGS)}  # not 33 for deu_Latn
    languages, result = _row(report, "flores200:default@devtest chrf++ eng_Latn->X")
    assert languages == sorted(LANGS)  # English has no alignment score of its own
    x, y = [mexa[code] for code in languages], [into.values[code] for code in languages]
    assert result.pearson and result.pearson.value == pytest.approx(stats.pearsonr(x, y).statistic)
    languages, result = _row(report, "xnli:default@test acc")
    assert languages == ["deu_Latn", "fra_Latn", "swh_Latn", "zho_Hans"] and result.n == 4
    assert any("1 direction between two non-English languages left out (fra_Latn-deu_Latn)" in n for n in report.notes)
    assert any("eng_Latn left out" in note for note in report.notes)


def test_every_alignment_metric_asked_for_is_correlated(tmp_path: Path) -> None:
    _write_model(tmp_path)
    report = correlate_runs([tmp_path], ["mexa_mean", "cosine_mean_last"], BOOT)
    assert {row.alignment_metric for row in report.correlations} == {"mexa_mean", "cosine_mean_last"}
    assert len(report.correlations) == 2 * len(report.tasks)
    with pytest.raises(CorrelateError, match="no metric 'mexa_median'.*mexa_mean, mexa_max"):
        correlate_runs([tmp_path], ["mexa_median"], BOOT)


def test_two_shared_languages_are_too_few(tmp_path: Path) -> None:
    _write_model(tmp_path)
    fx.write(tmp_path, fx.run([fx.score_task("mgsm", {"de": ("deu_Latn", 0.2), "sw": ("swh_Latn", 0.1)})],
                              created="2026-03-03T09:00:00+00:00", run_id="20260303-090000-mgsm01"))  # fmt: skip
    report = correlate_runs([tmp_path], bootstrap=BOOT)
    _, result = _row(report, "mgsm:default@test acc")
    assert result.reason == TOO_FEW and result.pearson is None


def test_the_newest_run_of_a_setting_and_the_full_alignment_run_are_used(tmp_path: Path) -> None:
    _write_model(tmp_path)
    newer = {code: (code, 0.9 - 0.1 * rank) for rank, code in enumerate(LANGS)}
    fx.write(tmp_path, fx.run([fx.score_task("sib200", newer, variant="prompt_1")],
                              created="2026-03-04T09:00:00+00:00", run_id="20260304-090000-sibnew"))  # fmt: skip
    limited, samples = fx.alignment_run(fx.curves(LANGS, seed=5), created="2026-03-05T09:00:00+00:00",
                                        run_id="20260305-090000-alimit", limit=4)  # fmt: skip
    fx.write(tmp_path, limited, samples)
    report = correlate_runs([tmp_path], bootstrap=BOOT)
    sib = next(series for series in report.tasks if series.task == "sib200")
    assert sib.values["deu_Latn"] == 0.9 and sib.folder.name == "20260304-090000-sibnew"
    assert report.alignment_folder.name == "20260301-090000-align1"
    assert any("20260305-090000-alimit left out" in note for note in report.notes)


def test_errors_name_what_is_wrong(tmp_path: Path) -> None:
    tasks_only = fx.run([fx.score_task("sib200", {"deu_Latn": ("deu_Latn", 0.5)})], run_id="20260301-090000-only01")
    only = fx.write(tmp_path / "a", tasks_only)
    with pytest.raises(CorrelateError, match="no alignment run among"):
        correlate_runs([only], bootstrap=BOOT)
    result, samples = fx.alignment_run(fx.curves(LANGS))
    alignment = fx.write(tmp_path / "b", result, samples)
    with pytest.raises(CorrelateError, match="no task run besides the alignment run"):
        correlate_runs([alignment], bootstrap=BOOT)
    with pytest.raises(CorrelateError, match="no such run folder"):
        correlate_runs([tmp_path / "nowhere"], bootstrap=BOOT)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CorrelateError, match="no run folder"):
        correlate_runs([tmp_path / "empty"], bootstrap=BOOT)
    other = fx.write(tmp_path / "c", fx.run(tasks_only.tasks, weights="other", run_id="20260301-090000-other1"))
    with pytest.raises(CorrelateError, match=r"runs of different models: base \(fingerprint .*\) and other"):
        correlate_runs([alignment, other], bootstrap=BOOT)
