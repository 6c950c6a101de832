"""A task's examples of one language and split, from local files or the Hub, checked and described (the
``DataInfo`` results record: file hashes or the Hub dataset's identity)."""

from __future__ import annotations

from pathlib import Path

from harness.api.languages import Language
from harness.api.task import Example, Task
from harness.data import sha256_file
from harness.errors import DataError
from harness.records.schema import DataInfo


def load_examples(task: Task, language: Language, split: str, data_dir: Path | None) -> tuple[list[Example], DataInfo]:
    """Every example of one language and split, with where they came from (local files or the Hub)."""
    if data_dir is not None:
        files = task.local_files(data_dir, language, split)
        for path in files:
            if not path.is_file():
                raise FileNotFoundError(str(path))
        examples = task.load_local(data_dir, language, split)
        check_examples(task, language, split, examples, where=str(files[0]) if files else task.data_folder)
        info = DataInfo(
            source="local",
            split=split,
            files={str(path): sha256_file(path) for path in files},
            total_examples=len(examples),
        )
        return list(examples), info
    return _load_hub(task, language, split)


def _load_hub(task: Task, language: Language, split: str) -> tuple[list[Example], DataInfo]:
    import datasets

    source = task.hub_source(language, split)
    dataset = datasets.load_dataset(source.path, source.name, split=source.split, revision=source.revision)
    where = f"Hub dataset {source.path} ({source.name or 'default'}, split {source.split})"
    examples = []
    for index, row in enumerate(dataset):
        try:
            examples.append(task.from_hub_record(dict(row), index, language))
        except (KeyError, TypeError, ValueError) as error:
            raise DataError(
                f"row {index}: not a {task.name} record ({type(error).__name__}: {error})", where
            ) from error
    check_examples(task, language, split, examples, where=where)
    hub = {
        "path": source.path,
        "name": source.name,
        "split": source.split,
        "revision": source.revision,
        "fingerprint": getattr(dataset, "_fingerprint", None),
    }
    return list(examples), DataInfo(source="hub", split=split, hub=hub, total_examples=len(examples))


def check_examples(task: Task, language: Language, split: str, examples: list[Example], where: str) -> None:
    """The checks every split passes wherever it came from (local files or the Hub): not empty, item ids
    unique (they pair items across languages, models and runs), and the count the task expects."""
    if not examples:
        raise DataError(f"{task.name}/{language.code}: split {split!r} has no examples", where)
    seen: set[str] = set()
    for example in examples:
        if example.id in seen:
            raise DataError(f"{task.name}/{language.code}: item id {example.id!r} appears twice in {split!r}", where)
        seen.add(example.id)
    expected = task.expected_examples(split)
    if expected is not None and len(examples) != expected:
        raise DataError(f"{task.name}/{language.code}: expected {expected} examples in {split!r}, found "
                        f"{len(examples)}", where)  # fmt: skip
