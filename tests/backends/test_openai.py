"""The OpenAI-compatible backend against a real vLLM server (``python -m vllm.entrypoints.openai.api_server``,
the tiny model served as ``xlh-tiny``, 127.0.0.1) started here, compared with the in-process vLLM backend
(scores, generations, finish reasons, truncation); a server serving another model is refused; a server that
dies mid-run gives a clear error and keeps the answers that arrived."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import replace
from pathlib import Path

import pytest

from harness.api.requests import ChoiceRequest, Generation, GenerationRequest
from harness.backends import GenerationParams, create_backend
from harness.backends.openai import ServerError
from harness.errors import ConfigError, ModelError
from harness.run.tiny_model import build_tokenizer
from tests.backends.conftest import long_text, require_vllm
from tests.backends.test_vllm import compare_choice_scores, compare_generations

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 300
SERVED_NAME = "xlh-tiny"  # not the folder: the backend finds the model by the server's root


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """A vLLM OpenAI-compatible server in a child process, on a free loopback port."""

    def __init__(self, model: Path, log: Path) -> None:
        self.port = _free_port()
        self.log = log
        command = [
            sys.executable,
            "-m",
            "vllm.entrypoints.openai.api_server",
            *("--model", str(model), "--dtype", "float32", "--max-model-len", "2048", "--enforce-eager"),
            *("--host", "127.0.0.1", "--port", str(self.port), "--seed", "1234", "--served-model-name", SERVED_NAME),
        ]
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
        with log.open("w") as out:
            # Its own process group: the server spawns an engine process, which a signal to the server alone
            # would leave running (2 GB each, one per test run).
            self.process = subprocess.Popen(
                command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        self._wait_until_healthy()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the vLLM server exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except OSError:
                time.sleep(1)
        self.stop()
        pytest.fail(f"the vLLM server did not answer /health in {START_TIMEOUT_S} s:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._signal_group(signal.SIGKILL)  # whatever of the group outlived the server (its engine process)

    def _signal_group(self, sig: signal.Signals) -> None:
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            pass


@pytest.fixture(scope="module")
def server(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory):
    require_vllm()
    running = Server(tiny_model, tmp_path_factory.mktemp("server") / "server.log")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def openai_backend(server: Server, tiny_model: Path):
    return create_backend("openai", str(tiny_model), GenerationParams(), base_url=server.base_url, progress=False)


def test_choice_scores_match_in_process_vllm(openai_backend, vllm_backend, parity_choices) -> None:
    got = openai_backend.score_choices(parity_choices)
    compare_choice_scores(parity_choices, got, vllm_backend.score_choices(parity_choices))


def test_generations_match_in_process_vllm(openai_backend, vllm_backend, parity_prompts, eos_prompts) -> None:
    free = [replace(r, stop=()) for r in parity_prompts[:6]]
    texts = [answer.text for answer in vllm_backend.generate(free)]
    stops = [text[len(text) // 2 : len(text) // 2 + 3] for text in texts]
    stopped = [replace(r, stop=(stop,)) for r, stop in zip(free, stops, strict=True)]
    short = [replace(r, max_new_tokens=4) for r in free]
    requests = [*parity_prompts, *stopped, *short, *eos_prompts]
    got, expected = openai_backend.generate(requests), vllm_backend.generate(requests)
    differ = compare_generations(requests, got, expected, ("server    ", "in-process"))
    assert len(differ) <= 0.05 * len(requests)
    reasons = [answer.finish_reason for answer in got]
    assert set(reasons[len(parity_prompts) :]) == {"stop", "length", "eos"}  # every reason, as in-process
    assert reasons[-len(eos_prompts) :] == ["eos"] * len(eos_prompts)


def test_inputs_that_do_not_fit_are_cut_as_in_process(openai_backend, vllm_backend, data_dir) -> None:
    text = long_text(data_dir, openai_backend.tokenizer, 2100)  # longer than the server's 2048
    prompts = [GenerationRequest(prompt=text, max_new_tokens=16)]
    got = openai_backend.generate(prompts)
    assert got[0].truncated_tokens > 0
    assert got == vllm_backend.generate(prompts)
    choices = [ChoiceRequest(context=text, continuations=(" 18", " zwei Eier"))]
    scores = openai_backend.score_choices(choices)
    assert scores[0].truncated_tokens > 0
    compare_choice_scores(choices, scores, vllm_backend.score_choices(choices))


def test_info_records_the_served_model_and_server_version(openai_backend, server, tiny_model) -> None:
    info = openai_backend.info()
    import vllm

    assert info.name == "openai" and info.versions["server"] == vllm.__version__
    assert info.options["served_model"] == SERVED_NAME and info.options["served_model_root"] == str(tiny_model)
    assert info.options["vocab_size"] == len(openai_backend.tokenizer)  # confirmed by the server
    assert info.options["base_url"] == server.base_url and info.options["max_length"] == 2048


def test_a_model_the_server_does_not_serve_is_a_clear_error(server, tiny_model) -> None:
    with pytest.raises(ConfigError, match="does not serve 'other'"):
        create_backend("openai", str(tiny_model), GenerationParams(), base_url=server.base_url, served_model="other")


def _model_folder(source: Path, folder: Path, vocab_size: int | None = None) -> Path:
    """A local model folder (config and tokenizer; the backend reads no weights) copied from ``source``,
    its config's vocabulary size changed when asked."""
    folder.mkdir()
    for name in ("config.json", "tokenizer.json", "tokenizer_config.json"):
        shutil.copy(source / name, folder / name)
    if vocab_size is not None:
        config = json.loads((folder / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**config, "vocab_size": vocab_size}))
    return folder


