"""The transformers backend: the reference implementation of the backend protocol, on CPU or GPU.

- Choice requests: the context of a request, with the tokens all its continuations start with, runs
  through the model once; its last logits score the first token of every continuation (all of Belebele's
  A-D), and its KV cache is shared by the continuations that go on (1 of SIB-200's 7 labels with Gemma);
  batched across requests and sorted by length. ``score_mode="full"`` instead runs every
  context+continuation sequence separately (the plain lm-eval computation, kept as a reference and for
  architectures whose cache cannot be reordered).
- Generation: batched greedy decoding (or the run's sampling parameters with a fixed seed), left padding,
  stopped per sequence at the first stop string or EOS; each answer says which of the two (or the token
  budget) ended it (``finish_reason``).
- Inputs that do not fit ``max_length`` lose tokens from the left, after BOS, which is kept
  (``tokenization.truncate_left``; a generation budget above 256 first shrinks to fit, ``fit_generation``);
  every answer counts the tokens cut.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
import transformers
from tqdm.auto import tqdm

import harness
from harness.api.requests import ChoiceRequest, ChoiceScores, Embedding, EmbedRequest, Generation, GenerationRequest
from harness.backends.base import BackendInfo, GenerationParams
from harness.backends.batching import ChoiceItem, batches_by_rows, chunks_by
from harness.backends.hf_model import (
    keeps_logits,
    load,
    model_max_length,
    resolve_device,
    resolve_dtype,
    resolve_max_batch_tokens,
)
from harness.backends.hidden_states import embed_requests
from harness.backends.memory import trim_heap
from harness.backends.scoring import SharedPlan, encode_for_scoring
from harness.backends.stops import cut_at_stop, eos_ids, finish_reason
from harness.backends.tokenization import EncodedChoice, fit_generation, pad_token_id, special_tokens_kwargs
from harness.errors import ConfigError

SCORE_MODES = ("shared_context", "full")
# Shared-context batches: continuation rows per context, on average, before a batch is cut (the cache is
# repeated once per row).
MAX_ROWS_PER_CONTEXT = 2
# Rows of logits turned into log-probs at a time (``_log_softmax_in_place``).
ROWS_PER_LOG_SOFTMAX = 4


class TransformersBackend:
    """Hugging Face transformers causal LMs (local folder or Hub id)."""

    name = "hf"

    def __init__(
        self,
        model: str,
        generation: GenerationParams | None = None,
        *,
        revision: str | None = None,
        device: str = "auto",
        dtype: str = "auto",
        batch_size: int = 16,
        max_batch_tokens: int | None = None,
        max_length: int | None = None,
        score_mode: str = "shared_context",
        add_bos_token: bool | None = None,
        trust_remote_code: bool = False,
        attn_implementation: str | None = None,
        progress: bool = True,
    ) -> None:
        if score_mode not in SCORE_MODES:
            raise ConfigError(f"unknown score_mode {score_mode!r}; valid: {', '.join(SCORE_MODES)}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        self.generation = generation or GenerationParams()
        self.batch_size = batch_size
        self.score_mode = score_mode
        self.add_bos_token = add_bos_token
        self.progress = progress
        self.device = torch.device(resolve_device(device))
        self.torch_dtype = resolve_dtype(dtype, self.device)
        self.max_batch_tokens = resolve_max_batch_tokens(max_batch_tokens, self.device)
        self.tokenizer, self.model = load(
            model, revision, self.device, self.torch_dtype, trust_remote_code, attn_implementation
        )
        self.max_length = max_length or model_max_length(self.model, self.tokenizer)
        self._keeps_logits = keeps_logits(self.model)
        self._options = {
            "revision": revision,
            "batch_size": batch_size,
            "max_batch_tokens": self.max_batch_tokens,
            "max_length": self.max_length,
            "score_mode": score_mode,
            "add_bos_token": add_bos_token,
            "trust_remote_code": trust_remote_code,
            # The attention kernels that ran (transformers' choice unless asked): they can change answers, as
            # float32 on a GPU showed (BENCHMARKS.md, "The transformers backend on a GPU").
            "attn_implementation": getattr(self.model.config, "_attn_implementation", attn_implementation),
        }

    # -- protocol ---------------------------------------------------------------------------------
    def info(self) -> BackendInfo:
        return BackendInfo(
            name=self.name,
            versions={"torch": torch.__version__, "transformers": transformers.__version__, "xlh": harness.__version__},
            device=str(self.device),
            dtype=str(self.torch_dtype).removeprefix("torch."),
            options=dict(self._options),
        )

    def close(self) -> None:
        del self.model

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> list[ChoiceScores]:
        items = [ChoiceItem(i, self._encode(request)) for i, request in enumerate(requests)]
        results: list[ChoiceScores | None] = [None] * len(items)
        # Longest first: the first batch shows at once whether memory suffices, as lm-eval does.
        items.sort(key=lambda item: (-item.length, item.index))
        bar = tqdm(total=len(items), desc="scoring choices", unit="req", disable=not self.progress)
        score = self._score_shared_context if self.score_mode == "shared_context" else self._score_full
        with torch.inference_mode():
            for batch in self._batches(items):
                for item, scores in zip(batch, score(batch), strict=True):
                    results[item.index] = scores
                trim_heap()  # the pass's freed activations, before the next batch's (harness/backends/memory.py)
                bar.update(len(batch))
        bar.close()
        assert all(r is not None for r in results), "a choice request was left unscored"
        return results  # type: ignore[return-value]

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        results: list[Generation | None] = [None] * len(requests)
        kwargs = special_tokens_kwargs(self.add_bos_token)
        bos = self.tokenizer.bos_token_id
        fitted = [
            fit_generation(self.tokenizer.encode(r.prompt, **kwargs), r.max_new_tokens, self.max_length, bos)
            for r in requests
        ]
        # Same budget in one batch; longest prompts first.
        order = sorted(range(len(requests)), key=lambda i: (fitted[i][1], -len(fitted[i][0]), i))
        bar = tqdm(total=len(requests), desc="generating", unit="req", disable=not self.progress)
        with torch.inference_mode():
            for batch in chunks_by(order, self.batch_size, key=lambda i: fitted[i][1]):
                answers = self._generate_batch([requests[i] for i in batch], [fitted[i] for i in batch])
                for i, answer in zip(batch, answers, strict=True):
                    results[i] = answer
                trim_heap()
                bar.update(len(batch))
        bar.close()
        assert all(r is not None for r in results), "a generation request was left unanswered"
        return results  # type: ignore[return-value]

    def embed(self, requests: Sequence[EmbedRequest]) -> list[Embedding]:
        """Every layer's pooled hidden states of every text (``hidden_states.embed_requests``)."""
        return embed_requests(
            self.model,
            self.tokenizer,
            requests,
            batch_size=self.batch_size,
            max_batch_tokens=self.max_batch_tokens,
            max_length=self.max_length,
            add_bos_token=self.add_bos_token,
        )

    # -- choice scoring ---------------------------------------------------------------------------
    def _batches(self, items: list[ChoiceItem]) -> Iterator[list[ChoiceItem]]:
        """Shared-context scoring runs each context once: a batch is up to ``batch_size`` contexts with at most
        ``MAX_ROWS_PER_CONTEXT`` continuation-pass rows (continuations of two or more tokens) per context on
        average: sixteen SIB-200 or Belebele contexts at batch size 16. Full scoring runs every
        context+continuation row: a batch is ``batch_size`` rows, as lm-eval counts. Either way a batch holds at
        most ``max_batch_tokens`` padded tokens (on CPU; an item longer than that runs alone)."""
        if self.score_mode == "shared_context":
            longer = self.batch_size * MAX_ROWS_PER_CONTEXT
            return batches_by_rows(
                items,
                longer,
                max_items=self.batch_size,
                rows_of=lambda item: item.longer_rows,
                max_tokens=self.max_batch_tokens,
            )
        return batches_by_rows(items, self.batch_size, max_tokens=self.max_batch_tokens)

    def _encode(self, request: ChoiceRequest) -> EncodedChoice:
        return encode_for_scoring(self.tokenizer, request, self.max_length, self.add_bos_token)

    def _score_shared_context(self, batch: list[ChoiceItem]) -> list[ChoiceScores]:
        pad = self._pad_id()
        plans = [item.plan for item in batch]
        # The context pass reads each item's prefix: its context and the tokens every continuation starts with
        # (SIB-200's continuations all start with the context's trailing " \n\n", which lm-eval moves there).
        contexts = [list(plan.prefix) for plan in plans]
        width = max(len(c) for c in contexts)
        context_ids = torch.tensor([[pad] * (width - len(c)) + c for c in contexts], device=self.device)
        context_mask = torch.tensor([[0] * (width - len(c)) + [1] * len(c) for c in contexts], device=self.device)
        context_positions = (context_mask.cumsum(-1) - 1).clamp(min=0)
        owners = [b for b, plan in enumerate(plans) for _ in plan.rests]
        conts = [list(rest) for plan in plans for rest in plan.rests]
        longer = [row for row, tokens in enumerate(conts) if len(tokens) > 1]  # rows the continuation pass runs
        # Only the logits of the last `keep` positions are scored: the last predicts the first token of every rest,
        # the ones before it the common tokens. The LM head over every position would cost a (batch x width x
        # vocabulary) product, 262,144 wide for Gemma.
        keep = max(plan.common for plan in plans) + 1
        out = self.model(
            input_ids=context_ids,
            attention_mask=context_mask,
            position_ids=context_positions,
            use_cache=bool(longer),  # single-token rests need no cache
            **({"logits_to_keep": keep} if self._keeps_logits else {}),
        )
        tail = out.logits[:, -keep:, :].float()
        argmax = tail.argmax(dim=-1)
        log_probs = _log_softmax_in_place(tail)
        common = _common_scores(plans, log_probs, argmax)
        # Token 0 of every rest is scored by its prefix's last logits, once per prefix.
        owner_index = torch.tensor(owners, device=self.device)
        first_tokens = torch.tensor([tokens[0] for tokens in conts], device=self.device)
        picked = log_probs[owner_index, -1, first_tokens].double().tolist()
        greedy = (argmax[owner_index, -1] == first_tokens).tolist()
        first = (
            [common[0][b] + p for b, p in zip(owners, picked, strict=True)],
            [common[1][b] and g for b, g in zip(owners, greedy, strict=True)],
            [plans[b].common + 1 for b in owners],
        )
        if not longer:
            return _collect(batch, first)  # single-token choices (Belebele's A-D): no continuation pass at all
        cache = out.past_key_values
        del out, tail, log_probs  # the context pass's logits (batch x keep x vocabulary) before the next pass's
        # Tokens j > 0 of the longer rests (SIB-200: 1 label of 7 with Gemma's tokenizer) are scored by a
        # continuation pass over the context's cache, one cache row per such continuation; the pass's last
        # position predicts nothing scored, so it is left out.
        longer_owners = owner_index[longer]
        cache.reorder_cache(longer_owners)  # a gather with repeats
        rest_conts = [conts[row] for row in longer]
        rest_width = max(len(c) for c in rest_conts)
        rest_ids = torch.tensor([c + [pad] * (rest_width - len(c)) for c in rest_conts], device=self.device)
        rest_mask = torch.tensor([[1] * len(c) + [0] * (rest_width - len(c)) for c in rest_conts], device=self.device)
        lengths = torch.tensor([len(c) for c in contexts], device=self.device)
        positions = lengths[longer_owners].unsqueeze(1) + torch.arange(rest_width, device=self.device)
        out2 = self.model(
            input_ids=rest_ids[:, :-1],
            attention_mask=torch.cat([context_mask[longer_owners], rest_mask[:, :-1]], dim=1),
            position_ids=positions[:, :-1],
            past_key_values=cache,
            use_cache=False,
        )
        rest = _token_scores(out2.logits.float(), rest_ids[:, 1:], rest_mask[:, 1:])
        return _collect(batch, _extend(first, rest, longer))

    def _score_full(self, batch: list[ChoiceItem]) -> list[ChoiceScores]:
        pad = self._pad_id()
        rows = [
            (len(item.encoded.context), list(item.encoded.context) + list(tokens))
            for item in batch
            for tokens in item.encoded.continuations
        ]
        width = max(len(seq) for _, seq in rows) - 1
        inputs = torch.tensor([seq[:-1] + [pad] * (width - len(seq) + 1) for _, seq in rows], device=self.device)
        mask = torch.tensor([[1] * (len(seq) - 1) + [0] * (width - len(seq) + 1) for _, seq in rows])
        logits = self.model(input_ids=inputs, attention_mask=mask.to(self.device)).logits.float()
        cont_width = max(len(seq) - ctx for ctx, seq in rows)
        gathered = torch.zeros((len(rows), cont_width, logits.shape[-1]), device=self.device)
        targets = torch.full((len(rows), cont_width), pad, device=self.device)
        target_mask = torch.zeros((len(rows), cont_width), dtype=torch.long, device=self.device)
        for r, (ctx, seq) in enumerate(rows):
            n = len(seq) - ctx
            gathered[r, :n] = logits[r, ctx - 1 : ctx - 1 + n]
            targets[r, :n] = torch.tensor(seq[ctx:], device=self.device)
            target_mask[r, :n] = 1
        return _collect(batch, _token_scores(gathered, targets, target_mask))

    # -- generation -------------------------------------------------------------------------------
    def _generate_batch(
        self, requests: list[GenerationRequest], fitted: list[tuple[tuple[int, ...], int, int]]
    ) -> list[Generation]:
        """One batch of requests with the same fitted budget (``fit_generation``: prompt, budget, tokens cut)."""
        max_new = fitted[0][1]
        prompts = [list(tokens) for tokens, _, _ in fitted]
        pad = self._pad_id()
        width = max(len(p) for p in prompts)
        input_ids = torch.tensor([[pad] * (width - len(p)) + p for p in prompts], device=self.device)
        attention_mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=self.device)
        stopper = _StopStrings(self.tokenizer, [r.stop for r in requests], prompt_width=width)
        torch.manual_seed(self.generation.seed)
        sampling: dict[str, Any] = (
            {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
            if self.generation.greedy
            else {"do_sample": True, "temperature": self.generation.temperature, "top_p": self.generation.top_p}
        )
        output = self.model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            max_new_tokens=max_new,
            stopping_criteria=transformers.StoppingCriteriaList([stopper]),
            pad_token_id=pad,
            **sampling,
        )
        generated = output[:, width:].tolist()
        texts = self.tokenizer.batch_decode(generated, skip_special_tokens=True)
        eos = eos_ids(self.model.generation_config)
        return [
            Generation(
                text=cut_at_stop(text, request.stop),
                finish_reason=finish_reason(text, request.stop, tokens, eos),
                truncated_tokens=cut,
            )
            for text, tokens, request, (_, _, cut) in zip(texts, generated, requests, fitted, strict=True)
        ]

    def _pad_id(self) -> int:
        return pad_token_id(self.tokenizer)


