"""CHAT=1: the model's own chat template around every prompt, recorded in results with its hash.

The task's prompt becomes one user message followed by the template's generation prompt (lm-eval's
``--apply_chat_template`` without multi-turn few-shot). Stop sequences stay the task's: the template's
end-of-turn token is the model's EOS or a special token the engine stops on, never a string in a task.

Choice requests: the context is templated; the continuation's leading space (the task's target
delimiter) is dropped, as lm-eval does under a chat template, because the answer now starts a new turn.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from typing import Any

from harness.api.requests import ChoiceRequest, GenerationRequest
from harness.errors import ConfigError


@dataclass(frozen=True)
class ChatTemplate:
    """A tokenizer's chat template, applied to single-turn prompts."""

    tokenizer: Any
    template: str

    @classmethod
    def of(cls, tokenizer: Any, model: str) -> ChatTemplate:
        template = getattr(tokenizer, "chat_template", None)
        if not isinstance(template, str) or not template.strip():
            raise ConfigError(f"CHAT=1 but the tokenizer of {model} has no chat template (a base model?)")
        return cls(tokenizer, template)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.template.encode()).hexdigest()

    @property
    def bos_in_text(self) -> bool:
        """Whether rendered prompts already start with the BOS text (then encoding must not add another)."""
        bos = getattr(self.tokenizer, "bos_token", None)
        return isinstance(bos, str) and bool(bos) and self.render("x").startswith(bos)

    def render(self, prompt: str) -> str:
        text = self.tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        if not isinstance(text, str):
            raise ConfigError("the chat template did not render to text")
        return text

    def generation(self, request: GenerationRequest) -> GenerationRequest:
        return dataclasses.replace(request, prompt=self.render(request.prompt))

    def choice(self, request: ChoiceRequest) -> ChoiceRequest:
        return ChoiceRequest(
            context=self.render(request.context),
            continuations=tuple(c[1:] if c.startswith(" ") else c for c in request.continuations),
        )

    def describe(self) -> dict[str, object]:
        return {"chat": True, "chat_template_sha256": self.sha256}


__all__ = ["ChatTemplate"]
