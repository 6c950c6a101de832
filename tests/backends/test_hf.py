"""The transformers backend on the tiny model: choice scores against a direct computation, generation, finish
reasons and truncation."""

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from harness.api.registry import get_task
from harness.api.requests import ChoiceRequest, Generation, GenerationRequest
from harness.backends import GenerationParams, create_backend
from harness.backends.hf_model import CPU_MAX_BATCH_TOKENS, resolve_max_batch_tokens
from harness.backends.scoring import shared_plan
from harness.backends.stops import cut_at_stop, finish_reason
from harness.backends.tokenization import encode_choice
from harness.errors import ConfigError, ModelError
from tests.backends.conftest import long_text
from tests.tolerances import loglikelihood_tolerance


def _reference_loglikelihood(backend, context: str, continuation: str) -> tuple[float, int, bool]:
    """One sequence, no batching, no cache: sum of log-softmax at the continuation positions."""
    encoded = encode_choice(backend.tokenizer, context, (continuation,))
    return _reference_token_loglikelihood(backend, list(encoded.context), list(encoded.continuations[0]))


def _reference_token_loglikelihood(backend, ctx: list[int], cont: list[int]) -> tuple[float, int, bool]:
    with torch.inference_mode():
        logits = backend.model(torch.tensor([ctx + cont])).logits[0].double()
    logprobs = torch.log_softmax(logits, dim=-1)
    positions = range(len(ctx) - 1, len(ctx) + len(cont) - 1)
    total = sum(float(logprobs[p, t]) for p, t in zip(positions, cont, strict=True))
    greedy = all(int(logits[p].argmax()) == t for p, t in zip(positions, cont, strict=True))
    return total, len(cont), greedy


@pytest.fixture(scope="module")
def choice_requests(data_dir: Path) -> list[ChoiceRequest]:
    xnli, mgsm = get_task("xnli"), get_task("mgsm")
    requests: list[ChoiceRequest] = []
    for code in ("en", "de", "zh", "sw"):
        language = xnli.language(code)
        for example in xnli.load_local(data_dir, language, "validation")[:3]:
            for variant in ("sentence", "label"):
                requests += xnli.requests(example, language, variant)  # type: ignore[arg-type]
    # contexts of very different lengths in one batch, a trailing space, many continuations
    question = mgsm.load_local(data_dir, mgsm.language("de"), "test")[0].question
    requests.append(ChoiceRequest(context=question + "\nAntwort: ", continuations=("18", "9", "-3", "2,125", "zwei")))
    requests.append(ChoiceRequest(context="Kurz:", continuations=(" a", " bb bb", " ccc ccc ccc")))
    return requests


@pytest.mark.parametrize("mode", ["shared_context", "full"])
def test_choice_scores_equal_a_direct_computation(hf_backend, choice_requests, mode) -> None:
    hf_backend.score_mode = mode
    try:
        results = hf_backend.score_choices(choice_requests)
    finally:
        hf_backend.score_mode = "shared_context"
    assert len(results) == len(choice_requests)
    for request, result in zip(choice_requests, results, strict=True):
        assert len(result.loglikelihoods) == len(request.continuations)
        for continuation, ll, count, greedy in zip(
            request.continuations, result.loglikelihoods, result.token_counts, result.is_greedy, strict=True
        ):
            expected, expected_count, expected_greedy = _reference_loglikelihood(
                hf_backend, request.context, continuation
            )
            assert abs(ll - expected) <= loglikelihood_tolerance(expected, count), (request.context[-40:], continuation)
            assert (count, greedy) == (expected_count, expected_greedy)
        assert result.truncated_tokens == 0


def test_single_token_choices_skip_the_continuation_pass_and_score_the_same(hf_backend) -> None:
    """Belebele-like choices of one token each: the context's last logits score them all (no continuation
    pass, no cache); the numbers are those of a direct computation."""
    requests = [ChoiceRequest(context=f"Frage {n}: Welche Antwort?\nAntwort:", continuations=("1", "2", "3", "4"))
                for n in range(5)]  # fmt: skip
    results = hf_backend.score_choices(requests)
    for request, result in zip(requests, results, strict=True):
        assert result.token_counts == (1, 1, 1, 1)  # so the batch took the single-token path
        scored = zip(request.continuations, result.loglikelihoods, result.is_greedy, strict=True)
        for continuation, ll, greedy in scored:
            expected, _, expected_greedy = _reference_loglikelihood(hf_backend, request.context, continuation)
            assert abs(ll - expected) <= loglikelihood_tolerance(expected, 1)
            assert greedy == expected_greedy


