"""The alignment task against MEXA's own code (tests/parity/mexa_reference.py, cisnlp/MEXA at bc28c41): on the
reference's sentences (the first N FLORES devtest lines, ``LIMIT_MODE=first``), every layer's MEXA of xlh's run
equals the reference scripts' for both poolings, on the tiny model and (slow) on gemma-3-270m."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import transformers

from harness.records import io
from harness.run.runner import RunConfig, run
from tests.parity.mexa_reference import reference_alignment

POOLINGS = {"embd_weighted": "aligned_weighted", "embd_lasttoken": "aligned_last_token"}


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
            ours = np.mean([samples[f"devtest:{i}"].details[curve] for i in range(n)], axis=0)
            assert list(ours) == pytest.approx([expected[layer] for layer in sorted(expected)], abs=1e-12), (
                code,
                embedding_type,
            )


def test_tiny_model_matches_the_reference_code(tiny_model: Path, data_dir: Path, tmp_path: Path) -> None:
    _check_parity(tiny_model, data_dir, tmp_path, ("deu_Latn", "swh_Latn"), n=12)


@pytest.mark.slow
def test_gemma_matches_the_reference_code(gemma: Path, data_dir: Path, tmp_path: Path) -> None:
    _check_parity(gemma, data_dir, tmp_path, ("deu_Latn", "zho_Hans", "yor_Latn"), n=30)
