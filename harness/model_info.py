"""Model identity: where a model came from and a fingerprint of its weights, config and tokenizer.

Two folders with the same config but different weights (a base and its merge) never share a
fingerprint. By default weights are fingerprinted by size, safetensors header and content samples at
the start, middle and end of each file (fast on multi-GB checkpoints); ``full=True`` hashes every byte.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from pathlib import Path

from harness.data import sha256_file

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
_SAMPLE = 1 << 16  # bytes read at each sample point


@dataclass(frozen=True)
class ModelInfo:
    """What results record about a model: the name as given, revision, resolved folder and fingerprint."""

    name_or_path: str
    revision: str | None
    local_path: str | None
    fingerprint: str
    fingerprint_method: str
    files: dict[str, str] = field(default_factory=dict)


def weight_digest(path: Path, full: bool = False) -> str:
    if full:
        return sha256_file(path)
    digest = hashlib.sha256()
    size = path.stat().st_size
    digest.update(str(size).encode())
    with path.open("rb") as handle:
        if path.suffix == ".safetensors" and size >= 8:
            (header_length,) = struct.unpack("<Q", handle.read(8))
            if header_length <= size - 8:
                digest.update(handle.read(header_length))  # names, dtypes, shapes, offsets
        for offset in (0, max(0, size // 2 - _SAMPLE // 2), max(0, size - _SAMPLE)):
            handle.seek(offset)
            digest.update(handle.read(_SAMPLE))
    return digest.hexdigest()


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
    """Fingerprint a local folder, or the Hub snapshot the model was loaded from (after loading)."""
    folder = Path(name_or_path).expanduser()
    if not folder.is_dir():
        folder = _hub_snapshot(name_or_path, revision)
    method = "sha256(all bytes)" if full else "sha256(size+safetensors header+3x64KiB samples); small files full"
    if folder is None:
        return ModelInfo(name_or_path, revision, None, f"unresolved:{name_or_path}@{revision}", "none", {})
    fingerprint, files = fingerprint_folder(folder, full)
    return ModelInfo(name_or_path, revision, str(folder.resolve()), fingerprint, method, files)


def _hub_snapshot(repo_id: str, revision: str | None) -> Path | None:
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(repo_id, revision=revision, local_files_only=True))
    except Exception:  # noqa: BLE001 - not in the local cache: nothing to fingerprint
        return None
