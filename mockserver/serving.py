"""Serve a planned completion: wait for a slot, play the plan out, stream or answer once.

A route (native or ``/v1``) hands :func:`serve` an :class:`Answer`: its content
type, the generator of its stream's lines, its whole answer and its error line.
The generator reads top to bottom as the stream does::

    async for batch in playback.batches():   # pieces, on the timing plan's schedule
        yield <those pieces' lines>
    yield <the final line, from playback.metrics()>

:class:`Playback` owns the schedule: the pauses, the fault, the batching of lines
produced back to back into one write, the release of the slot when generation
ends, and the metrics of what actually happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from ollama_harness.core.errors import ApiError
from ollama_harness.core.protocol.metrics import Metrics

from .exchange import Exchange
from .faults import MID_STREAM_MESSAGE, DroppedConnectionError, Fault
from .generation import Completion, Piece
from .http import JSON_TYPE, until_disconnect
from .scheduler import Lease
from .store import InstalledModel
from .timing import TimingPlan

# Lines produced back to back (no pause between them) go out in one write of up to
# this many; a pause, a fault or the end sends what is pending at once, so with a
# delay every line reaches the client the moment it is produced.
_BATCH = 32


class MidStreamError(Exception):
    """A fault that ends a started stream with an ``{"error"}`` line."""


@dataclass(frozen=True, slots=True)
class Answer:
    """How a route answers: its stream's lines, its whole answer, its error line."""

    content_type: bytes
    lines: Callable[[Playback], AsyncIterator[bytes]]
    whole: Callable[[Metrics], bytes]
    error: Callable[[str], bytes]


def num_ctx(model: InstalledModel, options: dict[str, Any]) -> int:
    requested = options.get("num_ctx")
    if isinstance(requested, int) and requested > 0:
        return requested
    return min(4096, model.entry.context_length)


class Playback:
    """A planned completion played out on a leased slot, with its timing and fault."""

    def __init__(
        self,
        exchange: Exchange,
        model: InstalledModel,
        lease: Lease,
        planned: Completion,
        plan: TimingPlan,
        *,
        waited: float = 0.0,
    ) -> None:
        self.exchange = exchange
        self.model = model
        self.lease = lease
        self.planned = planned
        self.delays = plan.delays(planned.count, planned.seed)
        self.loaded = self.first_at = self.last_at = time.perf_counter()
        # The plan's TTFT counts from the request's arrival plus the waits that come
        # on top of it (a slow-first-byte fault, the queue, a load), as a client's
        # clock does: the mock's own work before the first token (reading, validating,
        # planning, sending headers) takes tenths of a ms, more on a busy event loop,
        # that would otherwise be added to every TTFT the load tool is checked against.
        self.anchor = exchange.started + exchange.fault.slow_first_byte + waited
        self.on_end: Callable[[], None] = lambda: None  # frees the slot

    async def batches(self) -> AsyncIterator[list[Piece]]:
        """The pieces, in the batches that go out in one write each.

        Pauses are scheduled against running deadlines, not slept one after another:
        otherwise every late wake-up on a busy CPU adds to all the following tokens
        and the stream drifts from the plan the load tool is measured against. A
        fault raises (:class:`MidStreamError`, or DroppedConnectionError) once the
        pieces before it are out.
        """
        fault = self.exchange.fault
        faulty = fault.drop_after is not None or fault.error_after is not None
        stats = self.exchange.state.stats
        delays = self.delays
        batch: list[Piece] = []
        self.first_at = self.last_at = time.perf_counter()
        due = self.anchor
        for index, piece in enumerate(self.planned.pieces):
            if faulty and index in (fault.drop_after, fault.error_after):
                if batch:
                    yield batch
                    batch = []
                _check_fault(fault, index)
            stall = fault.stall if fault.stall and index == fault.stall_after else 0.0
            if stall or delays[index]:
                if batch:
                    yield batch
                    batch = []
                due += stall + delays[index]
                pause = due - time.perf_counter()
                if pause > 0:
                    await asyncio.sleep(pause)
            batch.append(piece)
            stats["tokens"] += 1
            self.last_at = time.perf_counter()
            if index == 0:
                self.first_at = self.last_at
            if len(batch) >= _BATCH:
                yield batch
                batch = []
        if batch:
            yield batch
        _check_fault(fault, self.planned.count, final=True)
        if not self.planned.count:
            self.first_at = self.last_at = time.perf_counter()
        # Generation is over: like Ollama's runner, the slot is free before the last
        # line is written.
        self.on_end()

    def skip(self) -> None:
        """Nothing to wait for and nobody watching the pieces: the non-streamed hot path."""
        self.exchange.state.stats["tokens"] += self.planned.count
        self.first_at = self.last_at = time.perf_counter()
        self.on_end()

    def metrics(self) -> Metrics:
        """What happened, or, on a fixed clock, what the plan and the model's speed say."""
        entry = self.model.entry
        planned = self.planned
        count = planned.count
        if self.exchange.state.clock.fixed:
            delays = self.delays
            load = int(entry.load_ms * 1e6) if self.lease.loaded_now else 0
            first = delays[0] if count and delays[0] else 0.0
            prompt = int((first or planned.prompt_tokens / entry.prompt_tokens_per_second) * 1e9)
            gaps = sum(delays[1:])
            evaluation = int((gaps if gaps else max(count - 1, 1) / entry.tokens_per_second) * 1e9)
            total = load + prompt + evaluation
        else:
            started = self.exchange.started
            load = max(0, int((self.loaded - started) * 1e9))
            prompt = max(1, int((self.first_at - self.loaded) * 1e9))
            evaluation = max(1, int((self.last_at - self.first_at) * 1e9))
            total = max(load + prompt + evaluation, int((time.perf_counter() - started) * 1e9))
        return Metrics(total, load, planned.prompt_tokens, prompt, count, evaluation)


