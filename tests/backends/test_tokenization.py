from pathlib import Path

import pytest
import transformers

from harness.backends.tokenization import encode_choice, prefix_token_id


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
