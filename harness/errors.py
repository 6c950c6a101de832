"""Errors that reach the user: each names the file, line, task or language at fault."""

from __future__ import annotations

from pathlib import Path


class XlhError(Exception):
    """Base class of every error xlh reports to the user (the CLI prints these without a traceback)."""


class ConfigError(XlhError):
    """Bad command-line or run configuration (unknown task, bad LIMIT, ...)."""


class DataError(XlhError):
    """A data file is missing or malformed."""

    def __init__(self, message: str, path: Path | str | None = None, line: int | None = None):
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(f"{where}{message}")
        self.path = path
        self.line = line


class ModelError(XlhError):
    """The model cannot be found or loaded."""


class OutputError(XlhError):
    """Results cannot be written."""
