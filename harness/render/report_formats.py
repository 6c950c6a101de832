"""The output formats of the report commands (``xlh correlate``, ``xlh health``): one list, one alias table and
one dispatcher, so the commands accept the same names and refuse the same way."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from harness.errors import ConfigError

FORMATS = ("text", "markdown", "csv", "json")
ALIASES = {"md": "markdown"}  # the name ``xlh table`` and ``xlh diff`` use
R = TypeVar("R")


def render_as(report: R, fmt: str, renderers: Mapping[str, Callable[[R], str]]) -> str:
    """``report`` in the format ``fmt`` (one of ``FORMATS`` or an alias), by its renderer in ``renderers``.

    Raises:
        ConfigError: an unknown format.
    """
    name = ALIASES.get(fmt, fmt)
    if name not in renderers:
        raise ConfigError(f"unknown format {fmt!r}; valid: {', '.join(FORMATS)}")
    return renderers[name](report)
