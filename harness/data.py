"""Reading original data files with errors that name the file and line, and hashing them."""

from __future__ import annotations

import csv
import functools
import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from harness.errors import DataError

_CHUNK = 1 << 20

# Some benchmark fields (long XQuAD contexts) exceed csv's default 128 KiB field limit.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def require_file(path: Path) -> Path:
    if not path.is_file():
        raise DataError("data file not found", path)
    return path


FileVersion = tuple[str, int, int, int]  # path, size, modification time (ns), inode
T = TypeVar("T")


def file_version(path: Path) -> FileVersion:
    """What identifies one version of a file: a rewritten or replaced file gets another."""
    stat = path.stat()
    return (str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)


def per_file_version(read: Callable[[Path], T], versions: int = 16) -> Callable[[Path], T]:
    """``read`` done once per version of a file (the last ``versions`` kept): a run reads and hashes FLORES's
    English sentences for each of ~200 directions, and a changed file is read again. ``read`` must return a
    value nobody mutates (a tuple, a string)."""
    cached = functools.lru_cache(maxsize=versions)(lambda version: read(Path(version[0])))

    @functools.wraps(read)
    def read_version(path: Path) -> T:
        return cached(file_version(require_file(path)))

    return read_version


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


sha256_file = per_file_version(_sha256, versions=4096)


def read_tsv(
    path: Path, columns: int, *, quoted: bool = False, header: bool = False
) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line_number, fields)`` of a TSV file, checking the column count of every row.

    Args:
        columns: exact number of fields each row must have.
        quoted: read CSV quoting (pandas-written files); otherwise quotes are literal text.
        header: skip the first row.
    """
    require_file(path)
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE)
        try:
            for row in reader:
                line = reader.line_num
                if header and line == 1:
                    continue
                if len(row) != columns:
                    raise DataError(f"expected {columns} tab-separated fields, found {len(row)}", path, line)
                yield line, row
        except UnicodeDecodeError as error:
            raise DataError(f"not valid UTF-8 ({error.reason})", path) from error
        except csv.Error as error:
            raise DataError(f"malformed TSV ({error})", path, reader.line_num) from error


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for every non-empty line of a JSON Lines file."""
    require_file(path)
    with path.open(encoding="utf-8") as handle:
        try:
            for line_number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as error:
                    raise DataError(f"invalid JSON ({error.msg})", path, line_number) from error
                if not isinstance(record, dict):
                    raise DataError("expected a JSON object", path, line_number)
                yield line_number, record
        except UnicodeDecodeError as error:
            raise DataError(f"not valid UTF-8 ({error.reason})", path) from error


def read_json(path: Path) -> Any:
    require_file(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise DataError(f"invalid JSON ({error.msg})", path, error.lineno) from error
    except UnicodeDecodeError as error:
        raise DataError(f"not valid UTF-8 ({error.reason})", path) from error
