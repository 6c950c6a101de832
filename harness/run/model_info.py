"""Model identity: where a model came from and a fingerprint of its weights, config and tokenizer.

Two folders with the same config but different weights (a base and its merge) never share a
fingerprint. By default weights are fingerprinted by size, safetensors header and content samples at
the start and middle of every tensor (fast on multi-GB checkpoints); ``full=True`` hashes every byte.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import struct
from pathlib import Path
from typing import BinaryIO

from harness.data import sha256_file
from harness.errors import ModelError
from harness.records.schema import ModelInfo

SMALL_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "chat_template.jinja",
    "adapter_config.json",
)
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
_SAMPLE = 1 << 12  # bytes read at each sample point
_SPREAD = 256  # sample points in weight files without a tensor index
SAMPLED_METHOD = "sha256(size+safetensors header+4KiB at start and middle of every tensor); small files full"


def weight_digest(path: Path, full: bool = False) -> str:
    """Digest of one weight file: every byte with ``full``, otherwise size, safetensors header and samples
    of every tensor (its start and middle), so a merge that changes any tensor changes the digest."""
    if full:
        return sha256_file(path)
    digest = hashlib.sha256()
    size = path.stat().st_size
    digest.update(str(size).encode())
    with path.open("rb") as handle:
        for offset in _sample_offsets(handle, path, size):
            handle.seek(offset)
            digest.update(handle.read(_SAMPLE))
    return digest.hexdigest()


def _sample_offsets(handle: BinaryIO, path: Path, size: int) -> list[int]:
    if path.suffix == ".safetensors" and size >= 8:
        (header_length,) = struct.unpack("<Q", handle.read(8))
        if header_length <= size - 8:
            header = json.loads(handle.read(header_length))
            base = 8 + header_length
            offsets = [0]  # covers the header bytes: names, dtypes, shapes
            for name, entry in sorted(header.items()):
                if name == "__metadata__":
                    continue
                begin, end = entry["data_offsets"]
                offsets += [base + begin, base + (begin + end) // 2]
            return offsets
    # Other formats: evenly spread samples.
    return sorted({min(size, i * size // _SPREAD) for i in range(_SPREAD)})


def fingerprint_folder(folder: Path, full: bool = False) -> tuple[str, dict[str, str]]:
    """Digest of every identity-bearing file, and the combined fingerprint over them."""
    files: dict[str, str] = {}
    for name in SMALL_FILES:
        path = folder / name
        if path.is_file():
            files[name] = sha256_file(path)
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix in WEIGHT_SUFFIXES:
            files[path.name] = weight_digest(path, full)
    combined = hashlib.sha256("".join(f"{name}\0{digest}\n" for name, digest in sorted(files.items())).encode())
    return combined.hexdigest(), files


def describe_model(name_or_path: str, revision: str | None = None, full: bool = False) -> ModelInfo:
    """Fingerprint a local folder, or the Hub snapshot the model was loaded from (after loading).

    ``fingerprint`` is always the sampled one: it is the model's identity, so a run made with ``full`` (every
    byte hashed, recorded as ``full_fingerprint``) is the same model as a run without it.
    """
    given = Path(name_or_path).expanduser()
    folder = given if given.is_dir() else _hub_snapshot(name_or_path, revision)
    if folder is None:
        return ModelInfo(name_or_path, revision, None, f"unresolved:{name_or_path}@{revision}", "none", {})
    fingerprint, files = fingerprint_folder(folder)
    full_fingerprint = fingerprint_folder(folder, full=True)[0] if full else None
    return ModelInfo(
        name_or_path,
        revision,
        str(folder.resolve()),
        fingerprint,
        SAMPLED_METHOD,
        files,
        full_fingerprint=full_fingerprint,
    )


def with_adapter(model: ModelInfo, adapter: str | None) -> ModelInfo:
    """The model with its LoRA adapter's folder and fingerprint (a run with an adapter is another model)."""
    if adapter is None:
        return model
    folder = Path(adapter).expanduser()
    if not folder.is_dir():
        raise ModelError(f"LoRA adapter {adapter}: not a folder")
    fingerprint, _ = fingerprint_folder(folder)
    return dataclasses.replace(model, adapter=str(folder.resolve()), adapter_fingerprint=fingerprint)


def _hub_snapshot(repo_id: str, revision: str | None) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, revision=revision, local_files_only=True))
    except Exception:  # noqa: BLE001 - not in the local cache: nothing to fingerprint
        return None
