"""LIMIT samples: seeded, stratified, nested, the same in every language; checked on the real data files."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.api.registry import get_task
from harness.errors import ConfigError
from harness.records.comparability import sampling_of
from harness.run.sampling import limit_examples, missing_classes, sample_order


@dataclass(frozen=True)
class Item:
    id: str
    label: int


def _load(data_dir: Path, task_name: str, code: str, split: str) -> list:
    task = get_task(task_name)
    return task.load_local(data_dir, task.language(code), split)


def _limit(task_name: str, examples: list, limit: int, mode: str = "sample", seed: int = 1234) -> list:
    task = get_task(task_name)
    return limit_examples(examples, limit, mode, seed, task.name, task.stratum)


def test_sib200_first_items_are_one_topic_and_the_sample_keeps_every_topic(data_dir: Path) -> None:
    examples = _load(data_dir, "sib200", "eng_Latn", "test")
    # The trap: the test file is sorted by topic, so lm-eval's first N are all science/technology.
    assert {example.label for example in _limit("sib200", examples, 20, mode="first")} == {0}
    sample = _limit("sib200", examples, 20)
    counts = Counter(example.label for example in sample)
    assert len(sample) == 20 and set(counts) == set(range(7))
    # Proportional: each topic within one item of its share of the 204 test items.
    population = Counter(example.label for example in examples)
    for label, count in counts.items():
        assert abs(count - 20 * population[label] / len(examples)) <= 1.0


def test_xnli_limit_20_keeps_every_label(data_dir: Path) -> None:
    examples = _load(data_dir, "xnli", "de", "test")
    labels = Counter(example.label for example in _limit("xnli", examples, 20))
    assert len(labels) == 3 and min(labels.values()) >= 6


PARALLEL = [
    ("sib200", ["eng_Latn", "deu_Latn", "swh_Latn", "yor_Latn", "zho_Hans"]),
    ("xnli", ["en", "de", "sw", "zh"]),
    ("mgsm", ["en", "de", "ja"]),
]


@pytest.mark.parametrize("task_name, codes", PARALLEL)
def test_the_same_items_in_every_language(data_dir: Path, task_name: str, codes: list[str]) -> None:
    split = get_task(task_name).default_split
    chosen = [[e.id for e in _limit(task_name, _load(data_dir, task_name, code, split), 25)] for code in codes]
    assert all(ids == chosen[0] for ids in chosen) and len(chosen[0]) == 25


def test_nested_and_seeded(data_dir: Path) -> None:
    examples = _load(data_dir, "sib200", "fra_Latn", "test")
    small = {e.id for e in _limit("sib200", examples, 20)}
    large = {e.id for e in _limit("sib200", examples, 50)}
    assert small < large
    assert {e.id for e in _limit("sib200", examples, 20, seed=7)} != small
    assert [e.id for e in _limit("sib200", examples, 20)] == [e.id for e in _limit("sib200", examples, 20)]


def test_sample_is_in_file_order_and_the_whole_split_is_untouched(data_dir: Path) -> None:
    examples = _load(data_dir, "mgsm", "en", "test")
    sample = _limit("mgsm", examples, 30)
    positions = [examples.index(example) for example in sample]
    assert positions == sorted(positions) and positions != list(range(30))
    assert _limit("mgsm", examples, 1000) == examples
    assert limit_examples(examples, None, "sample", 1, "mgsm") == examples


def test_order_is_a_permutation_and_depends_on_ids_not_positions() -> None:
    items = [Item(str(i), i % 3) for i in range(30)]
    order = sample_order(items, 1234, "t", lambda item: item.label)
    assert sorted(item.id for item in order) == sorted(item.id for item in items)
    reversed_order = sample_order(list(reversed(items)), 1234, "t", lambda item: item.label)
    assert [item.id for item in order] == [item.id for item in reversed_order]
    # A prefix the size of the number of classes holds one of each (equal class sizes).
    assert {item.label for item in order[:3]} == {0, 1, 2}


def test_unknown_mode_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown LIMIT mode 'random'"):
        limit_examples([Item("1", 0)], 1, "random", 1, "t")


def test_sampling_names() -> None:
    assert sampling_of(None, "sample", 1234) == "all"
    assert sampling_of(20, "first", None) == "first"
    assert sampling_of(20, "sample", 7) == "seed 7"


def test_another_sampler_version_is_another_sample() -> None:
    assert sampling_of(20, "sample", 1234, 1) == "seed 1234"
    assert sampling_of(20, "sample", 1234, 2) == "seed 1234 (sampler v2)"


def test_a_limit_that_leaves_classes_out_is_found() -> None:
    items = [Item(str(i), i // 10) for i in range(40)]  # sorted by class, as SIB-200's test files are
    label = lambda item: item.label  # noqa: E731
    assert missing_classes(items, items[:10], label) == (1, 4)
    assert missing_classes(items, items[:25], label) == (3, 4)
    assert missing_classes(items, limit_examples(items, 8, "sample", 1, "t", label), label) is None
    assert missing_classes(items, items[:3], label) is None  # fewer items than classes: cannot hold them all
    assert missing_classes(items, items[:10]) is None  # a task without classes
