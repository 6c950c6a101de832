"""``xlh heatmap``: a PNG of an alignment run's per-layer curves, languages by layers.

Rows are languages, columns layers (0 = the embedding layer), the colour a language's curve at that layer
(``harness.analysis.alignment_curves``: MEXA or mean cosine, weighted or last-token pooling). Rows are ordered by
their mean over layers, best aligned on top; with a grouping (``harness.api.language_groups``: family, script or
resource class, in the order transfer tables use) the groups are blocks in that order, each ordered the same way
inside, named on the right and separated by lines. The figure grows with the rows (about 0.13 inch each, 5-7 pt
labels) so that 200 languages stay readable. MEXA is drawn on a fixed 0-1 scale, cosines from the lowest value
(at most 0) to 1, so two models' PNGs can be compared by eye.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.analysis.alignment_curves import CURVE_NAMES, AlignmentCurves, LanguageCurve
from harness.api.language_groups import GROUPINGS, group_of, group_sort_key
from harness.errors import ConfigError

ROW_INCHES = 0.13  # height of one language's row
MARGIN_INCHES = 1.2  # title and layer axis
DPI = 120


@dataclass(frozen=True)
class Block:
    """Rows ``start`` to ``stop`` (exclusive) are the group ``name``."""

    name: str
    start: int
    stop: int


@dataclass(frozen=True)
class HeatmapRows:
    """The rows of a heatmap, top to bottom: labels, the curves drawn, and the group blocks (if grouped)."""

    labels: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]
    blocks: tuple[Block, ...] = ()


def _ranked(languages: list[LanguageCurve]) -> list[LanguageCurve]:
    return sorted(languages, key=lambda language: (-language.mean, language.flores, language.code))


def _label(language: LanguageCurve) -> str:
    return f"{language.name} ({language.flores})"


def heatmap_rows(curves: AlignmentCurves, group_by: str | None = None) -> HeatmapRows:
    """The languages in drawing order (by mean over layers, best first; within groups when grouped).

    Raises:
        ConfigError: an unknown grouping.
    """
    if group_by is None:
        ordered = _ranked(list(curves.languages))
        return HeatmapRows(tuple(map(_label, ordered)), tuple(language.values for language in ordered))
    if group_by not in GROUPINGS:
        raise ConfigError(f"unknown grouping {group_by!r}; valid: {', '.join(GROUPINGS)}")
    groups: dict[str, list[LanguageCurve]] = {}
    for language in curves.languages:
        groups.setdefault(group_of(language.flores, group_by), []).append(language)
    ordered, blocks = [], []
    for name in sorted(groups, key=lambda group: group_sort_key(group_by, group)):
        members = _ranked(groups[name])
        blocks.append(Block(name, len(ordered), len(ordered) + len(members)))
        ordered += members
    return HeatmapRows(tuple(map(_label, ordered)), tuple(language.values for language in ordered), tuple(blocks))


def heatmap_title(curves: AlignmentCurves) -> str:
    """Two lines: ``gemma-3-270m`` (the model), then ``MEXA alignment with English per layer, weighted pooling,
    100 sentences per language``."""
    return (f"{curves.model}\n{CURVE_NAMES[curves.curve]} per layer, {curves.pooling.replace('_', '-')} pooling, "
            f"{curves.sentences()} sentences per language")  # fmt: skip


def draw_heatmap(curves: AlignmentCurves, path: Path, group_by: str | None = None) -> Path:
    """Draw the heatmap into the PNG ``path`` (its folder is created) and return ``path``.

    Raises:
        ConfigError: an unknown grouping, or a run without languages.
    """
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    if not curves.languages:
        raise ConfigError(f"{curves.folder}: the alignment run has no languages to draw")
    rows = heatmap_rows(curves, group_by)
    matrix = np.asarray(rows.values, dtype=np.float64)
    count, layers = matrix.shape
    font = 7.0 if count <= 60 else 5.5
    label_inches = 0.055 * font * max(len(label) for label in rows.labels) / 7
    width = label_inches + max(4.5, 0.22 * layers) + (1.6 if rows.blocks else 0.6)
    width += 0.8  # the colour bar
    figure = Figure(figsize=(width, MARGIN_INCHES + ROW_INCHES * count), layout="constrained")
    axis = figure.add_subplot()
    low = 0.0 if curves.curve == "mexa" else min(0.0, float(np.nanmin(matrix)))
    image = axis.imshow(matrix, aspect="auto", interpolation="nearest", cmap="viridis", vmin=low, vmax=1.0)
    axis.set_yticks(range(count), rows.labels, fontsize=font)
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    axis.tick_params(axis="x", labelsize=7)
    axis.set_xlabel("layer (0 = embeddings)", fontsize=8)
    figure.suptitle(heatmap_title(curves), fontsize=8)
    if rows.blocks:
        for block in rows.blocks[1:]:
            axis.axhline(block.start - 0.5, color="white", linewidth=0.8)
        names = axis.secondary_yaxis("right")
        names.set_yticks([(block.start + block.stop - 1) / 2 for block in rows.blocks],
                         [block.name for block in rows.blocks], fontsize=font)  # fmt: skip
    bar = figure.colorbar(image, ax=axis, location="right", shrink=min(1.0, 4.0 / (ROW_INCHES * count)), pad=0.02)
    bar.ax.tick_params(labelsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI)
    return path


__all__ = ["Block", "HeatmapRows", "draw_heatmap", "heatmap_rows", "heatmap_title"]
