"""A tiny random Llama-architecture model with a byte-level BPE tokenizer trained offline on benchmark
text: the model of the test suite and of smoke runs (``xlh tiny-model OUT``). It proves the plumbing,
not the numbers; real models come from ``make models``.

head_dim is 64 (vLLM's CPU attention kernels reject 16). The tokenizer adds BOS like Llama and Gemma do,
so the lm-eval conventions around BOS are exercised.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

from harness.data import read_tsv

BOS, EOS, PAD, UNK = "<s>", "</s>", "<pad>", "<unk>"


def training_text(data_dir: Path, lines_per_file: int = 400) -> Iterator[str]:
    """Lines of MGSM and XNLI text in every language of the local data (enough for a small vocabulary)."""
    files = sorted((data_dir / "mgsm").glob("mgsm_*.tsv")) + sorted((data_dir / "xnli" / "xtreme").glob("dev-*.tsv"))
    if not files:
        raise FileNotFoundError(f"no MGSM or XNLI files under {data_dir} to train a tokenizer on")
    for path in files:
        columns = 2 if path.name.startswith("mgsm") else 3
        for _, row in itertools.islice(read_tsv(path, columns=columns), lines_per_file):
            yield from row[:2]


def build_tokenizer(data_dir: Path, vocab_size: int = 4096):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[BOS, EOS, PAD, UNK],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(training_text(data_dir), trainer=trainer)
    bos_id = tokenizer.token_to_id(BOS)
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A {BOS} $B", special_tokens=[(BOS, bos_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer, bos_token=BOS, eos_token=EOS, pad_token=PAD, unk_token=UNK
    )


def build_tiny_model(out_dir: Path, data_dir: Path, seed: int = 0, layers: int = 2, hidden: int = 128) -> Path:
    """Write a random LlamaForCausalLM (head_dim 64) and its tokenizer to ``out_dir`` in HF format."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer(data_dir)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=hidden // 64,
        num_key_value_heads=1,
        head_dim=64,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    # A wider init than the default 0.02 so the random model has opinions (non-uniform next-token
    # distributions), which makes ties rare and disagreements between code paths visible.
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() > 1:
                parameter.normal_(0.0, 0.2)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir


# A tiny family for merges (tests, `make tiny-family`): the math expert's fine-tuning changed its middle layers,
# the language expert's its outer layers and the tensors outside them (embeddings, final norm, LM head).
FAMILY_LAYERS = 6
FAMILY_CHANGES = {"math": ((2, 3), False), "language": ((0, 5), True)}


def build_tiny_family(root: Path, data_dir: Path) -> dict[str, Path]:
    """``root/base`` (a tiny model of ``FAMILY_LAYERS`` layers) and two "experts" made from it: every tensor moved
    a little (0.001 x noise) and the expert's own layers much more (0.05 x noise), seeded."""
    base = build_tiny_model(root / "base", data_dir, seed=0, layers=FAMILY_LAYERS)
    family = {"base": base}
    for seed, (name, (layers, outer)) in enumerate(FAMILY_CHANGES.items(), start=1):
        family[name] = _fine_tuned(base, root / name, layers, outer, seed)
    return family


def _fine_tuned(base: Path, out: Path, layers: tuple[int, ...], outer: bool, seed: int) -> Path:
    import shutil

    import torch
    from safetensors.torch import load_file, save_file

    shutil.copytree(base, out)
    tensors = load_file(base / "model.safetensors")
    generator = torch.Generator().manual_seed(seed)
    for name, tensor in sorted(tensors.items()):
        layer = int(name.split(".layers.")[1].split(".")[0]) if ".layers." in name else None
        scale = 0.05 if (layer in layers) or (layer is None and outer) else 0.001
        tensors[name] = tensor + scale * torch.randn(tensor.shape, generator=generator)
    save_file(tensors, out / "model.safetensors", metadata={"format": "pt"})
    return out
