"""The OpenAI-compatible backend against a real vLLM server (``python -m vllm.entrypoints.openai.api_server``,
the tiny model, 127.0.0.1) started here, compared with the in-process vLLM backend; a server that dies
mid-run gives a clear error and keeps the answers that arrived."""

from __future__ import annotations

import os
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

from harness.backends import GenerationParams, create_backend
from harness.backends.openai import ServerError
from harness.errors import ConfigError, ModelError
from tests.backends.conftest import require_vllm
from tests.backends.test_vllm import compare_choice_scores

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 300


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
            *("--host", "127.0.0.1", "--port", str(self.port), "--seed", "1234"),
        ]
        env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
        with log.open("w") as out:
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
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
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


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
    worst = compare_choice_scores(parity_choices, got, vllm_backend.score_choices(parity_choices), tolerance=1e-3)
    assert worst < 1e-4


def test_generations_match_in_process_vllm(openai_backend, vllm_backend, parity_prompts) -> None:
    got, expected = openai_backend.generate(parity_prompts), vllm_backend.generate(parity_prompts)
    differ = [(r.prompt[-80:], a, b) for r, a, b in zip(parity_prompts, got, expected, strict=True) if a != b]
    for prompt, a, b in differ:
        print(f"prompt {prompt!r}\n  server     {a!r}\n  in-process {b!r}")
    assert len(differ) <= 0.05 * len(parity_prompts)


def test_info_records_the_served_model_and_server_version(openai_backend, server, tiny_model) -> None:
    info = openai_backend.info()
    import vllm

    assert info.name == "openai" and info.versions["server"] == vllm.__version__
    assert info.options["served_model"] == str(tiny_model)
    assert info.options["base_url"] == server.base_url and info.options["max_length"] == 2048


def test_a_model_the_server_does_not_serve_is_a_clear_error(server, tiny_model) -> None:
    with pytest.raises(ConfigError, match="does not serve 'other'"):
        create_backend("openai", str(tiny_model), GenerationParams(), base_url=server.base_url, served_model="other")


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
    assert all(isinstance(text, str) for text in caught.value.received.values())
