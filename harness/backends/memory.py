"""Memory the backends would hold for nothing: a loaded tokenizer's source lists, scikit-learn imported by
transformers, and freed heap that glibc keeps.

- Tokenizer sources. transformers 5 builds BPE tokenizers of classes with their own ``__init__`` (Gemma's,
  Llama's, ...) from tokenizer.json in Python: it parses the whole file into Python objects, passes the vocabulary
  and merge list to the Rust ``tokenizers.Tokenizer`` (which keeps its own copy) and keeps both Python lists on
  the tokenizer as ``_vocab`` and ``_merges``, read by nothing after ``__init__`` except ``save_pretrained`` of a
  few classes, which xlh never calls. For Gemma 3 (262,144 tokens, 514,906 merges) that is 0.77 GiB of RSS for
  the tokenizer against 0.28 GiB for the Rust tokenizer alone; dropping the two lists and handing the freed heap
  back to the system (glibc's ``malloc_trim``) returns 0.21 GiB of it, on a 2.2 GiB run.
- scikit-learn. Every transformers model class imports ``transformers.generation.candidate_generator``, which
  imports scikit-learn when it is installed (and with it pandas and SciPy's sparse matrices) for one function,
  ``roc_curve``, that only assisted generation's confidence-threshold tuning calls. xlh never runs assisted
  generation and needs scikit-learn only for F1, after the model's passes. Importing that module with
  transformers told scikit-learn is absent saves 93 MiB of RSS in a transformers process and 76 MiB in a vLLM
  one (whose configuration imports transformers' model classes too), and 1.4 s of start-up.
- Freed heap. glibc raises its threshold for serving an allocation from memory-mapped pages up to 32 MiB as
  large blocks are freed, so a forward pass's activations end up in the heap, and freed heap between live
  blocks stays resident. Trimming it after each batch kept the transformers backend's peak on the Belebele +
  SIB-200 slice ~0.1 GiB lower at no measurable cost; fixing the threshold instead cost 35% of the run's time
  (every pass then page-faults its activations afresh).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
import threading
from collections.abc import Callable
from functools import cache
from typing import Any

# Private attributes of transformers' tokenizer classes that hold the source lists the Rust tokenizer was built
# from. Only lists and dicts are dropped: a class that keeps something else under these names is left alone.
SOURCE_ATTRIBUTES = ("_vocab", "_merges")


def release_tokenizer_sources(tokenizer: Any) -> None:
    """Drop the Python copies of the vocabulary and merges of a Rust-backed tokenizer, then trim the heap.

    Encoding and decoding read only the Rust tokenizer (``tokenizer._tokenizer``), so they are unchanged;
    a tokenizer without one (a Python-only class) keeps everything."""
    if getattr(tokenizer, "_tokenizer", None) is None:
        return
    for name in SOURCE_ATTRIBUTES:
        if isinstance(getattr(tokenizer, name, None), list | dict):
            setattr(tokenizer, name, None)
    return_freed_memory()


def return_freed_memory() -> None:
    """Collect garbage and give free heap pages back to the system (glibc only; elsewhere a no-op)."""
    gc.collect()
    trim_heap()


def trim_heap() -> None:
    """Give the heap's free pages back to the system (glibc's ``malloc_trim``; elsewhere a no-op). Cheap enough to
    call after every batch: it releases whole free pages and touches no live block."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    library = ctypes.util.find_library("c")  # runs ldconfig: looked up once
    return None if library is None else getattr(ctypes.CDLL(library), "malloc_trim", None)


CANDIDATE_GENERATOR = "transformers.generation.candidate_generator"
# Held while transformers' flag is swapped: runs in threads (harness/distributed) must not save each other's
# stand-in as the real answer.
_IMPORT_LOCK = threading.Lock()


def import_transformers_generation_without_sklearn() -> None:
    """Import transformers' assisted-generation module, which every model class imports, as if scikit-learn were
    absent (it then skips ``from sklearn.metrics import roc_curve``); call it before a model class is imported.

    The module keeps that answer: in this process assisted generation tunes no confidence threshold, which xlh
    never asks for. Anything else importing scikit-learn (xlh's F1) still gets it. A no-op once the module is
    imported, or where transformers has no such module or flag."""
    with _IMPORT_LOCK:
        if CANDIDATE_GENERATOR in sys.modules:
            return
        import transformers.utils

        answer = getattr(transformers.utils, "is_sklearn_available", None)
        if answer is None:
            return
        transformers.utils.is_sklearn_available = lambda: False  # read by the module's ``from ..utils import``
        try:
            __import__(CANDIDATE_GENERATOR)
        except ImportError:
            pass  # a transformers without it: nothing imports scikit-learn through it either
        finally:
            transformers.utils.is_sklearn_available = answer
