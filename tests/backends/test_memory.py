"""The tokenizer's source lists are dropped without changing what it encodes or decodes; transformers' model
classes import without scikit-learn; freed heap goes back to the system."""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
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


def run_python(script: str) -> str:
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_model_classes_import_without_sklearn_until_f1_asks_for_it() -> None:
    """In a fresh process (this one has scikit-learn loaded): transformers' model classes, which would import
    scikit-learn, pandas and SciPy's sparse matrices through the assisted-generation module, come without it;
    xlh's F1 still gets scikit-learn when it is computed."""
    script = """
import json, sys
from harness.backends.memory import import_transformers_generation_without_sklearn
import_transformers_generation_without_sklearn()
import transformers
transformers.AutoModelForCausalLM  # the auto classes import every model class's generation mixin
import transformers.models.gemma3.modeling_gemma3, transformers.generation.candidate_generator as generator
loaded = ["sklearn" in sys.modules, "pandas" in sys.modules]
from harness.metrics.classification import f1
score = f1(["a", "b", "a"], ["a", "b", "b"], "macro", ("a", "b"))
import transformers.utils
print(json.dumps([loaded, generator.is_sklearn_available(), transformers.utils.is_sklearn_available(), score,
                  "sklearn" in sys.modules]))
"""
    loaded, generator_sees, others_see, score, f1_loaded = json.loads(run_python(script))
    assert loaded == [False, False]
    assert generator_sees is False and others_see is True  # only the assisted-generation module was told
    assert score == pytest.approx(2 / 3) and f1_loaded is True


def test_a_transformers_backend_loads_its_model_without_sklearn(tiny_model: Path) -> None:
    script = f"""
import sys
from harness.backends import GenerationParams, create_backend
create_backend("hf", {str(tiny_model)!r}, GenerationParams(), progress=False)
print("sklearn" in sys.modules)
"""
    assert run_python(script) == "False"


def test_importing_twice_or_after_transformers_changes_nothing() -> None:
    script = """
import json, sys
import transformers.generation.candidate_generator as generator
from harness.backends.memory import import_transformers_generation_without_sklearn
import_transformers_generation_without_sklearn()
import_transformers_generation_without_sklearn()
print(json.dumps([generator.is_sklearn_available(), "sklearn" in sys.modules]))
"""
    assert json.loads(run_python(script)) == [True, True]  # imported before: left as transformers made it


@pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="glibc's mallopt and malloc_trim, and /proc: Linux with glibc"
)
def test_trim_heap_hands_freed_heap_blocks_back() -> None:
    """glibc keeps freed heap below a live block resident; ``trim_heap`` returns it. The blocks come from the heap
    as activations do once glibc's threshold has grown (here set high from the start)."""
    script = """
import ctypes, json
from harness.backends.memory import trim_heap
ctypes.CDLL("libc.so.6").mallopt(-3, 64 * 2**20)  # M_MMAP_THRESHOLD: blocks up to 64 MiB from the heap
def rss():
    return int(next(l for l in open("/proc/self/status") if l.startswith("VmRSS")).split()[1]) // 1024
blocks = [bytearray(2**20) for _ in range(300)]
last = bytearray(2**20)  # a live block above the freed ones: nothing is trimmed from the top by itself
del blocks
before = rss()
trim_heap()
print(json.dumps([before, rss()]))
"""
    before, after = json.loads(run_python(script))
    assert before - after > 200, (before, after)