def _check_fault(fault: Fault, index: int, *, final: bool = False) -> None:
    if fault.drop_after is not None and (
        index == fault.drop_after or (final and index < fault.drop_after)
    ):
        raise DroppedConnectionError(f"fault injected: drop-after={fault.drop_after}")
    if fault.error_after is not None and (
        index == fault.error_after or (final and index < fault.error_after)
    ):
        raise MidStreamError(fault.message or MID_STREAM_MESSAGE)


async def serve(
    exchange: Exchange,
    model: InstalledModel,
    planned: Completion,
    answer: Answer,
    *,
    stream: bool,
    keep_alive: float | None,
    options: dict[str, Any],
) -> None:
    state = exchange.state
    response = exchange.response
    fault = exchange.fault
    plan = exchange.timing(model)

    async def work() -> None:
        asked = time.perf_counter()
        lease = await state.scheduler.acquire(model, keep_alive, num_ctx(model, options))
        waited = time.perf_counter() - asked
        playback = Playback(exchange, model, lease, planned, plan, waited=waited)
        playback.on_end = lambda: state.scheduler.release(lease, keep_alive)
        state.stats["started"] += 1
        headers = [(b"x-mock-timing", plan.header_value())]
        try:
            if stream:
                await response.start(200, answer.content_type, headers)
                try:
                    async for data in answer.lines(playback):
                        if data:
                            await response.chunk(data)
                except MidStreamError as exc:
                    state.stats["errors"] += 1
                    await response.finish(answer.error(str(exc)))
                    return
                await response.finish()
            else:
                if plan.is_zero and fault.is_empty:
                    playback.skip()
                else:
                    try:
                        async for _batch in playback.batches():
                            pass
                    except MidStreamError as exc:
                        state.stats["errors"] += 1
                        raise ApiError(500, str(exc)) from None
                await response.full(200, answer.whole(playback.metrics()), JSON_TYPE, headers)
            state.stats["finished"] += 1
        finally:
            state.scheduler.release(lease, keep_alive)

    if stream or not plan.is_zero or fault.stall or fault.drop_after is not None:
        if not await until_disconnect(exchange.request.receive, work()):
            state.stats["cancelled"] += 1
    else:
        await work()  # nothing to wait for: skip the disconnect watcher (hot path)
