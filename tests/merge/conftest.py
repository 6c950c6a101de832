"""A family of tiny models for the merge tests (``harness.run.tiny_model.build_tiny_family``): a base and two
"experts" made from it by moving known tensors, so every tensor of a merge can be traced to its parent."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from harness.run.tiny_model import FAMILY_CHANGES, FAMILY_LAYERS

LAYERS = FAMILY_LAYERS
MATH_LAYERS = FAMILY_CHANGES["math"][0]
LANGUAGE_LAYERS = FAMILY_CHANGES["language"][0]


@pytest.fixture(scope="session")
def family(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> dict[str, Path]:
    from harness.run.tiny_model import build_tiny_family

    return build_tiny_family(tmp_path_factory.mktemp("family"), data_dir)


def tensors(folder: Path) -> dict[str, torch.Tensor]:
    found: dict[str, torch.Tensor] = {}
    for path in sorted(folder.glob("*.safetensors")):
        found.update(load_file(path))
    return found
