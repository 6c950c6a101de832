from pathlib import Path

import pytest
import transformers

from harness.api.requests import ChoiceRequest
from harness.backends.scoring import encode_for_scoring
from harness.backends.tokenization import encode_choice, fit_generation, prefix_token_id, truncate_left


@pytest.fixture(scope="module")
def tokenizer(tiny_model: Path):
    return transformers.AutoTokenizer.from_pretrained(tiny_model)


def test_context_tokens_follow_the_tokenizers_default_and_include_bos(tokenizer) -> None:
    encoded = encode_choice(tokenizer, "Frage: Wie viele?", (" 12",))
    assert encoded.context[0] == tokenizer.bos_token_id
    assert list(encoded.context) == tokenizer.encode("Frage: Wie viele?")


def test_trailing_space_of_context_moves_to_continuation(tokenizer) -> None:
    with_space = encode_choice(tokenizer, "Answer: ", ("B",))
    without = encode_choice(tokenizer, "Answer:", (" B",))
    assert with_space == without


def test_continuation_tokens_are_the_tail_of_the_whole_encoding(tokenizer) -> None:
    context, continuation = "Die Antwort ist", " zweitausend"
    encoded = encode_choice(tokenizer, context, (continuation,))
    whole = tokenizer.encode(context + continuation)
    assert list(encoded.continuations[0]) == whole[len(encoded.context) :]


def test_empty_context_conditions_on_bos(tokenizer) -> None:
    encoded = encode_choice(tokenizer, "", (" Ja, richtig", " Nein"))
    assert encoded.context == (prefix_token_id(tokenizer),) == (tokenizer.bos_token_id,)
    assert list(encoded.continuations[1]) == tokenizer.encode(" Nein", add_special_tokens=False)


def test_truncation_keeps_bos_and_the_end_and_counts_the_cut() -> None:
    assert truncate_left([0, 5, 6, 7, 8], 3, bos_token_id=0) == ((0, 7, 8), 2)
    assert truncate_left([5, 6, 7, 8], 2, bos_token_id=0) == ((7, 8), 2)  # no BOS to keep: lm-eval's cut
    assert truncate_left([0, 5, 6], 1, bos_token_id=0) == ((6,), 2)  # no room for BOS and a token
    assert truncate_left([5, 6, 7], 3, bos_token_id=None) == ((5, 6, 7), 0)


def test_inputs_that_fit_are_not_touched() -> None:
    for tokens in ([0, 5, 6], [5], []):
        assert truncate_left(tokens, 3, bos_token_id=0) == (tuple(tokens), 0)
    with pytest.raises(ValueError, match="at least one"):
        truncate_left([0, 5], 0, bos_token_id=0)


def test_a_choice_context_that_does_not_fit_keeps_bos(tokenizer) -> None:
    context = "Frage: " + "Wie viele Eier legt das Huhn? " * 20
    request = ChoiceRequest(context=context, continuations=(" 12 Eier", " 3"))
    full = encode_choice(tokenizer, context, request.continuations)
    assert encode_for_scoring(tokenizer, request, 1000) == full and full.truncated == 0
    encoded = encode_for_scoring(tokenizer, request, 40)
    longest = max(map(len, full.continuations))
    assert len(encoded.context) + longest == 41  # 40 input positions: the last target is never an input
    assert encoded.context[0] == tokenizer.bos_token_id
    assert encoded.context[1:] == full.context[len(full.context) - len(encoded.context) + 1 :]
    assert encoded.truncated == len(full.context) - len(encoded.context)
    assert encoded.continuations == full.continuations


def test_a_generation_fits_like_lm_eval_up_to_256_tokens_of_budget() -> None:
    prompt = [1, *range(10, 2009)]  # BOS + 1,999 tokens
    assert fit_generation(prompt[:100], 256, 2048, 1) == (tuple(prompt[:100]), 256, 0)
    kept, budget, cut = fit_generation(prompt, 256, 2048, 1)  # lm-eval: the budget stays, the prompt is cut
    assert (budget, cut, len(kept), kept[0], kept[-1]) == (256, 208, 1792, 1, prompt[-1])


def test_a_larger_budget_shrinks_before_the_prompt_is_cut() -> None:
    """FLORES sizes budgets from the source (up to ~3,000 tokens): on a 1,024-token model the prompt stays."""
    prompt = [1, *range(10, 1009)]  # BOS + 999 tokens
    assert fit_generation(prompt[:100], 1500, 1024, 1) == (tuple(prompt[:100]), 924, 0)
    kept, budget, cut = fit_generation(prompt, 1500, 1024, 1)  # no room: down to 256, then the prompt is cut
    assert (budget, cut, len(kept), kept[0]) == (256, 232, 768, 1)
    assert fit_generation(prompt[:10], 5000, 1024, 1)[1] == 1014  # never past the context window