def test_only_longer_continuations_run_the_continuation_pass(hf_backend) -> None:
    """SIB-200-like choices, single-token labels beside a longer one: the context pass scores every first
    token, the continuation pass runs one row per longer continuation only, and every score equals a direct
    computation."""
    words = ["the", "and", "of", "to", "is", "in", "water", "information", "government", "understanding"]
    length = {w: len(encode_choice(hf_backend.tokenizer, "Topic:", (" " + w,)).continuations[0]) for w in words}
    single, longer = [w for w in words if length[w] == 1][:3], [w for w in words if length[w] > 1][:1]
    assert len(single) == 3 and len(longer) == 1, length
    continuations = tuple(" " + w for w in [*single, *longer])
    requests = [ChoiceRequest(context=f"Text {n}: the topic is", continuations=continuations) for n in range(3)]
    rows: list[int] = []
    hook = hf_backend.model.register_forward_pre_hook(
        lambda module, args, kwargs: rows.append(kwargs["input_ids"].shape[0]), with_kwargs=True
    )
    try:
        results = hf_backend.score_choices(requests)
    finally:
        hook.remove()
    assert rows == [3, 3]  # three contexts, then three continuation rows (one per request), not twelve
    for request, result in zip(requests, results, strict=True):
        for continuation, ll, count, greedy in zip(
            request.continuations, result.loglikelihoods, result.token_counts, result.is_greedy, strict=True
        ):
            expected, expected_count, expected_greedy = _reference_loglikelihood(
                hf_backend, request.context, continuation
            )
            assert abs(ll - expected) <= loglikelihood_tolerance(expected, count)
            assert (count, greedy) == (expected_count, expected_greedy)


def test_tokens_every_continuation_starts_with_are_read_by_the_context_pass(hf_backend) -> None:
    """SIB-200's context ends in " \\n\\n", which lm-eval's encoding moves to the front of every continuation:
    those common tokens are read once, by the context pass (its last logits score them), and only what follows
    them runs as continuation rows; every score equals a direct computation."""
    words = ["the", "and", "of", "water", "information", "government", "understanding"]
    context = "Text: the topic is: \n\n"
    continuations = tuple(" " + w for w in words)
    plan = shared_plan(encode_choice(hf_backend.tokenizer, context, continuations))
    assert plan.common >= 1, "the trailing whitespace should become common continuation tokens"
    longer = sum(1 for rest in plan.rests if len(rest) > 1)
    assert 0 < longer < len(words), plan.rests
    shapes: list[tuple[int, int]] = []
    hook = hf_backend.model.register_forward_pre_hook(
        lambda module, args, kwargs: shapes.append(tuple(kwargs["input_ids"].shape)), with_kwargs=True
    )
    try:
        (result,) = hf_backend.score_choices([ChoiceRequest(context=context, continuations=continuations)])
    finally:
        hook.remove()
    assert shapes[0] == (1, len(plan.prefix))
    assert [rows for rows, _ in shapes[1:]] == [longer]
    for continuation, ll, count, greedy in zip(
        continuations, result.loglikelihoods, result.token_counts, result.is_greedy, strict=True
    ):
        expected, expected_count, expected_greedy = _reference_loglikelihood(hf_backend, context, continuation)
        assert abs(ll - expected) <= loglikelihood_tolerance(expected, count)
        assert (count, greedy) == (expected_count, expected_greedy)


@pytest.mark.parametrize("limits", [{"batch_size": 64}, {"batch_size": 64, "max_batch_tokens": 64}])
def test_choice_scores_do_not_depend_on_batch_size(tiny_model, choice_requests, limits) -> None:
    one = create_backend("hf", str(tiny_model), GenerationParams(), batch_size=1, progress=False)
    many = create_backend("hf", str(tiny_model), GenerationParams(), progress=False, **limits)
    for a, b in zip(one.score_choices(choice_requests), many.score_choices(choice_requests), strict=True):
        for x, y, count in zip(a.loglikelihoods, b.loglikelihoods, b.token_counts, strict=True):
            assert abs(x - y) <= loglikelihood_tolerance(y, count)


def test_attention_kernels_can_be_chosen_are_recorded_and_score_the_same(tiny_model, choice_requests) -> None:
    default = create_backend("hf", str(tiny_model), GenerationParams(), progress=False)
    eager = create_backend("hf", str(tiny_model), GenerationParams(), attn_implementation="eager", progress=False)
    assert default.info().options["attn_implementation"] == "sdpa"  # transformers' default, recorded
    assert eager.info().options["attn_implementation"] == "eager"
    for a, b in zip(default.score_choices(choice_requests), eager.score_choices(choice_requests), strict=True):
        for x, y, count in zip(a.loglikelihoods, b.loglikelihoods, b.token_counts, strict=True):
            assert abs(x - y) <= loglikelihood_tolerance(y, count)