def test_a_server_serving_another_folder_is_refused(server, tiny_model, tmp_path) -> None:
    """MODEL is not what the server was started with: refused, naming what it serves and how to choose."""
    other = _model_folder(tiny_model, tmp_path / "other")
    refusal = rf"serves '{SERVED_NAME}' \(root {re.escape(str(tiny_model))}\), not MODEL=.*--served-model"
    with pytest.raises(ConfigError, match=refusal):
        create_backend("openai", str(other), GenerationParams(), base_url=server.base_url)
    # Named explicitly (the user says it is this model), and the vocabularies agree: accepted.
    named = create_backend("openai", str(other), GenerationParams(), base_url=server.base_url, served_model=SERVED_NAME)
    assert named.info().options["vocab_size"] == len(named.tokenizer)


def test_a_served_model_with_another_vocabulary_is_refused(server, tiny_model, data_dir, tmp_path) -> None:
    # The local model pads its embedding to 64 more tokens than the served one has: not the same model.
    padded = _model_folder(tiny_model, tmp_path / "padded", vocab_size=4096 + 64)
    with pytest.raises(ConfigError, match="vocabulary smaller than the 4160 tokens"):
        create_backend("openai", str(padded), GenerationParams(), base_url=server.base_url, served_model=SERVED_NAME)
    # A model with a smaller vocabulary (its own tokenizer, 2048 tokens) named as the served one.
    smaller = _model_folder(tiny_model, tmp_path / "smaller", vocab_size=2048)
    build_tokenizer(data_dir, vocab_size=2048).save_pretrained(smaller)
    with pytest.raises(ConfigError, match="vocabulary larger than the 2048 tokens"):
        create_backend("openai", str(smaller), GenerationParams(), base_url=server.base_url, served_model=SERVED_NAME)


def test_no_server_is_a_clear_error(tiny_model) -> None:
    url = f"http://127.0.0.1:{_free_port()}/v1"
    with pytest.raises(ModelError, match="cannot reach the server"):
        create_backend("openai", str(tiny_model), GenerationParams(), base_url=url)


def test_a_server_that_dies_mid_run_keeps_the_answers_received(server, tiny_model, parity_prompts) -> None:
    """Runs last: it kills the module's server."""
    backend = create_backend(
        "openai",
        str(tiny_model),
        GenerationParams(),
        base_url=server.base_url,
        concurrency=1,
        max_retries=1,
        retry_backoff_s=0.1,
        progress=False,
    )
    prompts = [replace(r, stop=(), max_new_tokens=64) for r in parity_prompts] * 4

    def kill_after_a_few_answers() -> None:
        deadline = time.monotonic() + 120
        while len(backend.received) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill()

    killer = threading.Thread(target=kill_after_a_few_answers)
    killer.start()
    with pytest.raises(ServerError, match=r"cannot reach .*is the server running\?; \d+ of \d+ answers") as caught:
        backend.generate(prompts)
    killer.join()
    print(caught.value)
    assert 3 <= len(caught.value.received) < len(prompts)
    assert all(isinstance(answer, Generation) for answer in caught.value.received.values())