class _StopStrings(transformers.StoppingCriteria):
    """Per-sequence stop on any of that sequence's stop strings (checked on a decoded tail window)."""

    def __init__(self, tokenizer: Any, stops: list[tuple[str, ...]], prompt_width: int) -> None:
        self.tokenizer = tokenizer
        self.stops = stops
        self.prompt_width = prompt_width
        longest = max((len(tokenizer.encode(s, add_special_tokens=False)) for row in stops for s in row), default=0)
        self.window = longest + 3

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        if not any(self.stops):
            return done  # type: ignore[return-value]
        generated = input_ids[:, self.prompt_width :]
        tails = self.tokenizer.batch_decode(generated[:, -self.window :])
        for row, (tail, stop) in enumerate(zip(tails, self.stops, strict=True)):
            done[row] = any(s and s in tail for s in stop)
        return done  # type: ignore[return-value]


def _token_scores(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor
) -> tuple[list[float], list[bool], list[int]]:
    """Per row: summed log-prob of the target tokens, whether each was the argmax, and the token count.
    ``logits`` is overwritten (``_log_softmax_in_place``).

    ``log_softmax``, not the logit minus ``logsumexp``: the latter is ~3e-4 off on Gemma's 262,144-wide
    vocabulary in float32, past the parity tolerance with lm-eval (which uses ``log_softmax``)."""
    greedy = (logits.argmax(dim=-1) == targets) | (mask == 0)
    picked = _log_softmax_in_place(logits).gather(-1, targets.unsqueeze(-1)).squeeze(-1) * mask
    sums = picked.double().sum(dim=1).tolist()
    return sums, greedy.all(dim=1).tolist(), mask.sum(dim=1).tolist()


