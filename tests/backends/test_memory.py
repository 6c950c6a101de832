"""The tokenizer's source lists are dropped without changing what it encodes or decodes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import transformers

from harness.backends.memory import release_tokenizer_sources

TEXTS = ["Hallo Welt, 12 + 30 = 42.", "  trailing spaces \n\n", "日本語のテキスト", ""]


def test_a_released_tokenizer_encodes_and_decodes_as_before(tiny_model: Path) -> None:
    fresh = transformers.AutoTokenizer.from_pretrained(tiny_model)
    released = transformers.AutoTokenizer.from_pretrained(tiny_model)
    release_tokenizer_sources(released)
    for text in TEXTS:
        tokens = fresh.encode(text)
        assert released.encode(text) == tokens
        assert released.decode(tokens) == fresh.decode(tokens)
    for name in ("_vocab", "_merges"):
        assert getattr(released, name, None) is None


def test_the_gemma_tokenizer_loses_its_python_vocabulary_and_merges() -> None:
    """The class whose lists cost 0.2 GiB: built from vocab and merges as transformers builds Gemma's."""
    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<mask>": 4, "a": 5, "b": 6, "ab": 7, "▁": 8}
    tokenizer = transformers.GemmaTokenizer(vocab=vocab, merges=[("a", "b")])
    before = tokenizer.encode("ab ab")
    assert isinstance(tokenizer._vocab, dict) and isinstance(tokenizer._merges, list)
    release_tokenizer_sources(tokenizer)
    assert tokenizer._vocab is None and tokenizer._merges is None
    assert tokenizer.encode("ab ab") == before


def test_a_tokenizer_without_a_rust_backend_keeps_everything() -> None:
    slow = SimpleNamespace(_vocab={"a": 0}, _merges=[("a", "b")])
    release_tokenizer_sources(slow)
    assert slow._vocab == {"a": 0} and slow._merges == [("a", "b")]