def test_unknown_attention_kernels_are_a_clear_error(tiny_model) -> None:
    with pytest.raises(ModelError, match="no_such_kernel"):
        create_backend("hf", str(tiny_model), GenerationParams(), attn_implementation="no_such_kernel", progress=False)


def test_batches_hold_at_most_max_batch_tokens_padded_tokens(tiny_model, choice_requests) -> None:
    backend = create_backend(
        "hf", str(tiny_model), GenerationParams(), batch_size=64, max_batch_tokens=96, progress=False
    )
    assert backend.info().options["max_batch_tokens"] == 96
    context_passes: list[tuple[int, int]] = []  # (rows, width) of each pass without a cache
    hook = backend.model.register_forward_pre_hook(
        lambda module, args, kwargs: (
            context_passes.append(tuple(kwargs["input_ids"].shape)) if kwargs.get("past_key_values") is None else None
        ),
        with_kwargs=True,
    )
    backend.score_choices(choice_requests)
    hook.remove()
    assert len(context_passes) > 1
    assert all(rows == 1 or rows * width <= 96 for rows, width in context_passes), context_passes


def test_max_batch_tokens_defaults_to_a_cpu_limit(hf_backend) -> None:
    assert hf_backend.info().options["max_batch_tokens"] == CPU_MAX_BATCH_TOKENS
    with pytest.raises(ConfigError, match="max_batch_tokens"):
        resolve_max_batch_tokens(0, torch.device("cpu"))
    assert resolve_max_batch_tokens(None, torch.device("cuda")) is None


def test_greedy_flag_is_true_for_the_models_own_continuation(hf_backend) -> None:
    context = "Frage: Wie viele Eier?\nAntwort:"
    (generation,) = hf_backend.generate([GenerationRequest(prompt=context, max_new_tokens=6)])
    generated = generation.text
    tokens = hf_backend.tokenizer.encode(generated, add_special_tokens=False)
    assert tokens, "the model generated nothing"
    (scores,) = hf_backend.score_choices([ChoiceRequest(context=context, continuations=(generated,))])
    assert scores.is_greedy == (True,)


@pytest.fixture(scope="module")
def prompts(data_dir: Path) -> list[GenerationRequest]:
    mgsm = get_task("mgsm")
    requests = []
    for code in ("en", "de", "ja", "th"):
        language = mgsm.language(code)
        for example in mgsm.load_local(data_dir, language, "test")[:3]:
            requests += [replace(r, max_new_tokens=24) for r in mgsm.requests(example, language, "direct")]
    return requests  # type: ignore[return-value]


def test_generation_is_deterministic_and_batch_independent(tiny_model, prompts) -> None:
    one = create_backend("hf", str(tiny_model), GenerationParams(), batch_size=1, progress=False)
    many = create_backend("hf", str(tiny_model), GenerationParams(), batch_size=8, progress=False)
    first = many.generate(prompts)
    assert first == many.generate(prompts)
    assert all(isinstance(answer, Generation) and answer.truncated_tokens == 0 for answer in first)
    assert sum(a == b for a, b in zip(first, one.generate(prompts), strict=True)) >= 0.95 * len(prompts)


def test_generation_respects_max_new_tokens(hf_backend, prompts) -> None:
    free = [replace(r, stop=()) for r in prompts]
    long = [answer.text for answer in hf_backend.generate(free)]
    short = hf_backend.generate([replace(r, max_new_tokens=5) for r in free])
    for full, cut in zip(long, short, strict=True):
        # Greedy: 5 tokens are a prefix of 24 (a split multi-byte character may decode as U+FFFD).
        assert full.startswith(cut.text.rstrip("\ufffd"))
        assert cut.finish_reason == "length"  # cut, not finished: the tiny model does not end these in 5 tokens
    assert sum(len(answer.text) for answer in short) < sum(map(len, long))


