"""The OpenAI-compatible backend: a model served by ``vllm serve`` (or any server with a ``/v1/completions``
endpoint) at ``BASE_URL``.

- Prompts are tokenised here with the model's own tokenizer (``tokenizer`` option, else ``model``) and
  sent as token ids, so the server sees exactly the tokens the in-process backends see (lm-eval's choice
  encoding, the same truncation). Without a local tokenizer the backend cannot split a choice request
  into context and continuation tokens, so it refuses to start.
- Generation: one completion per request (``max_tokens``, ``stop``, temperature, top_p, seed); the text
  is cut at the first stop sequence as everywhere else. With a vLLM server the output token ids are
  requested too and decoded here, like the in-process backends do, and its ``stop_reason`` tells an EOS
  from a stop string (``vllm_finish_reason``). Other servers say "stop" for both: recorded as "stop" when
  the request had stop sequences, "eos" when it had none.
- Choice scoring: one completion call per choice request, its continuations as a list of prompts, with
  ``echo`` + ``logprobs=1`` + ``max_tokens=1``: the server returns each prompt token's log-prob and the
  top-1 alternative; a token is greedy when no alternative has a higher log-prob.
- An asyncio client: at most ``concurrency`` calls in flight, a timeout per call, retries with backoff on
  connection errors, timeouts, 429 and 5xx. When a call still fails the run stops with a ``ServerError``
  that says how many answers had arrived; those answers are on the error (``received``) and stay on the
  backend (``received``) until the next call, for a response cache to keep.
- The served model must be the one named: ``served_model`` when given (it must be listed by ``/v1/models``),
  else the listed model whose id is MODEL or whose ``root`` (vLLM: the path it was loaded from) is the
  same folder as MODEL. Anything else is refused, naming what the server serves. A vLLM server's
  vocabulary size is then compared with the local model's (``_check_vocabulary``).
- ``info()`` records the served model's name and root, the server's version (``/version``, vLLM's), the
  vocabulary size it confirmed and the URL.
"""

from __future__ import annotations

import asyncio
import json
import os
import os.path
import random
from collections.abc import Callable, Sequence
from typing import Any

import aiohttp
import transformers

import harness
from harness.api.requests import ChoiceRequest, ChoiceScores, Generation, GenerationRequest
from harness.backends.base import BackendInfo, GenerationParams
from harness.backends.chat import ChatTemplate
from harness.backends.memory import import_transformers_generation_without_sklearn
from harness.backends.openai_server import local_vocab_size, pick_served_model, tokenizer_limit
from harness.backends.scoring import TokenScores, choice_scores, encode_for_scoring
from harness.backends.stops import cut_at_stop
from harness.backends.tokenization import fit_generation, special_tokens_kwargs
from harness.backends.vllm_engine import vllm_finish_reason
from harness.errors import ConfigError, ModelError

RETRY_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})


class ServerError(ModelError):
    """The server failed for good; ``received`` maps request positions to the answers that did arrive."""

    def __init__(self, message: str, received: dict[int, Any]):
        super().__init__(message)
        self.received = received


class _Retryable(Exception):
    pass


