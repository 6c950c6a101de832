"""Which items a LIMIT evaluates: a seeded, class-stratified, nested sample that is the same in every language
and for every model, or lm-eval's first N (``--limit-mode first``, for parity work).

Why not the first N: benchmark files are often sorted (SIB-200's test files by topic), so the first five items
of SIB-200 are all ``science/technology`` and a 270M model scores 80-100% on them. lm-eval has that trap.

The order (``sample_order``): items are grouped by their class (``Task.stratum``: SIB-200's topic, XNLI's
label; one group for tasks without classes), shuffled within their group by a hash of (seed, task, item id),
and the item of rank ``r`` in a group of ``n`` gets the position ``(r + 0.5) / n``; all items are sorted by
position (ties by the hash). Every prefix of that order is therefore a proportional stratified sample
(systematic sampling per class): a class of ``n_c`` items out of ``N`` has its first item within the first
``N / (2 n_c)`` positions, so LIMIT 20 of SIB-200's 204 test items holds all 7 topics. The properties the
issue asks for follow from the construction:

- paired: the order depends only on the item ids, their classes, the seed and the task's name, so every
  language of a parallel benchmark (same ids) and every model gets the same items;
- nested: LIMIT 20 is a prefix of LIMIT 50's order (a larger LIMIT reuses the response cache and extends
  the pairing);
- reproducible: the seed is recorded with the results (``limit_seed``) and so are the sampled ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

from harness.api.task import Example
from harness.errors import ConfigError
from harness.records.comparability import DEFAULT_LIMIT_MODE, LIMIT_MODES
from harness.seeds import DEFAULT_SEED

DEFAULT_LIMIT_SEED = DEFAULT_SEED
# Bump when sample_order changes which items a seed picks (tests/test_versions.py fails otherwise): results
# record it (``limit_sampler``), and runs drawn by different versions are different samples.
SAMPLER_VERSION = 1

E = TypeVar("E", bound=Example)


def _unit_hash(seed: int, task: str, item_id: str) -> int:
    """A uniform 64-bit number per (seed, task, item): the same on every machine and Python version."""
    return int.from_bytes(hashlib.sha256(f"{seed}|{task}|{item_id}".encode()).digest()[:8], "big")


def sample_order(
    examples: Sequence[E], seed: int, task: str, stratum: Callable[[E], Hashable | None] = lambda _: None
) -> list[E]:
    """Every example in the seeded stratified order described in the module docstring."""
    groups: dict[Hashable | None, list[E]] = {}
    for example in examples:
        groups.setdefault(stratum(example), []).append(example)
    keyed: list[tuple[float, int, str, E]] = []
    for members in groups.values():
        hashes = sorted((_unit_hash(seed, task, example.id), example.id, example) for example in members)
        size = len(hashes)
        for rank, (digest, item_id, example) in enumerate(hashes):
            keyed.append(((rank + 0.5) / size, digest, item_id, example))
    keyed.sort(key=lambda entry: entry[:3])
    return [entry[3] for entry in keyed]


def limit_examples(
    examples: Sequence[E],
    limit: int | None,
    mode: str,
    seed: int,
    task: str,
    stratum: Callable[[E], Hashable | None] = lambda _: None,
) -> list[E]:
    """The examples a run evaluates, in file order: all of them without a LIMIT; else the first ``limit`` of
    the seeded stratified order (``mode="sample"``) or of the file (``mode="first"``)."""
    check_limit_mode(mode)
    if limit is None or limit >= len(examples):
        return list(examples)
    if mode == "first":
        return list(examples[:limit])
    chosen = {id(example) for example in sample_order(examples, seed, task, stratum)[:limit]}
    return [example for example in examples if id(example) in chosen]


def missing_classes(
    examples: Sequence[E], chosen: Sequence[E], stratum: Callable[[E], Hashable | None] = lambda _: None
) -> tuple[int, int] | None:
    """(classes the chosen items hold, classes the split holds) when a LIMIT of at least one item per class
    left some class out, which the stratified sample never does: the first N of a file sorted by class
    (SIB-200's test files) measures one class. None when every class is there (or there are no classes)."""
    held = {stratum(example) for example in chosen}
    total = {stratum(example) for example in examples}
    if len(total) < 2 or len(chosen) < len(total) or held == total:
        return None
    return len(held), len(total)


def check_limit_mode(mode: str) -> None:
    if mode not in LIMIT_MODES:
        raise ConfigError(f"unknown LIMIT mode {mode!r}; valid: {', '.join(LIMIT_MODES)}")


__all__ = [
    "DEFAULT_LIMIT_MODE",
    "DEFAULT_LIMIT_SEED",
    "LIMIT_MODES",
    "check_limit_mode",
    "limit_examples",
    "missing_classes",
    "sample_order",
]
