"""``xlh diff`` output: per expert a table of layers x module kinds (terminal, Markdown), long-form CSV, and a
PNG of the relative change across layers, one panel per expert and one line per module kind."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from harness.merge.diff import MODULE_KINDS, LayerChange, layers_by_change

CSV_HEADER = ("expert", "layer", "module", "relative_change")


def diff_csv(rows: Sequence[LayerChange]) -> str:
    """Long-form rows ``expert,layer,module,relative_change`` (layer empty outside the layers)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in rows:
        writer.writerow((row.expert, "" if row.layer is None else row.layer, row.module, f"{row.relative_change:.6g}"))
    return out.getvalue()


def _by_expert(rows: Sequence[LayerChange]) -> dict[str, list[LayerChange]]:
    grouped: dict[str, list[LayerChange]] = {}
    for row in rows:
        grouped.setdefault(row.expert, []).append(row)
    return grouped


def diff_markdown(rows: Sequence[LayerChange]) -> str:
    """One Markdown table per expert: a row per layer (then the tensors outside the layers), a column per module
    kind present, values as percentages; the layers most changed listed under it."""
    blocks = []
    for expert, expert_rows in _by_expert(rows).items():
        kinds = [kind for kind in MODULE_KINDS if any(row.module == kind for row in expert_rows)]
        cells = {(row.layer, row.module): row.relative_change for row in expert_rows}
        places = list(dict.fromkeys(row.layer for row in expert_rows))
        lines = [f"**{expert}**: relative change from the base, ||expert - base|| / ||base|| (%)", "",
                 "| layer | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]  # fmt: skip
        for layer in places:
            values = [f"{100 * cells[(layer, kind)]:.3g}" if (layer, kind) in cells else "" for kind in kinds]
            lines.append(f"| {'outside layers' if layer is None else layer} | " + " | ".join(values) + " |")
        ranked = layers_by_change(expert_rows)
        lines += ["", f"layers most changed first: {', '.join(map(str, ranked))}"]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def diff_plot(rows: Sequence[LayerChange], path: Path) -> Path:
    """A PNG: per expert, the relative change of each module kind across layers (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    grouped = _by_expert(rows)
    figure = Figure(figsize=(7, 2.8 * len(grouped)), layout="constrained")
    axes = figure.subplots(len(grouped), 1, squeeze=False)[:, 0]
    for axis, (expert, expert_rows) in zip(axes, grouped.items(), strict=True):
        for kind in MODULE_KINDS:
            points = sorted(
                (r.layer, r.relative_change) for r in expert_rows if r.module == kind and r.layer is not None
            )
            if points:
                axis.plot(*zip(*points, strict=True), marker="o", label=kind, linewidth=2 if kind == "all" else 1)
        axis.set_title(f"{expert}: ||expert - base|| / ||base|| per layer")
        axis.set_xlabel("layer")
        axis.set_yscale("log")
        axis.legend(fontsize="small")
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    return path
