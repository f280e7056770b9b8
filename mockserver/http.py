"""The few ASGI primitives the mock needs, kept lean for the hot path.

The mock is a plain ASGI callable rather than a framework app: one dict lookup
routes a request, bodies are parsed once with orjson, and a streamed response is
a series of ``http.response.body`` messages, one per token, so each line reaches
the client as soon as it is produced.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine, Iterable, MutableMapping
from typing import Any

import orjson

from ollama_harness.core.protocol import framing

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_TYPE = framing.JSON_TYPE.encode()
NDJSON_TYPE = framing.NDJSON_TYPE.encode()
SSE_TYPE = framing.SSE_TYPE.encode()
TEXT_TYPE = framing.TEXT_TYPE.encode()


class Request:
    """What a handler needs of one HTTP request."""

    __slots__ = ("_body", "headers", "method", "path", "query", "receive", "scope")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self.receive = receive
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.query: bytes = scope.get("query_string", b"")
        self.headers: dict[str, str] = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]
        }
        self._body: bytes | None = None

    async def body(self) -> bytes:
        if self._body is None:
            chunks = []
            more = True
            while more:
                message = await self.receive()
                if message["type"] == "http.disconnect":
                    raise ClientGoneError
                chunks.append(message.get("body", b""))
                more = message.get("more_body", False)
            self._body = b"".join(chunks)
        return self._body


class ClientGoneError(Exception):
    """The client closed the connection; nothing more can be sent."""


class Response:
    """Tracks whether the status line went out, so errors pick body vs. final line."""

    __slots__ = ("send", "started", "status")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False
        self.status = 0

    async def start(
        self, status: int, content_type: bytes | None, headers: Iterable[tuple[bytes, bytes]] = ()
    ) -> None:
        raw = [(b"content-type", content_type)] if content_type else []
        raw.extend(headers)
        self.started = True
        self.status = status
        await self.send({"type": "http.response.start", "status": status, "headers": raw})

    async def chunk(self, data: bytes) -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": True})

    async def finish(self, data: bytes = b"") -> None:
        await self.send({"type": "http.response.body", "body": data, "more_body": False})

    async def full(
        self,
        status: int,
        body: bytes,
        content_type: bytes | None = JSON_TYPE,
        headers: Iterable[tuple[bytes, bytes]] = (),
    ) -> None:
        extra = [(b"content-length", str(len(body)).encode()), *headers]
        await self.start(status, content_type, extra)
        await self.finish(body)

    async def json(
        self, status: int, obj: Any, headers: Iterable[tuple[bytes, bytes]] = ()
    ) -> None:
        await self.full(status, orjson.dumps(obj), JSON_TYPE, headers)


async def _wait_disconnect(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return


async def until_disconnect(receive: Receive, work: Coroutine[Any, Any, None]) -> bool:
    """Run ``work``; cancel it if the client goes away first. True when it completed."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_wait_disconnect(receive))
    try:
        done, _ = await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        watcher.cancel()
        raise
    if task in done:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        task.result()  # re-raise what the work raised
        return True
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, ClientGoneError, OSError):
        await task
    return False
