"""How an xlh process ends: at once (no atexit hooks) with its output flushed, unless a child process, a
non-daemon thread or a Ray instance still needs Python's shutdown; the real ``xlh`` command ends that way."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _run(body: str) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(
        """
        import atexit, logging, sys
        from harness.cli.process_exit import end_process
        atexit.register(lambda: print("atexit ran", flush=True))
        logging.basicConfig(stream=sys.stderr, level=logging.INFO)
        """
    ) + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)


def test_a_finished_command_ends_at_once_with_its_output_flushed() -> None:
    done = _run(
        """
        print("results written", end="")  # no newline: only a flush gets it out
        logging.getLogger("xlh").info("logged")
        end_process(3)
        """
    )
    assert done.returncode == 3
    assert done.stdout == "results written"  # the atexit hook did not run
    assert "logged" in done.stderr


def test_a_live_child_process_or_thread_keeps_pythons_shutdown() -> None:
    for start in (
        "import multiprocessing, time\nchild = multiprocessing.Process(target=time.sleep, args=(0.5,))\nchild.start()",
        "import threading, time\nthreading.Thread(target=time.sleep, args=(0.5,)).start()",
    ):
        done = _run(f"{start}\nend_process(4)\n")
        assert done.returncode == 4, done.stderr
        assert done.stdout.strip() == "atexit ran"


def test_the_xlh_command_exits_with_its_status() -> None:
    xlh = Path(sys.executable).with_name("xlh")
    done = subprocess.run([str(xlh), "show", "/nonexistent"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "xlh: error:" in done.stderr
    listed = subprocess.run([str(xlh), "tasks"], capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and "sib200" in listed.stdout
