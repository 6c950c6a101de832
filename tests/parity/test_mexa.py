"""The alignment task against MEXA's own code (tests/parity/mexa_reference.py, cisnlp/MEXA at bc28c41): on the
reference's sentences (the first N FLORES devtest lines, ``LIMIT_MODE=first``), every pair's aligned flag at every
layer equals the reference scripts' for both poolings (but for pairs within a float rounding of a tie, which may
fall either way on another CPU), on the tiny model and (slow) on gemma-3-270m."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import transformers

from harness.records import io
from harness.run.runner import RunConfig, run
from tests.parity.mexa_reference import reference_alignment

POOLINGS = {"embd_weighted": "aligned_weighted", "embd_lasttoken": "aligned_last_token"}
NEAR_TIE = 1e-5  # cosine margins this close to 0 may fall either way on another CPU (float32 vectors)


def _first_lines(data_dir: Path, code: str, n: int) -> list[str]:
    path = data_dir / "flores200" / "flores200_dataset" / "devtest" / f"{code}.devtest"
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()[:n]]


def _xlh_curves(model: Path, data_dir: Path, out: Path, languages: tuple[str, ...], n: int) -> dict[str, dict]:
    config = RunConfig(model=str(model), tasks=("alignment",), languages=languages, limit=n, limit_mode="first",
                       backend="hf", data_dir=data_dir, out_dir=out, cache=None,
                       backend_options={"progress": False, "dtype": "float32"})  # fmt: skip
    stored = run(config)
    scores = io.read_sample_scores(stored.folder / io.SAMPLES_FILE)
    return {code: scores[("alignment", "default", "devtest", code)] for code in languages}


def _check_parity(model_path: Path, data_dir: Path, out: Path, languages: tuple[str, ...], n: int) -> None:
    curves = _xlh_curves(model_path, data_dir, out, languages, n)
    model = transformers.AutoModelForCausalLM.from_pretrained(model_path, dtype="float32")
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_path)
    english = _first_lines(data_dir, "eng_Latn", n)
    for code in languages:
        samples = curves[code]
        assert sorted(samples) == sorted(f"devtest:{i}" for i in range(n))
        for embedding_type, curve in POOLINGS.items():
            expected = reference_alignment(model, tokenizer, english, _first_lines(data_dir, code, n), embedding_type)
            ours = np.array([samples[f"devtest:{i}"].details[curve] for i in range(n)])  # (pairs, layers)
            for layer, (score, matrix) in expected.items():
                margins = _margins(matrix)
                assert score == np.mean(margins > 0)  # the reference's mexa is the share of positive margins
                # Every pair's flag is the reference's, but where the two are a float rounding apart: xlh batches
                # texts, the reference reads them alone, and summation order moves cosines by ~1e-7.
                differ = [i for i in range(n) if ours[i, layer] != (margins[i] > 0) and abs(margins[i]) > NEAR_TIE]
                assert not differ, (code, embedding_type, layer, differ, margins[differ])


def _margins(matrix: np.ndarray) -> np.ndarray:
    """Per pair: its cosine minus the largest other entry of its row and column (aligned when positive)."""
    off = matrix.copy()
    np.fill_diagonal(off, -np.inf)
    return np.diag(matrix) - np.maximum(off.max(axis=1), off.max(axis=0))


def test_tiny_model_matches_the_reference_code(tiny_model: Path, data_dir: Path, tmp_path: Path) -> None:
    _check_parity(tiny_model, data_dir, tmp_path, ("deu_Latn", "swh_Latn"), n=12)


@pytest.mark.slow
def test_gemma_matches_the_reference_code(gemma: Path, data_dir: Path, tmp_path: Path) -> None:
    _check_parity(gemma, data_dir, tmp_path, ("deu_Latn", "zho_Hans", "yor_Latn"), n=30)
