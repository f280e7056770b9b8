"""What the test suites share: waiting on state, serving an app, knowing what is installed.

* :func:`wait_for` (and :func:`until`, inside an event loop) polls a condition with
  a deadline: tests wait on what they can observe (a counter, a queue length, a
  file), never on a guessed ``time.sleep``.
* :func:`bound_socket` and :class:`ThreadServer` serve an ASGI app on a loopback
  socket that is bound *before* the server starts, so no other process can take
  the port between choosing it and listening on it (the race of a "free port"
  that is released and then bound again).
* :func:`free_port` is for child processes that must be told a port (the race is
  theirs to accept).
* :data:`HAS_LLAMA` says whether the reference extra (llama-cpp-python) is installed.
"""

from __future__ import annotations

import asyncio
import importlib.util
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Literal

import pytest
import uvicorn

HAS_LLAMA = importlib.util.find_spec("llama_cpp") is not None
needs_llama = pytest.mark.skipif(
    not HAS_LLAMA, reason="llama-cpp-python (the reference extra) is not installed"
)


def wait_for(
    condition: Callable[[], object],
    timeout: float = 10.0,
    interval: float = 0.01,
    what: str = "the condition",
) -> None:
    """Return as soon as ``condition()`` is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


async def until(
    condition: Callable[[], object],
    timeout: float = 10.0,
    what: str = "the condition",
) -> None:
    """:func:`wait_for` inside an event loop: yields to the loop between looks."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        await asyncio.sleep(0.001)


def free_port() -> int:
    """A loopback port nothing listens on now, for a *child process* told to listen on it.

    The port is released before the child binds it, so another process could take
    it in between: in-process servers use :func:`bound_socket` instead, and a child
    that can report its own port (``--host 127.0.0.1:0``) should be given port 0.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bound_socket(host: str = "127.0.0.1") -> socket.socket:
    """A listening-ready socket on a free loopback port, kept bound for the server."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    return sock


class ThreadServer:
    """An ASGI app served by uvicorn in a background thread, on a pre-bound socket."""

    def __init__(self, app: Any, lifespan: Literal["auto", "on", "off"] = "on") -> None:
        self.socket = bound_socket()
        self.port = int(self.socket.getsockname()[1])
        config = uvicorn.Config(app, log_level="warning", lifespan=lifespan, access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="test-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        # Server.run picks the event loop as uvicorn does for a real server (uvloop).
        self.server.run(sockets=[self.socket])

    def start(self, timeout: float = 15.0) -> ThreadServer:
        self.thread.start()
        wait_for(
            lambda: self.server.started or not self.thread.is_alive(),
            timeout,
            what="the server to start",
        )
        if not self.server.started:
            raise RuntimeError("the server exited before it started")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)
        self.socket.close()

    def __enter__(self) -> ThreadServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextmanager
def serve(app: Any, lifespan: Literal["auto", "on", "off"] = "off") -> Iterator[str]:
    """Serve an ASGI app for the block; yields its base URL."""
    with ThreadServer(app, lifespan=lifespan) as server:
        yield server.url


def with_default_sigint(command: list[str]) -> list[str]:
    """``command`` run with SIGINT at its default, for a child a test stops with it.

    A shell without job control starts background commands with SIGINT ignored,
    and children inherit that: a suite started with ``pytest &`` would see its
    children ignore the SIGINT a test sends as Ctrl-C (Python installs its
    KeyboardInterrupt handler only where SIGINT is at its default). A small Python
    restores the default and execs the command (``preexec_fn`` is unsafe in a
    process with threads, and these tests run servers in threads).
    """
    restore = (
        "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
        "os.execvp(sys.argv[1], sys.argv[1:])"
    )
    return [sys.executable, "-c", restore, *command]
