"""A real trained model end to end: gemma-3-270m built from its PyPI GGUF, evaluated by xlh and by lm-eval
0.4.13 on the same folder and documents, and a perplexity sanity check per language.

The conversion is cached between test sessions on the same machine (keyed by the GGUF's SHA-256, under
``$XLH_CACHE_DIR`` or ~/.cache/xlh); a clean machine builds it once (PyPI download ~240 MB, ~2 minutes).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from harness.api.registry import get_task
from harness.api.requests import ChoiceRequest
from harness.backends import GenerationParams, create_backend
from harness.run.model_store import KNOWN_MODELS
from tests.parity.lmeval_helpers import belebele_record, lmeval_yaml, run_lmeval, write_jsonl, xlh_samples
from tests.tolerances import assert_loglikelihoods_match

pytestmark = pytest.mark.slow

XNLI_LANGS, XNLI_LIMIT = ("en", "de", "sw"), 6
BELEBELE_LANGS, BELEBELE_LIMIT = ("eng_Latn", "deu_Latn"), 4
MGSM_LANGS, MGSM_LIMIT = ("en", "de"), 2
PERPLEXITY_LANGS = ("eng_Latn", "deu_Latn", "fra_Latn", "zho_Hans", "hin_Deva", "swh_Latn", "arb_Arab", "tha_Thai")


def test_the_conversion_records_its_source_and_fixes(gemma: Path) -> None:
    provenance = json.loads((gemma / "xlh-model.json").read_text())
    assert provenance["gguf_sha256"] == KNOWN_MODELS["gemma-3-270m"].sha256
    assert "tokenizer add_bos_token set to True as the GGUF says" in provenance["fixes"]
    assert provenance["tokenizer_checks"]["vocabulary_size"] == 262144
    assert "quantization_config" not in json.loads((gemma / "config.json").read_text())


def test_xnli_belebele_and_mgsm_agree_with_lm_eval(gemma: Path, data_dir: Path, tmp_path: Path, lmeval_root) -> None:
    names: list[str] = []
    xnli, belebele, mgsm = get_task("xnli"), get_task("belebele"), get_task("mgsm")
    for code in XNLI_LANGS:
        examples = xnli.load_local(data_dir, xnli.language(code), "validation")[:XNLI_LIMIT]
        data = write_jsonl(tmp_path / f"xnli_{code}.jsonl", [vars(e) for e in examples])
        extra = ("metric_list:", "  - metric: acc", "  - metric: acc_norm")
        lmeval_yaml(
            tmp_path, f"real_xnli_{code}", lmeval_root / "xnli" / f"xnli_{code}.yaml", "validation", data, extra
        )
        names.append(f"real_xnli_{code}")
    for code in BELEBELE_LANGS:
        examples = belebele.load_local(data_dir, belebele.language(code), "test")[:BELEBELE_LIMIT]
        records = [belebele_record(e) for e in examples]
        data = write_jsonl(tmp_path / f"belebele_{code}.jsonl", records)
        lmeval_yaml(tmp_path, f"real_belebele_{code}", lmeval_root / "belebele" / f"belebele_{code}.yaml", "test", data)
        names.append(f"real_belebele_{code}")
    for code in MGSM_LANGS:
        examples = mgsm.load_local(data_dir, mgsm.language(code), "test")[:MGSM_LIMIT]
        records = [{"question": e.question, "answer": None, "answer_number": int(e.answer)} for e in examples]
        data = write_jsonl(tmp_path / f"mgsm_{code}.jsonl", records)
        include = lmeval_root / "mgsm" / "direct" / f"mgsm_direct_{code}.yaml"
        lmeval_yaml(tmp_path, f"real_mgsm_{code}", include, "test", data)
        names.append(f"real_mgsm_{code}")
    theirs = run_lmeval(gemma, tmp_path, names)

    ours = xlh_samples(gemma, data_dir, tmp_path / "out", ("xnli@validation",), XNLI_LANGS, XNLI_LIMIT)
    ours += xlh_samples(gemma, data_dir, tmp_path / "out", ("belebele",), BELEBELE_LANGS, BELEBELE_LIMIT)
    ours += xlh_samples(gemma, data_dir, tmp_path / "out", ("mgsm",), MGSM_LANGS, MGSM_LIMIT)

    compared = 0
    for task, langs in (("xnli", XNLI_LANGS), ("belebele", BELEBELE_LANGS)):
        for code in langs:
            mine = [s for s in ours if s["task"] == task and s["language"] == code]
            reference = theirs[f"real_{task}_{code}"]
            assert len(mine) == len(reference) > 0
            for sample, ref in zip(mine, reference, strict=True):
                where = (task, code, ref["doc_id"])
                ref_lls = [resp[0][0] for resp in ref["resps"]]
                response = sample["responses"][0]
                # Sums of float32 token log-probs: the tolerance scales with magnitude and token count.
                assert_loglikelihoods_match(response["loglikelihoods"], ref_lls, response["token_counts"], where)
                assert response["is_greedy"] == [bool(resp[0][1]) for resp in ref["resps"]], where
                assert (sample["scores"]["acc"], sample["scores"]["acc_norm"]) == (ref["acc"], ref["acc_norm"]), where
                compared += 1
    for code in MGSM_LANGS:
        mine = {s["id"]: s for s in ours if s["task"] == "mgsm" and s["language"] == code}
        for ref in theirs[f"real_mgsm_{code}"]:
            sample = mine[str(ref["doc_id"])]
            assert sample["requests"][0]["prompt"] == ref["arguments"][0][0]
            assert sample["responses"][0] == ref["resps"][0][0], (code, ref["doc_id"])
            compared += 1
    print(f"real-model parity: {compared} samples compared")


def test_perplexity_is_finite_and_far_below_chance(gemma: Path, data_dir: Path) -> None:
    """The first FLORES devtest sentence of several languages: per-token perplexity must be a tiny fraction
    of the vocabulary size (what a model guessing uniformly would get)."""
    backend = create_backend("hf", str(gemma), GenerationParams(), batch_size=4, progress=False)
    folder = data_dir / "flores200" / "flores200_dataset" / "devtest"
    sentences = [(folder / f"{code}.devtest").read_text(encoding="utf-8").split("\n")[0] for code in PERPLEXITY_LANGS]
    scores = backend.score_choices([ChoiceRequest(context="", continuations=(s,)) for s in sentences])
    vocabulary = 262144
    for code, score in zip(PERPLEXITY_LANGS, scores, strict=True):
        perplexity = math.exp(-score.loglikelihoods[0] / score.token_counts[0])
        print(f"{code}: perplexity {perplexity:.1f} over {score.token_counts[0]} tokens")
        # Uniform guessing gives the vocabulary size (262,144); a random model does no better.
        assert math.isfinite(perplexity) and perplexity < vocabulary / 200, code
    backend.close()
