"""Choice-scoring strategies, measured: vLLM ``shared_context`` vs vLLM ``full`` (every context+continuation
with prompt log-probs, lm-eval's computation) vs the transformers backend (both of its modes), on real
Belebele, SIB-200 and XNLI requests, with a random model shaped like a small real one.

    python benchmarks/bench_choices.py --data-dir ../shared/data [--layers 12] [--per-task 24]

Prints one markdown row per (task, strategy): seconds, sequences scored, speed-up over vLLM ``full``, the
max log-likelihood difference to vLLM ``full`` and whether every prediction (acc and acc_norm argmax)
is identical. Random weights: the numbers measure the engine, not the model.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness.api.registry import get_task  # noqa: E402
from harness.api.requests import ChoiceRequest, ChoiceScores  # noqa: E402
from harness.backends import GenerationParams, create_backend  # noqa: E402


def build_model(out: Path, data_dir: Path, layers: int, hidden: int) -> Path:
    """A random Llama shaped like SmolLM2-135M (576 hidden, 9 heads of 64, 3 KV heads) with ``layers`` layers."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from harness.run.tiny_model import build_tokenizer

    tokenizer = build_tokenizer(data_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 8 // 3,
        num_hidden_layers=layers,
        num_attention_heads=hidden // 64,
        num_key_value_heads=max(1, hidden // 192),
        head_dim=64,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def task_requests(data_dir: Path, per_task: int) -> dict[str, list[ChoiceRequest]]:
    sets: dict[str, list[ChoiceRequest]] = {}
    for name, variant, languages in (
        ("belebele", None, ("en", "de")),
        ("sib200", None, ("en", "de")),
        ("xnli", "sentence", ("en", "de")),
    ):
        task = get_task(name)
        requests: list[ChoiceRequest] = []
        for language in task.select_languages(list(languages)):
            split = task.default_split
            for example in task.load_local(data_dir, language, split)[: per_task // len(languages)]:
                requests += task.requests(example, language, variant or task.default_variant)  # type: ignore[arg-type]
        sets[f"{name}:{variant or task.default_variant}"] = requests
    return sets


def _argmax(values: tuple[float, ...]) -> int:
    return max(range(len(values)), key=lambda i: values[i])


def predictions(scores: list[ChoiceScores]) -> list[tuple[int, int]]:
    return [
        (
            _argmax(s.loglikelihoods),
            _argmax(tuple(ll / n for ll, n in zip(s.loglikelihoods, s.token_counts, strict=True))),
        )
        for s in scores
    ]


def timed(backend, requests: list[ChoiceRequest]) -> tuple[float, list[ChoiceScores]]:
    backend.score_choices(requests[:2])  # warm-up: first-call compilation is not scoring
    if hasattr(backend, "llm"):
        backend.llm.reset_prefix_cache()  # no strategy profits from what an earlier one cached
    started = time.perf_counter()
    scores = backend.score_choices(requests)
    return time.perf_counter() - started, scores


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("XLH_DATA_DIR", "../shared/data")))
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=576)
    parser.add_argument("--per-task", type=int, default=24, help="choice requests per task (split over en/de)")
    parser.add_argument("--skip-hf", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        model = str(build_model(Path(folder), args.data_dir, args.layers, args.hidden))
        sets = task_requests(args.data_dir, args.per_task)
        started = time.perf_counter()
        vllm = create_backend(
            "vllm", model, GenerationParams(), dtype="float32", max_model_len=2048, kv_cache_gib=1, progress=False
        )
        print(f"vLLM engine start-up: {time.perf_counter() - started:.1f} s", flush=True)
        hf = None if args.skip_hf else create_backend("hf", model, GenerationParams(), batch_size=16, progress=False)
        columns = ("task", "requests", "sequences", "strategy", "seconds", "speed-up vs vLLM full", "max abs ll diff")
        print("| " + " | ".join(columns) + " | same predictions |")
        print("|---|---|---|---|---|---|---|---|")
        for name, requests in sets.items():
            sequences = sum(len(r.continuations) for r in requests)
            vllm.score_mode = "full"
            reference_time, reference = timed(vllm, requests)
            runs = [("vllm full", reference_time, reference)]
            vllm.score_mode = "shared_context"
            runs.append(("vllm shared_context", *timed(vllm, requests)))
            if hf is not None:
                for mode in ("shared_context", "full"):
                    hf.score_mode = mode
                    runs.append((f"hf {mode}", *timed(hf, requests)))
            for strategy, seconds, scores in runs:
                diff = max(
                    abs(a - b)
                    for s, r in zip(scores, reference, strict=True)
                    for a, b in zip(s.loglikelihoods, r.loglikelihoods, strict=True)
                )
                same = predictions(scores) == predictions(reference)
                print(
                    f"| {name} | {len(requests)} | {sequences} | {strategy} | {seconds:.2f} | "
                    f"{reference_time / seconds:.2f}x | {diff:.1e} | {'yes' if same else 'NO'} |",
                    flush=True,
                )
        overreach = vllm.cache_overreach
        print(f"recomputed without the cache (items scored in full, cache hit past the context): {overreach}")
        vllm.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
