"""Where fine-tuning changed a model: per layer and module kind, the relative size of the change from a base to an
expert, ``||expert - base||_F / ||base||_F`` over the tensors of that layer and kind (the analysis layer swapping
chooses its layers by: Bandarkar et al. 2024 swap the layers the language expert changed most).

Tensors are read one at a time from the safetensors files (memory: the largest tensor of each model, never the
models), and the sums are kept in float64.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.errors import ConfigError

MODULE_KINDS = ("attention", "mlp", "norm", "embeddings", "lm_head", "other", "all")  # all: the whole layer


@dataclass(frozen=True)
class LayerChange:
    """One row of the diff: an expert, a layer (None for tensors outside the layers) and a module kind."""

    expert: str
    layer: int | None
    module: str
    relative_change: float


def tensor_place(name: str) -> tuple[int | None, str]:
    """(layer, module kind) of a tensor by its name: ``model.layers.3.self_attn.q_proj.weight`` -> (3, attention);
    norms inside attention (Gemma's q_norm) count as norms."""
    layer = None
    for marker in (".layers.", ".h.", ".blocks."):
        if marker in name:
            index = name.split(marker, 1)[1].split(".", 1)[0]
            if index.isdigit():
                layer = int(index)
                break
    lowered = name.lower()
    if "norm" in lowered or ".ln_" in lowered:
        return layer, "norm"
    if layer is not None:
        if any(part in lowered for part in ("attn", "attention")):
            return layer, "attention"
        if any(part in lowered for part in ("mlp", "feed_forward", "ffn")):
            return layer, "mlp"
        return layer, "other"
    if any(part in lowered for part in ("embed", "wte", "wpe")):
        return None, "embeddings"
    if "lm_head" in lowered or lowered.startswith("output."):
        return None, "lm_head"
    return None, "other"


def _tensor_files(folder: Path) -> dict[str, Path]:
    from safetensors import safe_open

    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise ConfigError(f"{folder}: no .safetensors files (xlh diff reads safetensors weights)")
    found = {}
    for path in files:
        with safe_open(str(path), "pt") as handle:
            found.update(dict.fromkeys(handle.keys(), path))
    return found


def _pairs(base: Path, expert: Path) -> Iterator[tuple[str, object, object]]:
    """(name, base tensor, expert tensor) one at a time; the two models must hold the same tensors and shapes."""
    from safetensors import safe_open

    base_files, expert_files = _tensor_files(base), _tensor_files(expert)
    if base_files.keys() != expert_files.keys():
        only = sorted(base_files.keys() ^ expert_files.keys())
        raise ConfigError(f"{base} and {expert} hold different tensors ({len(only)} differ, e.g. {only[0]})")
    for name in sorted(base_files):
        with safe_open(str(base_files[name]), "pt") as b, safe_open(str(expert_files[name]), "pt") as e:
            before, after = b.get_tensor(name), e.get_tensor(name)
        if before.shape != after.shape:
            raise ConfigError(f"{name}: shape {tuple(before.shape)} in {base}, {tuple(after.shape)} in {expert}")
        yield name, before, after


def layer_changes(base: Path, expert: Path, label: str | None = None) -> list[LayerChange]:
    """The relative change of every (layer, module kind) from ``base`` to ``expert``, layers in order."""
    changed: dict[tuple[int | None, str], float] = defaultdict(float)
    size: dict[tuple[int | None, str], float] = defaultdict(float)
    for name, before, after in _pairs(base, expert):
        layer, module = tensor_place(name)
        before64, after64 = before.double(), after.double()  # type: ignore[attr-defined]
        difference, magnitude = float((after64 - before64).pow(2).sum()), float(before64.pow(2).sum())
        for place in [(layer, module)] + ([(layer, "all")] if layer is not None else []):
            changed[place] += difference
            size[place] += magnitude
    rows = [
        LayerChange(label or expert.name, layer, module, _ratio(changed[(layer, module)], size[(layer, module)]))
        for layer, module in changed
    ]
    return sorted(rows, key=lambda row: (row.layer is not None, row.layer or 0, MODULE_KINDS.index(row.module)))


def _ratio(changed: float, size: float) -> float:
    if size:
        return math.sqrt(changed / size)
    return math.inf if changed else 0.0


def layers_by_change(rows: list[LayerChange]) -> list[int]:
    """An expert's layers, the most changed (all of a layer's tensors together) first."""
    whole = {row.layer: row.relative_change for row in rows if row.layer is not None and row.module == "all"}
    return sorted(whole, key=lambda layer: -whole[layer])
