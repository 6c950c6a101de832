"""Typed result records, their JSON form, and atomic writes of a run folder.

A run folder ``<out>/<model-slug>/<run-id>/`` holds ``results.json`` (one ``RunResult``) and
``samples.jsonl`` (one ``SampleRecord`` per line). It is assembled under a hidden staging name and renamed
into place only when complete, so an interrupted or failed run never leaves a partial folder behind.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import secrets
import shutil
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from harness.api.metric import SampleScore
from harness.data import read_jsonl
from harness.errors import DataError, OutputError
from harness.records.schema import RESULTS_FILE, SAMPLES_FILE, RunResult, SampleKey, SampleRecord


def to_jsonable(record: Any) -> Any:
    if dataclasses.is_dataclass(record) and not isinstance(record, type):
        return {f.name: to_jsonable(getattr(record, f.name)) for f in dataclasses.fields(record)}
    if isinstance(record, dict):
        return {str(k): to_jsonable(v) for k, v in record.items()}
    if isinstance(record, (list, tuple)):
        return [to_jsonable(v) for v in record]
    if isinstance(record, float) and record != record:  # NaN is not JSON
        return None
    return record


# Characters that JSON allows unescaped but that Python's str.splitlines (and many line readers) take for line
# breaks: a generated text holding one would split a samples.jsonl record in two for such a reader.
_LINE_BREAKS = {"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_LINE_BREAK = re.compile("[\x85\u2028\u2029]")


def dumps(record: Any) -> str:
    """One JSON Lines record: UTF-8 text as it is, except the characters that readers take for line breaks."""
    text = json.dumps(to_jsonable(record), ensure_ascii=False, allow_nan=False)
    return _LINE_BREAK.sub(lambda match: _LINE_BREAKS[match.group()], text)


def model_slug(name_or_path: str) -> str:
    """A folder name for a model: the last path parts of a folder, ``org__name`` for a Hub id."""
    path = Path(name_or_path)
    text = path.name if path.is_dir() else name_or_path.strip("/").replace("/", "__")
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text) or "model"


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it over ``path``. The file gets the
    permissions of any file the user creates (0666 less the umask), not mkstemp's 0600: results folders are
    shared, and another user's ``make leaderboard`` must be able to read them."""
    temporary = path.parent / f".{path.name}.{secrets.token_hex(6)}.tmp"
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


class RunFolder:
    """A run folder being written: staged under a hidden name, published by ``commit``, removed on failure."""

    def __init__(self, out_dir: Path, slug: str, run_id: str) -> None:
        self.final = out_dir / slug / run_id
        self.staging = out_dir / slug / f".{run_id}.partial"
        try:
            self.staging.mkdir(parents=True, exist_ok=False)
            probe = self.staging / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as error:
            raise OutputError(f"cannot write results under {out_dir}: {error.strerror or error}") from error

    def write(self, result: RunResult, samples: Iterable[SampleRecord]) -> None:
        atomic_write_text(self.staging / SAMPLES_FILE, "".join(dumps(s) + "\n" for s in samples))
        atomic_write_text(
            self.staging / RESULTS_FILE, json.dumps(to_jsonable(result), ensure_ascii=False, indent=2) + "\n"
        )

    def commit(self) -> Path:
        if self.final.exists():
            raise OutputError(f"run folder {self.final} already exists")
        os.replace(self.staging, self.final)
        return self.final

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        parent = self.staging.parent
        try:
            parent.rmdir()  # only when this run created it and it is empty
        except OSError:
            pass


def load_results(path: Path) -> dict[str, Any]:
    """Read a results.json (or the one inside a run folder) as plain data."""
    file = path / RESULTS_FILE if path.is_dir() else path
    return json.loads(file.read_text(encoding="utf-8"))


def read_sample_scores(path: Path) -> dict[SampleKey, dict[str, SampleScore]]:
    """A samples.jsonl as per-item scores: (task, variant, split, language) -> item id -> SampleScore, in
    file order (``sample_group`` finds a group). Scores written as null (NaN is not JSON) come back as NaN.
    Errors name the file and line."""
    groups: dict[SampleKey, dict[str, SampleScore]] = {}
    for line_number, record in read_jsonl(path):
        try:
            key = (record["task"], record["variant"], record.get("split"), record["language"])
            item = str(record["id"])
            scores = {name: math.nan if value is None else float(value) for name, value in record["scores"].items()}
            scored = SampleScore(record["extracted"], record["gold"], scores, record.get("details") or {})
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise DataError(f"not a sample record ({type(error).__name__}: {error})", path, line_number) from error
        group = groups.setdefault(key, {})
        if item in group:
            where = "/".join(part for part in key if part is not None)
            raise DataError(f"item {item} of {where} appears twice", path, line_number)
        group[item] = scored
    return groups


def sample_group(
    groups: dict[SampleKey, dict[str, SampleScore]],
    task: str,
    variant: str,
    split: str,
    language: str,
    run_splits: Collection[str] = (),
) -> dict[str, SampleScore] | None:
    """The items of one task, variant, split and language. Samples written before schema 4 have no split:
    they are taken for ``split`` only when the run (``run_splits``: the splits its results list for this
    task and variant) evaluated one split of it, since two splits' items would be mixed otherwise."""
    found = groups.get((task, variant, split, language))
    if found is not None:
        return found
    unsplit = groups.get((task, variant, None, language))
    if unsplit is not None and len(set(run_splits)) > 1:
        raise DataError(f"{task}:{variant} ran on splits {', '.join(sorted(set(run_splits)))}, and its samples "
                        "(written before results schema 4) do not say which split each item is from")  # fmt: skip
    return unsplit
