"""The vLLM logits processor behind forced walks (``vllm_walks.py``): a request whose ``SamplingParams.extra_args``
hold a walk emits its path token by token, then the argmax it noted at the walk's branch step. Loaded by the
engine from ``vllm_walks.PROCESSOR``; imports vLLM, so only an engine process imports it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from vllm import SamplingParams
from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor
from vllm.v1.sample.logits_processor.builtin import process_dict_updates

from harness.backends.vllm_walks import WALK_ARG


@dataclass
class _Forcing:
    walk: dict[str, Any]  # the request's extra_args[WALK_ARG]; the noted argmax is kept in it (see ``argmax``)
    path: tuple[int, ...]
    outputs: Sequence[int]  # the request's output tokens, a live list kept by vLLM

    @property
    def branch(self) -> int | None:
        return self.walk["branch"]

    @property
    def argmax(self) -> int | None:
        # Kept in the request's own parameters: vLLM drops a request it does not schedule in a step from the batch
        # and adds it back later with the same SamplingParams object and output list, to a fresh _Forcing.
        return self.walk.get("argmax")

    @argmax.setter
    def argmax(self, token: int) -> None:
        self.walk["argmax"] = token

    def token_at(self, step: int) -> int | None:
        if step < len(self.path):
            return self.path[step]
        if step == len(self.path) and self.branch is not None and self.branch < len(self.path):
            return self.argmax  # reported after the path
        return None  # free: greedy sampling picks the argmax itself


def _forcing(params: SamplingParams, _prompt: list[int] | None, outputs: list[int]) -> _Forcing | None:
    walk = (params.extra_args or {}).get(WALK_ARG)
    if walk is None:
        return None
    return _Forcing(walk, tuple(walk["path"]), outputs)


class ForcedPathProcessor(LogitsProcessor):
    """Makes each request with a ``WALK_ARG`` emit its path (all other logits -inf); requests without one are
    untouched. Batch rows are the persistent batch's indices, as in vLLM's built-in processors."""

    def __init__(self, vllm_config: Any, device: torch.device, is_pin_memory: bool) -> None:
        self.forcing: dict[int, _Forcing] = {}

    @classmethod
    def validate_params(cls, sampling_params: SamplingParams) -> None:
        walk = (sampling_params.extra_args or {}).get(WALK_ARG)
        if walk is None:
            return
        if not isinstance(walk, dict):
            raise ValueError(f"{WALK_ARG} must be a dict with 'path' and 'branch'")
        path, branch = walk.get("path"), walk.get("branch")
        if not isinstance(path, list) or not all(isinstance(token, int) for token in path):
            raise ValueError(f"{WALK_ARG}['path'] must be a list of token ids")
        if branch is not None and not (isinstance(branch, int) and 0 <= branch <= len(path)):
            raise ValueError(f"{WALK_ARG}['branch'] must be None or a step from 0 to {len(path)}")

    def is_argmax_invariant(self) -> bool:
        return False  # it decides the greedy token

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        process_dict_updates(self.forcing, batch_update, _forcing)

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        for row, forcing in self.forcing.items():
            step = len(forcing.outputs)
            if step == forcing.branch and step < len(forcing.path):
                forcing.argmax = int(logits[row].argmax())  # a partial prefill may write it first; the last one counts
            token = forcing.token_at(step)
            if token is not None:
                logits[row].fill_(float("-inf"))
                logits[row, token] = 0.0
        return logits


__all__ = ["ForcedPathProcessor"]
