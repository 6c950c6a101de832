"""The one place run folders are written and read: typed records to JSON and back, atomic writes.

A run folder ``<out>/<model-slug>/<run-id>/`` holds ``results.json`` (one ``RunResult``) and
``samples.jsonl`` (one ``SampleRecord`` per line). It is assembled under a hidden staging name and renamed
into place only when complete (samples stream into it as they are scored, ``results.json`` comes last), so a
failed run never leaves a partial folder behind, and the next run removes that of a killed one (``.owner.json``).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import secrets
import shutil
import socket
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

from harness.api.metric import SampleScore
from harness.data import read_jsonl
from harness.errors import DataError, OutputError
from harness.records.schema import (
    RESULTS_FILE,
    SAMPLES_FILE,
    SCHEMA_VERSION,
    RunResult,
    SampleKey,
    SampleRecord,
    TaskResult,
)
from harness.records.typed_json import FieldError, from_json


class StoredRun(NamedTuple):
    """A run as it lies on disk: its folder and its record (what ``iter_runs`` yields and ``run`` returns)."""

    folder: Path
    result: RunResult


_PLAIN = frozenset({str, int, bool, type(None)})


def to_jsonable(record: Any) -> Any:
    """Records as plain JSON values: dataclasses as objects, tuples as lists, keys as strings, NaN as null.
    Strings and numbers (most of a sample) return at once, and a dataclass's field names are looked up once
    per class: the values of ``dataclasses.fields`` without its cost on every value of a run."""
    if type(record) in _PLAIN:
        return record
    names = _field_names(type(record))
    if names is not None:
        return {name: to_jsonable(getattr(record, name)) for name in names}
    if isinstance(record, dict):
        return {str(k): to_jsonable(v) for k, v in record.items()}
    if isinstance(record, (list, tuple)):
        return [to_jsonable(v) for v in record]
    if isinstance(record, float) and record != record:  # NaN is not JSON
        return None
    return record


_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}


def _field_names(kind: type) -> tuple[str, ...] | None:
    """A dataclass's field names in order (None for other types; a dataclass *class* is not an instance of one)."""
    if kind not in _FIELD_NAMES:
        _FIELD_NAMES[kind] = tuple(f.name for f in dataclasses.fields(kind)) if dataclasses.is_dataclass(kind) else None
    return _FIELD_NAMES[kind]


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


OWNER_FILE = ".owner.json"  # in a staging folder: the process writing it (removed before the folder is published)


class RunFolder:
    """A run folder being written: staged under a hidden name, published by ``commit``, removed on failure.
    Creating one first removes the staging folders of killed runs beside it (``removed`` lists them)."""

    def __init__(self, out_dir: Path, slug: str, run_id: str) -> None:
        self.final = out_dir / slug / run_id
        self.staging = out_dir / slug / f".{run_id}.partial"
        self.removed = remove_abandoned(out_dir / slug)
        try:
            self.staging.mkdir(parents=True, exist_ok=False)
            (self.staging / OWNER_FILE).write_text(json.dumps(_owner()), encoding="utf-8")  # also a write test
            self._samples = (self.staging / SAMPLES_FILE).open("w", encoding="utf-8", buffering=1 << 20)
        except OSError as error:
            raise OutputError(f"cannot write results under {out_dir}: {error.strerror or error}") from error

    def append(self, sample: SampleRecord) -> None:
        """One line of ``samples.jsonl``, written as the sample is scored."""
        self._samples.write(dumps(sample) + "\n")

    def append_lines(self, lines: Iterable[str]) -> None:
        """Samples already serialised by ``dumps`` (in a scoring worker), one line each."""
        for line in lines:
            self._samples.write(line + "\n")

    def write(self, result: RunResult, samples: Iterable[SampleRecord] = ()) -> None:
        """``samples`` after those appended, then ``samples.jsonl`` synced and ``results.json`` written, last."""
        for sample in samples:
            self.append(sample)
        self._samples.flush()
        os.fsync(self._samples.fileno())
        self._samples.close()
        atomic_write_text(
            self.staging / RESULTS_FILE, json.dumps(to_jsonable(result), ensure_ascii=False, indent=2) + "\n"
        )

    def commit(self) -> Path:
        if self.final.exists():
            raise OutputError(f"run folder {self.final} already exists")
        (self.staging / OWNER_FILE).unlink(missing_ok=True)
        os.replace(self.staging, self.final)
        return self.final

    def publish(self, result: RunResult, samples: Iterable[SampleRecord] = ()) -> StoredRun:
        """Write the run's files and move the folder into place: the run as readers will see it."""
        self.write(result, samples)
        return StoredRun(self.commit(), result)

    def discard(self) -> None:
        self._samples.close()
        shutil.rmtree(self.staging, ignore_errors=True)
        parent = self.staging.parent
        try:
            parent.rmdir()  # only when this run created it and it is empty
        except OSError:
            pass


