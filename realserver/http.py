"""HTTP plumbing shared by the native and /v1 routes: bodies, JSON, streams.

Streams are written by :class:`StreamResponse`, which listens for the client's
``http.disconnect`` while it sends: Starlette's own streaming response stops
listening under ASGI 2.4 and would only notice a gone client at its next write,
which is too late when a generation is silent (held-back stop text, tool calls).
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

import anyio
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ollama_harness.core.errors import ApiError, decode_body, request_error
from ollama_harness.core.protocol import framing
from ollama_harness.core.spec import Spec

NDJSON = framing.NDJSON_TYPE
SSE = framing.SSE_TYPE


def now_rfc3339() -> str:
    """Ollama's created_at: UTC with nanosecond-style precision and a Z.

    Every streamed token carries one, so the date and time of day are formatted
    once a second (datetime.strftime per line made up a fifth of the event loop's
    work per token).
    """
    second, nanoseconds = divmod(time.time_ns(), 1_000_000_000)
    return f"{_utc_second(second)}.{nanoseconds // 1000:06d}Z"


@functools.lru_cache(maxsize=2)
def _utc_second(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def timestamp(moment: datetime) -> str:
    return moment.isoformat()


def dumps(data: Any) -> bytes:
    return orjson.dumps(data)


class JSONResponse(Response):
    media_type = "application/json; charset=utf-8"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def error_response(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status)


async def read_body(request: Request, operation_id: str, spec: Spec) -> dict[str, Any]:
    """Decode and validate a request body; ApiError with Ollama's words otherwise."""
    raw = await request.body()
    body = decode_body(raw, operation_id)
    error = request_error(operation_id, body, spec.validate_request(operation_id, body))
    if error is not None:
        raise error
    return dict(body)


class StreamResponse:
    """Send chunks as they come; cancel the producer as soon as the client leaves."""

    def __init__(
        self,
        chunks: AsyncIterator[bytes],
        media_type: str,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.chunks = chunks
        self.media_type = media_type
        self.status_code = 200
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", self.media_type.encode())]
        if self.media_type == SSE:
            headers += [(b"cache-control", b"no-cache"), (b"connection", b"keep-alive")]
        started = False
        failure: BaseException | None = None
        async with anyio.create_task_group() as group:

            async def produce() -> None:
                nonlocal started, failure
                try:
                    async for chunk in self.chunks:
                        if not started:
                            await send(
                                {
                                    "type": "http.response.start",
                                    "status": self.status_code,
                                    "headers": headers,
                                }
                            )
                            started = True
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    if not started:
                        await send(
                            {
                                "type": "http.response.start",
                                "status": self.status_code,
                                "headers": headers,
                            }
                        )
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                except OSError:
                    pass  # the client went away mid-write
                except Exception as exc:
                    if started:
                        raise
                    failure = exc  # nothing sent yet: answer with a status instead
                finally:
                    group.cancel_scope.cancel()

            async def listen() -> None:
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        group.cancel_scope.cancel()
                        return

            group.start_soon(produce)
            group.start_soon(listen)
        if self.on_close is not None:
            self.on_close()  # the producer may never have started: stop its work anyway
        aclose = getattr(self.chunks, "aclose", None)
        if aclose is not None:
            await aclose()
        if failure is not None:
            raise failure  # the app's exception handlers answer it (e.g. ApiError -> 500)


async def watch_disconnect(request: Request) -> None:
    """Return when the client disconnects (for non-streamed answers)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return