def _log_softmax_in_place(logits: torch.Tensor) -> torch.Tensor:
    """``logits`` (rows first) overwritten by their ``log_softmax``, a few rows at a time: a whole batch's copy
    would be another rows x positions x vocabulary tensor (48 MiB for sixteen SIB-200 contexts' three positions
    on Gemma's 262,144-wide vocabulary), the largest allocation of a scoring pass. Each row's values are those of
    ``log_softmax`` over the whole tensor: the function works row by row."""
    for part in logits.split(ROWS_PER_LOG_SOFTMAX):
        part.copy_(torch.log_softmax(part, dim=-1))
    return logits


def _common_scores(
    plans: list[SharedPlan], log_probs: torch.Tensor, argmax: torch.Tensor
) -> tuple[list[float], list[bool]]:
    """Per plan: summed log-prob of its common tokens and whether each was the argmax. ``log_probs`` and
    ``argmax`` hold the last positions of each prefix; the ``common`` positions before the last predict them."""
    sums, greedy = [0.0] * len(plans), [True] * len(plans)
    keep = log_probs.shape[1]
    spots = [
        (b, keep - 1 - plan.common + j, token)
        for b, plan in enumerate(plans)
        for j, token in enumerate(plan.prefix[plan.context_length :])
    ]
    if not spots:
        return sums, greedy
    rows, positions, tokens = (torch.tensor(column, device=log_probs.device) for column in zip(*spots, strict=True))
    picked = log_probs[rows, positions, tokens].double().tolist()
    hits = (argmax[rows, positions] == tokens).tolist()
    for (b, _, _), value, hit in zip(spots, picked, hits, strict=True):
        sums[b] += value
        greedy[b] = greedy[b] and hit
    return sums, greedy


def _extend(
    first: tuple[list[float], list[bool], list[int]], rest: tuple[list[float], list[bool], list[int]], rows: list[int]
) -> tuple[list[float], list[bool], list[int]]:
    """The scores of every row's first token (``first``) with ``rest``, the scores of the following tokens of
    ``rows``, added to those rows."""
    sums, greedy, counts = list(first[0]), list(first[1]), list(first[2])
    for position, row in enumerate(rows):
        sums[row] += rest[0][position]
        greedy[row] = greedy[row] and rest[1][position]
        counts[row] += rest[2][position]
    return sums, greedy, counts


def _collect(batch: list[ChoiceItem], scores: tuple[list[float], list[bool], list[int]]) -> list[ChoiceScores]:
    sums, greedy, counts = scores
    results, row = [], 0
    for item in batch:
        n = item.rows
        results.append(
            ChoiceScores(
                loglikelihoods=tuple(sums[row : row + n]),
                token_counts=tuple(int(c) for c in counts[row : row + n]),
                is_greedy=tuple(bool(g) for g in greedy[row : row + n]),
                truncated_tokens=item.encoded.truncated,
            )
        )
        row += n
    return results
