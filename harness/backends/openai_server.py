"""What an OpenAI-compatible server serves: the model entry that matches the one asked for, and the vocabulary
and context limits of the local tokenizer the requests are encoded with."""

from __future__ import annotations

import os
import os.path
from collections.abc import Sequence
from typing import Any

import transformers

from harness.errors import ConfigError


def pick_served_model(requested: str | None, model: str, models: list[dict[str, Any]], base_url: str) -> dict[str, Any]:
    """The ``/v1/models`` entry of the model to query: ``requested`` (which must be listed), else the one
    whose id is ``model`` or whose root is the same folder; never just whatever the server serves."""
    serving = "; ".join(describe_entry(m) for m in models) or "no models"
    if requested:
        for entry in models:
            if entry.get("id") == requested:
                return entry
        raise ConfigError(f"the server at {base_url} does not serve {requested!r}; it serves: {serving}")
    for entry in models:
        if entry.get("id") == model:
            return entry
    for entry in models:
        if same_place(entry.get("root"), model):
            return entry
    raise ConfigError(
        f"the server at {base_url} serves {serving}, not MODEL={model}: if one of them is this model, name it "
        "with --served-model (the served_model option); otherwise start the server with this model"
    )


def describe_entry(entry: dict[str, Any]) -> str:
    root = entry.get("root")
    return f"{entry.get('id')!r}" + (f" (root {root})" if root and root != entry.get("id") else "")


def same_place(root: object, model: str) -> bool:
    """Whether the server's ``root`` names ``model``: the same string, or the same local folder."""
    if not isinstance(root, str) or not root:
        return False
    if os.path.normpath(root) == os.path.normpath(model):
        return True
    try:
        return os.path.samefile(root, model)
    except OSError:
        return False  # either path does not exist here (a remote server's folder, a Hub id)


def local_vocab_size(
    tokenizer: Any, names: Sequence[str], revision: str | None, trust_remote_code: bool
) -> tuple[int, bool]:
    """The local model's vocabulary size as vLLM counts it (the larger of the tokenizer's and the model
    config's, which may be padded), and whether the config was found (else the tokenizer's, a lower bound)."""
    size = len(tokenizer)
    for name in dict.fromkeys(names):
        try:
            config = transformers.AutoConfig.from_pretrained(
                name, revision=revision, trust_remote_code=trust_remote_code
            )
        except (OSError, ValueError, KeyError):
            continue
        configured = getattr(config.get_text_config(), "vocab_size", None)
        if isinstance(configured, int) and configured > 0:
            return max(size, configured), True
    return size, False


def tokenizer_limit(tokenizer: Any) -> int:
    limit = getattr(tokenizer, "model_max_length", None)
    return limit if isinstance(limit, int) and 0 < limit < 1_000_000 else 2048
