"""``harness.render.alignment_heatmap``: row order (by mean, or in blocks per group in the tables' order), the title,
and a PNG that opens and grows with the number of languages."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image
import pytest

from harness.analysis.alignment_curves import AlignmentCurves, read_curves
from harness.api.language_groups import group_of, group_sort_key
from harness.errors import ConfigError
from harness.render.alignment_heatmap import draw_heatmap, heatmap_rows, heatmap_title
from tests.fixtures import alignment_runs as fx

LANGS = ("eng_Latn", "deu_Latn", "fra_Latn", "swh_Latn", "yor_Latn", "zho_Hans", "hin_Deva", "arb_Arab")


def _curves(tmp_path: Path, languages: tuple[str, ...] = LANGS, curve: str = "mexa") -> AlignmentCurves:
    folder = fx.write(tmp_path, *fx.alignment_run(fx.curves(languages, n=6, layers=7, seed=4)))
    return read_curves(folder, curve)


def test_rows_are_ordered_by_mean_best_first(tmp_path: Path) -> None:
    curves = _curves(tmp_path)
    rows = heatmap_rows(curves)
    by_mean = sorted(curves.languages, key=lambda language: -language.mean)
    assert rows.values == tuple(language.values for language in by_mean) and not rows.blocks
    assert rows.labels[[language.flores for language in by_mean].index("deu_Latn")] == "German (deu_Latn)"


def test_grouped_rows_come_in_blocks_in_the_tables_group_order(tmp_path: Path) -> None:
    curves = _curves(tmp_path)
    rows = heatmap_rows(curves, "script")
    names = [block.name for block in rows.blocks]
    assert names == sorted({group_of(code, "script") for code in LANGS}, key=lambda g: group_sort_key("script", g))
    latin = next(block for block in rows.blocks if block.name == group_of("deu_Latn", "script"))
    means = [sum(values) / len(values) for values in rows.values[latin.start : latin.stop]]
    assert latin.stop - latin.start == 5 and means == sorted(means, reverse=True)
    with pytest.raises(ConfigError, match="unknown grouping 'genus'"):
        heatmap_rows(curves, "genus")


def test_the_title_names_model_metric_pooling_and_sentences(tmp_path: Path) -> None:
    title = heatmap_title(_curves(tmp_path, curve="cosine"))
    assert title == "base\nmean cosine similarity to English per layer, weighted pooling, 6 sentences per language"


def test_the_png_opens_and_grows_with_the_languages(tmp_path: Path) -> None:
    small = draw_heatmap(_curves(tmp_path / "a", LANGS[:3]), tmp_path / "out" / "small.png")
    large = draw_heatmap(_curves(tmp_path / "b", LANGS), tmp_path / "out" / "large.png", "family")
    small_image, large_image = matplotlib.image.imread(small), matplotlib.image.imread(large)
    assert small_image.ndim == 3 and small_image.shape[2] in (3, 4)
    assert large_image.shape[0] > small_image.shape[0] + 5 * 0.13 * 120 * 0.9  # five more rows of 0.13 in at 120 dpi