def test_generation_stops_at_a_stop_sequence(hf_backend, prompts) -> None:
    free = [replace(r, stop=()) for r in prompts[:4]]
    texts = [answer.text for answer in hf_backend.generate(free)]
    stops = [text[len(text) // 2 : len(text) // 2 + 3] for text in texts]
    assert all(stops)
    stopped = hf_backend.generate([replace(r, stop=(s,)) for r, s in zip(free, stops, strict=True)])
    for text, stop, result in zip(texts, stops, stopped, strict=True):
        assert result == Generation(text[: text.find(stop)], "stop")


def test_generation_that_ends_in_eos_says_so(hf_backend, eos_prompts) -> None:
    answers = hf_backend.generate(eos_prompts)
    print([(r.prompt[-30:], a.text) for r, a in zip(eos_prompts, answers, strict=True)])
    for request, answer in zip(eos_prompts, answers, strict=True):
        assert answer.finish_reason == "eos" and answer.text, request.prompt
        # The model alone, unbatched: the same text, then EOS before the budget runs out.
        ids = torch.tensor([hf_backend.tokenizer.encode(request.prompt)])
        with torch.inference_mode():
            tokens = hf_backend.model.generate(ids, max_new_tokens=12, do_sample=False)[0, ids.shape[1] :].tolist()
        eos = hf_backend.tokenizer.eos_token_id
        assert eos in tokens and len(tokens) < 12 or tokens[-1] == eos
        assert answer.text == hf_backend.tokenizer.decode(tokens[: tokens.index(eos)])
    # With a budget that ends before EOS the same prompts are cut instead.
    short = hf_backend.generate([replace(r, max_new_tokens=1) for r in eos_prompts])
    assert {answer.finish_reason for answer in short} == {"length"}


def test_finish_reason_prefers_a_stop_sequence_then_eos() -> None:
    assert finish_reason("a\n\nb", ("\n\n",), [5, 6, 1], {1}) == "stop"
    assert finish_reason("ab", ("\n\n",), [5, 6, 1], {1}) == "eos"
    assert finish_reason("ab", (), [5, 6], {1}) == "length"


def test_a_prompt_that_does_not_fit_keeps_bos_and_its_end(tiny_model, data_dir) -> None:
    backend = create_backend("hf", str(tiny_model), GenerationParams(), max_length=96, progress=False)
    tokenizer = backend.tokenizer
    prompt = long_text(data_dir, tokenizer, 200)
    fits = GenerationRequest(prompt="Frage: Wie viele Eier?\nAntwort:", max_new_tokens=8)
    answers = backend.generate([GenerationRequest(prompt=prompt, max_new_tokens=16), fits])
    encoded = tokenizer.encode(prompt)
    kept = [tokenizer.bos_token_id] + encoded[len(encoded) - 79 :]  # 96 - 16 = 80 positions, BOS first
    assert answers[0].truncated_tokens == len(encoded) - 80 and answers[1].truncated_tokens == 0
    with torch.inference_mode():
        out = backend.model.generate(torch.tensor([kept]), max_new_tokens=16, do_sample=False)
    expected = tokenizer.decode(out[0, len(kept) :], skip_special_tokens=True)
    assert answers[0].text == expected and answers[0].finish_reason == "length"


def test_a_context_that_does_not_fit_keeps_bos_and_its_end(tiny_model, data_dir) -> None:
    backend = create_backend("hf", str(tiny_model), GenerationParams(), max_length=96, progress=False)
    tokenizer = backend.tokenizer
    context = long_text(data_dir, tokenizer, 200)
    requests = [
        ChoiceRequest(context=context, continuations=(" 18", " zwei Eier", " drei")),
        ChoiceRequest(context="Kurz:", continuations=(" a", " bb bb")),
    ]
    for mode in ("shared_context", "full"):
        backend.score_mode = mode
        long, short = backend.score_choices(requests)
        assert short.truncated_tokens == 0
        encoded = encode_choice(tokenizer, context, requests[0].continuations)
        longest = max(map(len, encoded.continuations))
        keep = 96 + 1 - longest  # the last continuation token is only a target
        assert long.truncated_tokens == len(encoded.context) - keep > 0
        ctx = [tokenizer.bos_token_id, *encoded.context[len(encoded.context) - keep + 1 :]]
        for ll, count, cont in zip(long.loglikelihoods, long.token_counts, encoded.continuations, strict=True):
            expected, expected_count, _ = _reference_token_loglikelihood(backend, ctx, list(cont))
            assert count == expected_count and abs(ll - expected) <= loglikelihood_tolerance(expected, count)


def test_cut_at_stop_uses_the_earliest_stop() -> None:
    assert cut_at_stop(" 42\nFrage: x\n\n", ("\n\n", "Frage:")) == " 42\n"
    assert cut_at_stop("abc", ()) == "abc"


def test_missing_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="not found"):
        create_backend("hf", str(tmp_path / "nope"), GenerationParams())


def test_folder_without_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="config.json is missing"):
        create_backend("hf", str(tmp_path), GenerationParams())


def test_unknown_backend_lists_valid_ones(tiny_model: Path) -> None:
    with pytest.raises(ConfigError, match="valid: hf, openai, transformers, vllm"):
        create_backend("nope", str(tiny_model), GenerationParams())
