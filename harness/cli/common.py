"""What several commands share: the data folder default, comma lists, the response store's path."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_SHARED_DATA = Path("../shared/data")


def default_data_dir() -> str | None:
    """``$XLH_DATA_DIR``, else ``../shared/data`` when it exists, else None (datasets from the Hub)."""
    if os.environ.get("XLH_DATA_DIR"):
        return os.environ["XLH_DATA_DIR"]
    return str(DEFAULT_SHARED_DATA) if DEFAULT_SHARED_DATA.is_dir() else None


def csv_list(text: str | None) -> tuple[str, ...] | None:
    """``a, b,c`` as ``("a", "b", "c")``; None for nothing given."""
    if text is None or not text.strip():
        return None
    return tuple(part.strip() for part in text.split(",") if part.strip())


def cache_path(value: str | None) -> Path | None:
    """The store file: the value given, None for ``off``, else the default location."""
    from harness.run.response_cache import default_path

    if value is not None and value.strip().lower() in ("off", "none", "0", "false"):
        return None
    return Path(value).expanduser() if value else default_path()
