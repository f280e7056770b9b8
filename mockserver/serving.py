"""Serve a planned completion: wait for a slot, then stream or answer once.

Shared by the native routes (NDJSON lines) and the ``/v1`` routes (SSE events):
they differ only in how a piece, the end of a stream and a whole answer are
encoded, which the caller passes in as an :class:`Encoding`.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ollama_harness.core.errors import ApiError

from . import generation
from .exchange import Exchange
from .generation import Completion, Metrics, MidStreamError, Piece
from .http import JSON_TYPE, until_disconnect
from .store import InstalledModel

_BATCH = 32


@dataclass
class Encoding:
    content_type: bytes
    piece: Callable[[Piece], bytes | None]  # None: send nothing for this piece
    end: Callable[[Metrics], bytes]  # last bytes of a stream
    whole: Callable[[Metrics], bytes]  # the non-streamed answer
    error: Callable[[str], bytes]  # last line of a stream that failed
    head: Callable[[], bytes] | None = None  # bytes before the first piece (SSE role chunk)


def num_ctx(model: InstalledModel, options: dict[str, Any]) -> int:
    requested = options.get("num_ctx")
    if isinstance(requested, int) and requested > 0:
        return requested
    return min(4096, model.entry.context_length)


async def serve(
    exchange: Exchange,
    model: InstalledModel,
    *,
    stream: bool,
    keep_alive: float | None,
    options: dict[str, Any],
    planned: Completion,
    encoding: Encoding,
) -> None:
    state = exchange.state
    response = exchange.response
    plan = exchange.timing(model)
    fault = exchange.fault
    entry = model.entry

    # Lines produced back to back (no delay between them) go out in one write of up
    # to _BATCH lines; before any pause, fault or the end, pending lines are flushed,
    # so with a delay every line reaches the client the moment it is produced.
    pending: list[bytes] = []

    async def flush() -> None:
        if pending:
            data = b"".join(pending)
            pending.clear()
            await response.chunk(data)

    async def work() -> None:
        lease = await state.scheduler.acquire(model, keep_alive, num_ctx(model, options))
        loaded = time.perf_counter()
        state.stats["started"] += 1
        headers = [(b"x-mock-timing", plan.header_value())]
        try:
            emit: Callable[[Piece], Awaitable[None]] | None
            if stream:
                await response.start(200, encoding.content_type, headers)
                if encoding.head is not None:
                    await response.chunk(encoding.head())

                async def emit(piece: Piece) -> None:
                    data = encoding.piece(piece)
                    if data is not None:
                        pending.append(data)
                        if len(pending) >= _BATCH:
                            await flush()
                    state.stats["tokens"] += 1

            elif plan.is_zero and fault.is_empty:
                emit = None  # an answer sent whole, with nothing to wait for: skip the loop
                state.stats["tokens"] += planned.count
            else:

                async def emit(piece: Piece) -> None:
                    state.stats["tokens"] += 1

            try:
                metrics = await generation.play(
                    planned,
                    plan,
                    fault,
                    emit,
                    flush=flush if stream else None,
                    fixed_clock=state.clock.fixed,
                    started=exchange.started,
                    loaded=loaded,
                    loaded_now=lease.loaded_now,
                    tokens_per_second=entry.tokens_per_second,
                    prompt_tokens_per_second=entry.prompt_tokens_per_second,
                    load_seconds=entry.load_ms / 1000.0,
                )
            except MidStreamError as exc:
                state.stats["errors"] += 1
                if stream:
                    await response.finish(encoding.error(str(exc)))
                    return
                raise ApiError(500, str(exc)) from None
            # Generation is over: like Ollama's runner, the slot is free before the
            # last bytes are written.
            state.scheduler.release(lease, keep_alive)
            if stream:
                await response.finish(encoding.end(metrics))
            else:
                await response.full(200, encoding.whole(metrics), JSON_TYPE, headers)
            state.stats["finished"] += 1
        finally:
            state.scheduler.release(lease, keep_alive)

    if stream or not plan.is_zero or fault.stall or fault.drop_after is not None:
        if not await until_disconnect(exchange.request.receive, work()):
            state.stats["cancelled"] += 1
    else:
        await work()  # nothing to wait for: skip the disconnect watcher (hot path)
