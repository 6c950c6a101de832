"""Fixtures of the parity tests."""

from __future__ import annotations

from pathlib import Path

import lm_eval
import pytest


@pytest.fixture(scope="module")
def lmeval_root() -> Path:
    """lm-eval's installed task folder (its YAMLs are included by absolute path)."""
    return Path(lm_eval.__file__).parent / "tasks"
