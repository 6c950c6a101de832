"""A task's examples of one language and split, from local files or the Hub, checked and described (the
``DataInfo`` results record: file hashes or the Hub dataset's identity).

From the Hub a language's examples may join several dataset splits (``Task.hub_sources``: a translation
direction reads two configs), row ``i`` of each being item ``i``: they must have the same number of rows, and
``DataInfo.hub`` records every one (one source: its ``{path, name, split, revision, fingerprint}``, the shape
of older results; several: ``{"sources": [...]}`` of those, in ``hub_sources`` order).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.api.languages import Language
from harness.api.task import Example, HubSource, Task
from harness.data import sha256_file
from harness.errors import ConfigError, DataError
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
    sources = task.hub_sources(language, split)
    tables = [_load_source(task, language, source) for source in sources]
    where = " + ".join(_describe_source(source) for source in sources)
    lengths = [len(table) for table in tables]
    if len(set(lengths)) > 1:
        counts = ", ".join(f"{_describe_source(s)}: {n} rows" for s, n in zip(sources, lengths, strict=True))
        raise DataError(f"{task.name}/{language.code}: the Hub sources of one item differ in length ({counts})")
    rows = [tuple(dict(row) for row in joined) for joined in zip(*tables, strict=True)]
    try:
        examples = task.from_hub_split(rows, language, split)
    except (KeyError, TypeError, ValueError) as error:
        raise DataError(f"not a {task.name} record ({error})", where) from error
    check_examples(task, language, split, examples, where=where)
    records = [_hub_record(source, table) for source, table in zip(sources, tables, strict=True)]
    hub = records[0] if len(records) == 1 else {"sources": records}
    return list(examples), DataInfo(source="hub", split=split, hub=hub, total_examples=len(examples))


def _describe_source(source: HubSource) -> str:
    return f"Hub dataset {source.path} ({source.name or 'default'}, split {source.split})"


def _load_source(task: Task, language: Language, source: HubSource) -> Any:
    """``datasets.load_dataset`` of one source; a gated dataset, a missing config or split, a dataset that needs
    a loading script are errors that say so and name the task and language."""
    import datasets
    from datasets.exceptions import DatasetNotFoundError
    from huggingface_hub.errors import GatedRepoError

    what = f"{task.name}/{language.code}: {_describe_source(source)}"
    try:
        return datasets.load_dataset(source.path, source.name, split=source.split, revision=source.revision)
    except (DatasetNotFoundError, GatedRepoError) as error:
        if not isinstance(error, GatedRepoError) and "gated" not in str(error):
            raise DataError(f"{what}: not found ({error})") from error
        raise ConfigError(
            f"{what} is gated: accept its terms on https://huggingface.co/datasets/{source.path} while logged in, "
            f"then log in here with `huggingface-cli login` or set HF_TOKEN ({error})"
        ) from error
    except ValueError as error:  # datasets: "BuilderConfig 'x' not found", 'Unknown split "x"'
        raise DataError(f"{what} cannot be read: {error}") from error
    except RuntimeError as error:
        if "scripts are no longer supported" not in str(error):
            raise
        raise ConfigError(
            f"{what} needs a loading script, which datasets {datasets.__version__} cannot run ({error})"
        ) from error


def _hub_record(source: HubSource, table: Any) -> dict[str, Any]:
    return {
        "path": source.path,
        "name": source.name,
        "split": source.split,
        "revision": source.revision,
        "fingerprint": getattr(table, "_fingerprint", None),
    }


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
