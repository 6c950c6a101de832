"""Is a model folder usable? Checked before any data is read or any engine starts, naming the file at fault."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from harness.errors import ModelError


def looks_local(model: str) -> bool:
    """A Hub id is "name" or "org/name"; anything that exists, starts like a path or has more parts is a folder."""
    return Path(model).expanduser().exists() or model.startswith((".", "/", "~")) or model.count("/") > 1


def require_model_folder_if_local(model: str) -> None:
    """A model given as a folder must be one, with a config.json (a Hub id passes: it is checked on loading)."""
    if not looks_local(model):
        return
    path = Path(model).expanduser()
    if not path.is_dir():
        raise ModelError(f"model folder {model} not found (give an HF model folder or a Hub id like org/name)")
    if not (path / "config.json").is_file():
        raise ModelError(f"{model} is not a transformers model folder: config.json is missing")


def check_model_folder(folder: Path) -> None:
    """A model folder is usable: config.json parses, every weight file it needs exists, and no safetensors
    file is truncated (its size matches its header). Raises ModelError naming the file at fault."""
    config = folder / "config.json"
    if not config.is_file():
        raise ModelError(f"{folder} is not a transformers model folder: config.json is missing")
    try:
        json.loads(config.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ModelError(f"{config}: not valid JSON ({error})") from error
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise ModelError(f"{index}: not a safetensors index ({error})") from error
        weights = [folder / shard for shard in shards]
    else:
        weights = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    if not weights:
        raise ModelError(f"{folder}: no weights (model.safetensors, an index with shards, or pytorch_model.bin)")
    for path in weights:
        if not path.is_file():
            raise ModelError(f"{path}: weight file listed in {index.name} is missing")
        if path.suffix == ".safetensors":
            _check_safetensors(path)


def _check_safetensors(path: Path) -> None:
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise ModelError(f"{path}: truncated ({size} bytes, not a safetensors file)")
        (header_length,) = struct.unpack("<Q", head)
        if header_length > size - 8:
            raise ModelError(f"{path}: corrupt safetensors header (says {header_length} bytes, file has {size})")
        try:
            header = json.loads(handle.read(header_length))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ModelError(f"{path}: corrupt safetensors header ({error})") from error
    ends = [entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__"]
    expected = 8 + header_length + max(ends, default=0)
    if size != expected:
        raise ModelError(f"{path}: truncated or padded: {size} bytes, its header describes {expected}")
