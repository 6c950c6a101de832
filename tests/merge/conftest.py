"""A family of tiny models for the merge tests: a base and two "experts" made from it by perturbing known
tensors, so that every tensor of a merge can be traced to the parent it must come from."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

LAYERS = 6
MATH_LAYERS = (2, 3)  # the math expert's changes: its middle layers
LANGUAGE_LAYERS = (0, 5)  # the language expert's: its outer layers, and its embeddings and final norm


def _perturbed(base: Path, out: Path, layers: tuple[int, ...], outer: bool, seed: int) -> Path:
    shutil.copytree(base, out)
    tensors = load_file(base / "model.safetensors")
    generator = torch.Generator().manual_seed(seed)
    for name, tensor in tensors.items():
        layer = int(name.split(".layers.")[1].split(".")[0]) if ".layers." in name else None
        # Fine-tuning moves every tensor a little and the expert's own layers much more: every tensor of a
        # merge then tells which parent it came from, and the known layers stand out.
        scale = 0.05 if (layer in layers) or (layer is None and outer) else 0.001
        tensors[name] = tensor + scale * torch.randn(tensor.shape, generator=generator)
    save_file(tensors, out / "model.safetensors", metadata={"format": "pt"})
    return out


@pytest.fixture(scope="session")
def family(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> dict[str, Path]:
    from harness.run.tiny_model import build_tiny_model

    root = tmp_path_factory.mktemp("family")
    base = build_tiny_model(root / "base", data_dir, seed=0, layers=LAYERS)
    return {
        "base": base,
        "math": _perturbed(base, root / "math", MATH_LAYERS, outer=False, seed=1),
        "language": _perturbed(base, root / "language", LANGUAGE_LAYERS, outer=True, seed=2),
    }


def tensors(folder: Path) -> dict[str, torch.Tensor]:
    found: dict[str, torch.Tensor] = {}
    for path in sorted(folder.glob("*.safetensors")):
        found.update(load_file(path))
    return found


def layer_of(name: str) -> int | None:
    return int(name.split(".layers.")[1].split(".")[0]) if ".layers." in name else None
