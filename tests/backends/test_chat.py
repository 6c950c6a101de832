"""CHAT=1: the chat template around prompts, its hash in the results, lm-eval's delimiter rule for choices."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import transformers

from harness.api.requests import ChoiceRequest, GenerationRequest
from harness.backends.chat import ChatTemplate
from harness.errors import ConfigError

TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@pytest.fixture()
def chat_tokenizer(tiny_model: Path):
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_model)
    tokenizer.chat_template = TEMPLATE
    return tokenizer


def test_a_generation_prompt_becomes_one_user_turn(chat_tokenizer) -> None:
    chat = ChatTemplate.of(chat_tokenizer, "tiny")
    request = GenerationRequest(prompt="Question: 2+2?\nAnswer:", stop=("Question:",), max_new_tokens=8)
    templated = chat.generation(request)
    assert templated.prompt == "<s><|user|>\nQuestion: 2+2?\nAnswer:<|end|>\n<|assistant|>\n"
    assert (templated.stop, templated.max_new_tokens) == (("Question:",), 8)  # the task's stops, untouched


def test_choices_drop_the_target_delimiter_as_lm_eval_does(chat_tokenizer) -> None:
    chat = ChatTemplate.of(chat_tokenizer, "tiny")
    templated = chat.choice(ChoiceRequest(context="Which?", continuations=(" A", " B", "C")))
    assert templated.context.endswith("<|assistant|>\n")
    assert templated.continuations == ("A", "B", "C")


def test_the_template_hash_is_recorded_and_bos_is_not_doubled(chat_tokenizer) -> None:
    chat = ChatTemplate.of(chat_tokenizer, "tiny")
    assert chat.describe() == {"chat": True, "chat_template_sha256": hashlib.sha256(TEMPLATE.encode()).hexdigest()}
    assert chat.bos_in_text  # rendered prompts start with <s>: encoding must not add a second one


def test_a_model_without_a_template_is_a_clear_error(tiny_model: Path) -> None:
    tokenizer = transformers.AutoTokenizer.from_pretrained(tiny_model)
    with pytest.raises(ConfigError, match="no chat template"):
        ChatTemplate.of(tokenizer, "tiny")
