"""How the ``xlh`` process ends once its command has returned.

Python's own shutdown of a process that loaded a model frees every tensor, module and pydantic schema one by
one and runs vLLM's engine shutdown (its garbage collections included): 4.5 s after `xlh eval` on vLLM (CPU,
gemma-3-270m) had written and printed everything, 0.4 s with ``os._exit``. By then results are on disk (written
and renamed by the runner), the response store is closed and the staging folder removed, so the process
flushes its output and logging and ends at once. It keeps Python's shutdown where that still has work: a Ray
instance this process started (``ray.shutdown`` stops its processes), child processes (a vLLM engine core, a
server), non-daemon threads.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
from typing import NoReturn


def needs_interpreter_shutdown() -> bool:
    """Whether something still running relies on Python's shutdown (atexit hooks, joins) to end cleanly."""
    ray = sys.modules.get("ray")
    if ray is not None and getattr(ray, "is_initialized", lambda: False)():
        return True
    if multiprocessing.active_children():
        return True
    main = threading.main_thread()
    return any(t is not main and t.is_alive() and not t.daemon for t in threading.enumerate())


def end_process(code: int) -> NoReturn:
    """Exit with ``code``: without Python's teardown when nothing needs it, else through it."""
    if needs_interpreter_shutdown():
        raise SystemExit(code)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can be written to it anyway
            pass
    logging.shutdown()
    os._exit(code)


__all__ = ["end_process", "needs_interpreter_shutdown"]
