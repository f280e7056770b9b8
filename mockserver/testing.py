"""Run the mock in-process for tests: a uvicorn server on a free loopback port.

The port is bound when the server is created and handed to uvicorn as a socket, so
no other process can take it between choosing it and listening on it.

    with MockServer(clock="fixed") as mock:
        ollama.Client(host=mock.url).generate(model="smollm2:135m", prompt="hi")

The server runs in a background thread with its own event loop; :meth:`reset`
restores the catalogue, unloads every model and clears queues and counters. It
is also an async context manager, for tests that already run an event loop.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn

from .app import MockApp, create_app
from .clock import Clock, FixedClock
from .settings import MockSettings
from .state import MockState


def bound_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` (0: a free port), for uvicorn's ``sockets=``."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    return sock


class MockServer:
    """A running mock; ``url``, ``settings``, ``state``, ``clock``, ``reset()``."""

    def __init__(self, settings: MockSettings | None = None, **overrides: Any) -> None:
        base = settings.model_dump() if settings is not None else {}
        base.update(overrides)
        base["host"] = base.get("host") or "127.0.0.1"
        self._socket: socket.socket | None = None
        if not base.get("port"):
            self._socket = bound_socket(base["host"], 0)
            base["port"] = int(self._socket.getsockname()[1])
        # model_validate reads no environment: a test's server is what the test says.
        self.settings = MockSettings.model_validate(base)
        self.app: Any = create_app(self.settings)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def url(self) -> str:
        return f"http://{self.settings.host}:{self.settings.port}"

    @property
    def state(self) -> MockState:
        state: MockState = self.app.state
        return state

    @property
    def clock(self) -> Clock:
        return self.state.clock

    def advance(self, seconds: float) -> None:
        """Move a fixed clock forward (keep_alive expiry without sleeping)."""
        clock = self.clock
        if not isinstance(clock, FixedClock):
            raise TypeError("advance() needs clock='fixed'")
        clock.advance(seconds)

    # -- lifecycle ------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> MockServer:
        if self._socket is None or self._socket.fileno() == -1:
            self._socket = bound_socket(self.settings.host, self.settings.port)
        config = uvicorn.Config(
            self.app,
            host=self.settings.host,
            port=self.settings.port,
            log_level="warning",
            lifespan="on",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._run, name="mockserver", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"mock server failed to start on {self.url}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"mock server did not start within {timeout}s on {self.url}")
            time.sleep(0.01)
        return self

    def _run(self) -> None:
        assert self._server is not None and self._socket is not None
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._server.serve(sockets=[self._socket]))
        finally:
            loop.close()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = None

    def reset(self) -> None:
        """Catalogue restored, nothing loaded, queues and counters cleared."""
        loop = self._loop
        if loop is not None and loop.is_running():
            # The state belongs to the server's loop: reset it there, between requests.
            future = asyncio.run_coroutine_threadsafe(self._reset_async(), loop)
            future.result(timeout=10)
        else:
            self.state.reset()

    async def _reset_async(self) -> None:
        self.state.reset()

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> MockServer:
        await asyncio.to_thread(self.start)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)


__all__ = ["MockApp", "MockServer", "bound_socket"]