def remove_abandoned(parent: Path) -> list[Path]:
    """Remove the staging folders (``.<run-id>.partial``) under ``parent`` of killed runs: those whose owner
    file names this host and PID namespace and a process that is gone. Kept: a folder without a readable owner
    file (an older xlh's, or one being created), another machine's, and any whose PID is in use (maybe reused)."""
    me, removed = _owner(), []
    for staging in sorted(parent.glob(".*.partial")) if parent.is_dir() else []:
        try:
            owner = json.loads((staging / OWNER_FILE).read_text(encoding="utf-8"))
            mine = (owner["host"], owner["pid_namespace"]) == (me["host"], me["pid_namespace"])
            dead = mine and isinstance(owner["pid"], int) and not _alive(owner["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if dead:
            shutil.rmtree(staging, ignore_errors=True)
            removed.append(staging)
    return removed


def _owner() -> dict[str, Any]:
    """This process as an owner file names it (the PID namespace tells containers with one host name apart)."""
    try:
        namespace: str | None = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = None
    return {"pid": os.getpid(), "host": socket.gethostname(), "pid_namespace": namespace}


def _alive(pid: int) -> bool:
    if pid <= 0:
        return True  # not one process: never signal a group
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except OSError:
        return True  # EPERM: another user's live process
    return True


def read_samples(path: Path, tasks: Collection[str]) -> Iterator[SampleRecord]:
    """The typed samples of ``tasks`` in a samples.jsonl, whole (responses and finish reasons included), one line at
    a time (other tasks' lines are skipped before conversion). Samples written before results schema 4 have no
    split: ``split`` is then ""."""
    for line, record in read_jsonl(path):
        if record.get("task") not in tasks:
            continue
        try:
            yield from_json(SampleRecord, {"split": "", **record}, "")
        except FieldError as error:
            raise DataError(f"not a sample record ({error})", path, line) from error


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


# -- reading ---------------------------------------------------------------------------------------------------
# Older schemas read into the current records: a field a schema did not have takes its default, or None where
# its type allows it (few-shot fields before 2, lineage before 3, LIMIT sample fields before 4); ``_upgrade``
# fills in what an old file meant but did not say.
OLDEST_SCHEMA = 1


def read_run(folder: Path) -> RunResult:
    """The ``RunResult`` of a run folder (or of a ``results.json`` path), of any schema from 1 to
    ``SCHEMA_VERSION``. Raises ``DataError`` naming the file: unreadable JSON, an unknown schema version (a
    newer xlh wrote it), or a field missing or of the wrong type."""
    file = folder / RESULTS_FILE if folder.is_dir() else folder
    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise DataError(f"cannot read results ({error.strerror or error})", file) from error
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"not valid JSON ({error})", file) from error
    return parse_run(document, file)


def parse_run(document: Any, file: Path) -> RunResult:
    """``read_run`` of an already parsed document (``file`` names it in errors)."""
    if not isinstance(document, dict):
        raise DataError("not an xlh results file (not a JSON object)", file)
    version = document.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise DataError(f"not an xlh results file (schema_version {version!r})", file)
    if version > SCHEMA_VERSION:
        raise DataError(
            f"results schema {version} was written by a newer xlh; this one reads schemas "
            f"{OLDEST_SCHEMA}..{SCHEMA_VERSION} (upgrade xlh)",
            file,
        )
    if version < OLDEST_SCHEMA:
        raise DataError(f"unknown results schema {version}", file)
    try:
        return from_json(RunResult, _upgrade(document, version), "")
    except FieldError as error:
        raise DataError(f"results schema {version}: {error}", file) from None


def _upgrade(document: dict[str, Any], version: int) -> dict[str, Any]:
    """An older document in the current shape. Before schema 4 a LIMIT took the first N items of each file."""
    if version >= 4:
        return document
    tasks = [
        {"limit_mode": "first", **task} if isinstance(task, dict) and task.get("limit") is not None else task
        for task in document.get("tasks") or []
    ]
    return {**document, "tasks": tasks}


def run_folders(root: Path) -> list[Path]:
    """Every run folder under ``root`` (``root`` itself if it is one), skipping hidden folders: a run still
    being written is staged under ``.<run-id>.partial``."""
    if (root / RESULTS_FILE).is_file():
        return [root]
    found = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        if RESULTS_FILE in files:
            found.append(Path(folder))
    return found


def iter_runs(root: Path) -> Iterator[StoredRun]:
    """(folder, record) of every run under ``root``, in folder order. A malformed run raises ``DataError``
    naming its file (callers that must go on past one, like the leaderboard, use ``run_folders`` and
    ``read_run`` and collect the errors)."""
    for folder in run_folders(root):
        yield StoredRun(folder, read_run(folder))


def run_splits(result: RunResult, task: str, variant: str) -> list[str]:
    """The splits a run evaluated of one task and variant (what ``sample_group`` needs for old samples)."""
    return [entry.split for entry in result.tasks if entry.name == task and entry.variant == variant]


def task_samples(
    groups: dict[SampleKey, dict[str, SampleScore]], result: RunResult, task: TaskResult, language: str
) -> dict[str, SampleScore] | None:
    """The items of one task entry of ``result`` in one language (``sample_group`` with the run's splits)."""
    splits = run_splits(result, task.name, task.variant)
    return sample_group(groups, task.name, task.variant, task.split, language, splits)
