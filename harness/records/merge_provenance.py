"""``xlh-recipe.json``: what a merged model folder was built from, written by ``xlh merge`` and read by every run
of that folder (role ``merged``, its parents, the recipe's hash)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.errors import ConfigError
from harness.records.io import atomic_write_text

PROVENANCE_FILE = "xlh-recipe.json"
PROVENANCE_VERSION = 1
# The parts of a merge's parents that are the models merged (its parents in tables); a task-arithmetic or TIES
# ``base`` is their common origin, not a parent.
MERGED_PARTS = ("keep", "swap_in", "model")


@dataclass(frozen=True)
class MergedParent:
    """A parent as the recipe names it, where it was found, its part in the merge and its weights' fingerprint."""

    reference: str
    path: str
    part: str  # keep, swap_in, base or model
    fingerprint: str


@dataclass(frozen=True)
class MergeProvenance:
    name: str
    method: str
    parameters: dict[str, Any]
    recipe: dict[str, Any]  # the recipe's content (method, parents as written, parameters)
    recipe_sha256: str
    parents: tuple[MergedParent, ...]
    mergekit_version: str
    mergekit_config: dict[str, Any]
    xlh_version: str


def write_provenance(folder: Path, provenance: MergeProvenance) -> None:
    document = {"version": PROVENANCE_VERSION, **asdict(provenance)}
    atomic_write_text(folder / PROVENANCE_FILE, json.dumps(document, indent=2, sort_keys=True) + "\n")


def read_provenance(folder: Path) -> MergeProvenance | None:
    """The provenance of a merged folder; None for a folder ``xlh merge`` did not build."""
    path = folder / PROVENANCE_FILE
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.pop("version") != PROVENANCE_VERSION:
            raise ConfigError(f"{path}: unknown version; this xlh reads version {PROVENANCE_VERSION}")
        parents = tuple(MergedParent(**parent) for parent in document.pop("parents"))
        return MergeProvenance(parents=parents, **document)
    except (json.JSONDecodeError, KeyError, TypeError) as error:
        raise ConfigError(f"{path}: not a valid merge provenance file ({error})") from error