class OpenAIBackend:
    """Completions from an OpenAI-compatible HTTP server."""

    name = "openai"

    def __init__(
        self,
        model: str,
        generation: GenerationParams | None = None,
        *,
        base_url: str,
        tokenizer: str | None = None,
        served_model: str | None = None,
        api_key: str | None = None,
        revision: str | None = None,
        max_length: int | None = None,
        concurrency: int = 16,
        timeout_s: float = 600.0,
        max_retries: int = 4,
        retry_backoff_s: float = 1.0,
        chat: bool = False,
        add_bos_token: bool | None = None,
        trust_remote_code: bool = False,
        progress: bool = True,
    ) -> None:
        if concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, got {concurrency}")
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"BASE_URL must start with http:// or https://, got {base_url!r}")
        self.generation = generation or GenerationParams()
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY")
        self.concurrency = concurrency
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.retry_backoff_s = retry_backoff_s
        self.add_bos_token = add_bos_token
        self.progress = progress
        self.received: dict[int, Any] = {}
        tokenizer_name = tokenizer or model
        import_transformers_generation_without_sklearn()  # AutoTokenizer imports transformers' model classes
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(
                tokenizer_name, revision=revision, trust_remote_code=trust_remote_code
            )
        except (OSError, ValueError, KeyError) as error:
            raise ModelError(
                f"the openai backend tokenises locally and cannot load the tokenizer {tokenizer_name!r} "
                f"(give the model folder as MODEL or the tokenizer option): {error}"
            ) from error
        self.chat = ChatTemplate.of(self.tokenizer, tokenizer_name) if chat else None
        models, self.server_version = asyncio.run(self._describe_server())
        entry = pick_served_model(served_model, model, models, self.base_url)
        self.served_model = str(entry["id"])
        served_length = entry.get("max_model_len")
        if not isinstance(served_length, int):
            served_length = tokenizer_limit(self.tokenizer)
        self.max_length = max_length or served_length
        vocab_size = None
        if self._is_vllm:
            local = local_vocab_size(self.tokenizer, (model, tokenizer_name), revision, trust_remote_code)
            vocab_size = asyncio.run(self._check_vocabulary(*local))
        self._options: dict[str, object] = {
            "base_url": self.base_url,
            "served_model": self.served_model,
            "served_model_root": entry.get("root"),
            "vocab_size": vocab_size,
            "server_version": self.server_version,
            "tokenizer": tokenizer_name,
            "max_length": self.max_length,
            "concurrency": concurrency,
            "timeout_s": timeout_s,
            "max_retries": max_retries,
            "add_bos_token": add_bos_token,
            "chat": chat,
        }
        if self.chat is not None:
            self._options.update(self.chat.describe())

    # -- protocol ---------------------------------------------------------------------------------
    def info(self) -> BackendInfo:
        versions = {"transformers": transformers.__version__, "aiohttp": aiohttp.__version__}
        versions["xlh"] = harness.__version__
        if self.server_version:
            versions["server"] = self.server_version
        return BackendInfo(
            name=self.name, versions=versions, device="remote", dtype="server", options=dict(self._options)
        )

    def close(self) -> None:
        pass

    def generate(self, requests: Sequence[GenerationRequest]) -> list[Generation]:
        if self.chat is not None:
            requests = [self.chat.generation(r) for r in requests]
        kwargs = special_tokens_kwargs(self._add_bos())
        bodies, cuts = [], []
        for request in requests:
            encoded = self.tokenizer.encode(request.prompt, **kwargs)
            tokens, max_new, cut = fit_generation(
                encoded, request.max_new_tokens, self.max_length, self.tokenizer.bos_token_id
            )
            cuts.append(cut)
            body: dict[str, Any] = {
                "model": self.served_model,
                "prompt": list(tokens),
                "max_tokens": max_new,
                "temperature": self.generation.temperature,
                "top_p": self.generation.top_p,
                "seed": self.generation.seed,
            }
            if request.stop:
                body["stop"] = list(request.stop)
            if self._is_vllm:
                body["return_token_ids"] = True
            bodies.append(body)

        def answer(index: int, reply: dict[str, Any]) -> Generation:
            choice = reply["choices"][0]
            if choice.get("token_ids") is not None:
                text = str(self.tokenizer.decode(choice["token_ids"], skip_special_tokens=True))
            else:
                text = choice["text"]
            stop = requests[index].stop
            reason = choice.get("finish_reason")
            if self._is_vllm:
                finish = vllm_finish_reason(reason, choice.get("stop_reason"))
            elif reason == "length":
                finish = "length"
            elif reason == "stop":
                finish = "stop" if stop else "eos"  # such a server says "stop" for a stop string and EOS alike
            else:
                raise ModelError(f"the server ended a completion with finish reason {reason!r}")
            return Generation(cut_at_stop(text, stop), finish, truncated_tokens=cuts[index])

        return self._run(bodies, answer, "generating")

    def score_choices(self, requests: Sequence[ChoiceRequest]) -> list[ChoiceScores]:
        if self.chat is not None:
            requests = [self.chat.choice(r) for r in requests]
        # Room for the one generated token: context + continuation <= max_length - 1.
        encoded = [encode_for_scoring(self.tokenizer, r, self.max_length - 2, self._add_bos()) for r in requests]
        bodies = [
            {
                "model": self.served_model,
                "prompt": [list(item.context + cont) for cont in item.continuations],
                "max_tokens": 1,
                "temperature": 0.0,
                "echo": True,
                "logprobs": 1,
            }
            for item in encoded
        ]

        def answer(index: int, reply: dict[str, Any]) -> ChoiceScores:
            item = encoded[index]
            choices = sorted(reply["choices"], key=lambda c: c["index"])
            if len(choices) != len(item.continuations):
                raise ModelError(f"the server answered {len(choices)} prompts for {len(item.continuations)} sent")
            scores = []
            for cont, choice in zip(item.continuations, choices, strict=True):
                logprobs = choice["logprobs"]
                token_logprobs, top = logprobs["token_logprobs"], logprobs["top_logprobs"]
                start = len(item.context)
                if len(token_logprobs) < start + len(cont):
                    raise ModelError("the server echoed fewer prompt log-probs than prompt tokens (no echo support?)")
                target = TokenScores()
                for position in range(start, start + len(cont)):
                    value = float(token_logprobs[position])
                    alternatives = top[position] or {}
                    best = max(alternatives.values(), default=value)
                    target.add(value, not (best > value))
                scores.append(target)
            return choice_scores(scores, item.truncated)

        return self._run(bodies, answer, "scoring choices")

    # -- client -----------------------------------------------------------------------------------
    @property
    def _is_vllm(self) -> bool:
        return self.server_version is not None

    def _add_bos(self) -> bool | None:
        if self.chat is not None and self.chat.bos_in_text:
            return False
        return self.add_bos_token

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def _run(self, bodies: list[dict[str, Any]], answer: Callable[[int, dict[str, Any]], Any], what: str) -> list[Any]:
        """POST every body to /completions, at most ``concurrency`` at a time; answers in request order."""
        self.received = {}
        if not bodies:
            return []
        asyncio.run(self._post_all(bodies, answer, what))
        return [self.received[i] for i in range(len(bodies))]

    async def _post_all(
        self, bodies: list[dict[str, Any]], answer: Callable[[int, dict[str, Any]], Any], what: str
    ) -> None:
        from tqdm.auto import tqdm

        semaphore = asyncio.Semaphore(self.concurrency)
        bar = tqdm(total=len(bodies), desc=what, unit="req", disable=not self.progress)
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        connector = aiohttp.TCPConnector(limit=self.concurrency)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector, headers=self._headers()) as session:

            async def one(index: int) -> None:
                async with semaphore:
                    reply = await self._post(session, "/completions", bodies[index])
                self.received[index] = answer(index, reply)
                bar.update(1)

            tasks = [asyncio.create_task(one(i)) for i in range(len(bodies))]
            try:
                done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
                for task in pending:
                    task.cancel()
                await asyncio.gather(*pending, return_exceptions=True)
                for task in done:
                    error = task.exception()
                    if error is not None:
                        raise ServerError(
                            f"{what}: {error}; {len(self.received)} of {len(bodies)} answers had arrived",
                            dict(self.received),
                        ) from error
            finally:
                bar.close()

    async def _post(self, session: aiohttp.ClientSession, path: str, body: dict[str, Any]) -> dict[str, Any]:
        url = self.base_url + path
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                await asyncio.sleep(self.retry_backoff_s * 2 ** (attempt - 1) * (1 + random.random() / 4))
            try:
                return await self._post_once(session, url, body)
            except _Retryable as error:
                last = str(error)
        raise ModelError(f"the server at {self.base_url} failed {self.max_retries + 1} times: {last}")

    async def _post_once(self, session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            async with session.post(url, json=body) as response:
                text = await response.text()
                if response.status in RETRY_STATUS:
                    raise _Retryable(f"HTTP {response.status} from {url}: {text[:300]}")
                if response.status != 200:
                    raise ModelError(f"HTTP {response.status} from {url}: {text[:500]}")
        except aiohttp.ClientConnectionError as error:
            raise _Retryable(f"cannot reach {url} ({error}); is the server running?") from error
        except asyncio.TimeoutError as error:
            raise _Retryable(f"no answer from {url} within {self.timeout_s:g} s") from error
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise ModelError(f"{url} answered with something that is not JSON: {text[:200]!r}") from error

    async def _describe_server(self) -> tuple[list[dict[str, Any]], str | None]:
        timeout = aiohttp.ClientTimeout(total=min(self.timeout_s, 60))
        async with aiohttp.ClientSession(timeout=timeout, headers=self._headers()) as session:
            try:
                models = (await self._get(session, self.base_url + "/models")).get("data", [])
            except (aiohttp.ClientError, asyncio.TimeoutError) as error:
                raise ModelError(f"cannot reach the server at {self.base_url}: {error}") from error
            version = None
            root = self.base_url.removesuffix("/v1")
            try:
                version = (await self._get(session, root + "/version")).get("version")
            except (aiohttp.ClientError, asyncio.TimeoutError, ModelError):
                pass  # not a vLLM server: nothing records its version
        return models, str(version) if version else None

    async def _check_vocabulary(self, vocab_size: int, exact: bool) -> int | None:
        """Refuse a served model whose vocabulary differs from the local model's; its size when confirmed.

        vLLM's ``/v1/models`` does not give the vocabulary size, but vLLM refuses a prompt token id above
        ``max(tokenizer's largest id, model vocabulary - 1)`` with "out of vocabulary" (HTTP 400): two
        one-token completions, of the local model's largest id and of the next one, bracket the server's
        size. ``exact`` is False when the local model's config (its padded vocabulary) could not be read:
        then only "at least as large" is checked and nothing is confirmed.
        """
        timeout = aiohttp.ClientTimeout(total=min(self.timeout_s, 120))
        async with aiohttp.ClientSession(timeout=timeout, headers=self._headers()) as session:
            if not await self._accepts_token(session, vocab_size - 1):
                raise ConfigError(
                    f"the server at {self.base_url} serves {self.served_model!r} with a vocabulary smaller than the "
                    f"{vocab_size} tokens of the local model and tokenizer: is it the same model?"
                )
            if not exact:
                return None
            if await self._accepts_token(session, vocab_size):
                raise ConfigError(
                    f"the server at {self.base_url} serves {self.served_model!r} with a vocabulary larger than the "
                    f"{vocab_size} tokens of the local model and tokenizer: is it the same model?"
                )
        return vocab_size

    async def _accepts_token(self, session: aiohttp.ClientSession, token_id: int) -> bool:
        url = self.base_url + "/completions"
        body = {"model": self.served_model, "prompt": [token_id], "max_tokens": 1, "temperature": 0.0}
        try:
            async with session.post(url, json=body) as response:
                text = await response.text()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            raise ModelError(f"cannot reach the server at {self.base_url}: {error}") from error
        if response.status == 200:
            return True
        if response.status == 400 and "out of vocabulary" in text:
            return False
        raise ModelError(f"HTTP {response.status} from {url} while checking the vocabulary size: {text[:300]}")

    async def _get(self, session: aiohttp.ClientSession, url: str) -> dict[str, Any]:
        async with session.get(url) as response:
            if response.status != 200:
                raise ModelError(f"HTTP {response.status} from {url}: {(await response.text())[:300]}")
            return await response.json()


__all__ = ["OpenAIBackend", "ServerError"]
