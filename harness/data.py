"""Reading original data files with errors that name the file and line, and hashing them."""

from __future__ import annotations

import csv
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.errors import DataError

_CHUNK = 1 << 20

# Some benchmark fields (long XQuAD contexts) exceed csv's default 128 KiB field limit.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def require_file(path: Path) -> Path:
    if not path.is_file():
        raise DataError("data file not found", path)
    return path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


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
