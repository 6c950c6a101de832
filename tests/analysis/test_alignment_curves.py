"""``harness.analysis.alignment_curves``: per-layer curves read back from samples.jsonl equal the mean of the
samples' details, the best layer is the curve's argmax, and what is not an alignment run is refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.analysis.alignment_curves import detail_key, read_curves
from harness.errors import ConfigError, DataError
from tests.fixtures import alignment_runs as fx

LANGS = ("eng_Latn", "deu_Latn", "swh_Latn", "zho_Hans")


@pytest.mark.parametrize(("curve", "pooling"), [("mexa", "weighted"), ("cosine", "weighted"),
                                                ("mexa", "last_token"), ("cosine", "last_token")])  # fmt: skip
def test_curves_are_the_means_of_the_details_layer_by_layer(tmp_path: Path, curve: str, pooling: str) -> None:
    arrays = fx.curves(LANGS, n=7, layers=6, seed=2)
    folder = fx.write(tmp_path, *fx.alignment_run(arrays))
    curves = read_curves(folder, curve, pooling)
    assert [language.code for language in curves.languages] == list(LANGS)
    assert curves.layers == 6 and curves.sentences() == "7" and curves.model == "base"
    for language in curves.languages:
        expected = arrays[language.code][detail_key(curve, pooling)].mean(axis=0)
        assert language.values == pytest.approx(expected, abs=1e-12) and language.n == 7
        assert language.best_layer == int(np.argmax(expected))
        assert curves.best_layers()[language.code] == (language.best_layer, pytest.approx(expected.max()))


def test_the_weighted_mexa_curve_averages_to_the_runs_mexa_mean(tmp_path: Path) -> None:
    result, samples = fx.alignment_run(fx.curves(LANGS, n=5, layers=9))
    curves = read_curves(fx.write(tmp_path, result, samples))
    for language in curves.languages:
        metrics = result.tasks[0].languages[language.code].metrics
        assert language.mean == pytest.approx(metrics["mexa_mean"].value)
        assert language.best_value == pytest.approx(metrics["mexa_max"].value)


def test_what_is_not_an_alignment_run_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a run folder"):
        read_curves(tmp_path)
    task_run = fx.run([fx.score_task("sib200", {"deu_Latn": ("deu_Latn", 0.5)})], run_id="20260301-090000-sib001")
    with pytest.raises(DataError, match=r"not an alignment run \(its tasks: sib200"):
        read_curves(fx.write(tmp_path, task_run))
    with pytest.raises(ConfigError, match="unknown curve 'bleu'"):
        read_curves(tmp_path, "bleu")


def test_samples_without_the_curve_or_of_other_lengths_are_named(tmp_path: Path) -> None:
    folder = fx.write(tmp_path, *fx.alignment_run(fx.curves(LANGS[:2], n=3)))
    samples = folder / "samples.jsonl"
    lines = [json.loads(line) for line in samples.read_text(encoding="utf-8").splitlines()]
    lines[1]["details"]["cosine_weighted"] = lines[1]["details"]["cosine_weighted"][:-1]
    del lines[4]["details"]["aligned_last_token"]
    samples.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    with pytest.raises(DataError, match="eng_Latn item devtest:1: 4 layers in 'cosine_weighted', other items have 5"):
        read_curves(folder, "cosine")
    with pytest.raises(DataError, match="deu_Latn item devtest:1: no per-layer list 'aligned_last_token'"):
        read_curves(folder, "mexa", "last_token")
