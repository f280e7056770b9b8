"""Run one generation on a leased slot and hand its text to the event loop.

The worker thread pushes each piece of text with ``call_soon_threadsafe``; the
async iterator returned by :func:`generate_stream` yields those pieces and finally
the :class:`GenerationResult`. Leaving the iterator early (client gone, error)
sets the cancel flag, which the token loop checks before every token; the slot is
released by the worker future's completion, i.e. only once the thread has stopped.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from ollama_harness.core.errors import ApiError
from ollama_harness.core.protocol import messages
from realserver.engine import GenerationCancelledError, GenerationResult, LlamaContext
from realserver.options import SamplingOptions
from realserver.scheduler import Lease, Scheduler

_DONE = object()


@dataclass(frozen=True, slots=True)
class Piece:
    """Text safe to send, with the log-probabilities of the tokens it came from."""

    text: str
    logprobs: list[dict[str, Any]]


_background: set[asyncio.Task[None]] = set()


def grammar_for(format_value: Any) -> Any:
    """A llama.cpp grammar for ``format``: "json", a JSON schema, or None."""
    if format_value in (None, "", "null"):
        return None
    from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

    if format_value == "json":
        return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
    if isinstance(format_value, dict):
        try:
            return LlamaGrammar.from_json_schema(json.dumps(format_value), verbose=False)
        except Exception as exc:  # the converter raises bare Exceptions and ValueErrors
            raise ApiError(400, f"invalid JSON schema in format: {exc}") from exc
    raise ApiError(400, f"invalid format: {json.dumps(format_value)}")


class GenerationJob:
    """A generation running in a worker thread, started at construction.

    Iterate it for text pieces and, last, the :class:`GenerationResult`. Call
    :meth:`cancel` when the consumer goes away (iterating to the end or leaving the
    ``async for`` early does it too). The slot is released when the thread ends.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        lease: Lease,
        prompt: Callable[[LlamaContext], list[int]],
        sampling: SamplingOptions,
        *,
        grammar: Any = None,
        top_logprobs: int | None = None,
    ) -> None:
        loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._cancelled = threading.Event()
        queue = self._queue

        def emit(text: str, logprobs: list[dict[str, Any]]) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, Piece(text, logprobs))

        def work() -> GenerationResult:
            # Tokenizing happens here too, so a long prompt never stalls the event loop.
            context = lease.context
            with context.lock:
                tokens = prompt(context)
                return context.generate(
                    tokens,
                    sampling,
                    emit,
                    self._cancelled,
                    grammar=grammar,
                    top_logprobs=top_logprobs,
                )

        self._future = loop.run_in_executor(lease.context.executor, work)

        def finished(_: asyncio.Future[GenerationResult]) -> None:
            queue.put_nowait(_DONE)
            task = loop.create_task(scheduler.release(lease))
            _background.add(task)
            task.add_done_callback(_background.discard)

        self._future.add_done_callback(finished)

    def cancel(self) -> None:
        self._cancelled.set()

    async def __aiter__(self) -> AsyncIterator[Piece | GenerationResult]:
        try:
            while True:
                item = await self._queue.get()
                if item is _DONE:
                    yield self._future.result()
                    return
                yield item
        finally:
            self._cancelled.set()

    async def collect(self) -> tuple[Piece, GenerationResult]:
        """The whole text (and logprobs) and the result, for non-streamed answers."""
        parts: list[str] = []
        logprobs: list[dict[str, Any]] = []
        async for item in self:
            if isinstance(item, GenerationResult):
                return Piece("".join(parts), logprobs), item
            parts.append(item.text)
            logprobs.extend(item.logprobs)
        raise RuntimeError("generation ended without a result")


async def framed(
    chunks: AsyncIterator[bytes], error_chunk: Callable[[Exception], bytes]
) -> AsyncIterator[bytes]:
    """Ollama's error framing for a stream.

    A failure before the first chunk becomes an HTTP 500 with an error body (the
    status line is not sent yet); after it, one in-band error chunk ends the stream.
    A cancelled generation (the client left) just ends it.
    """
    started = False
    try:
        async for chunk in chunks:
            started = True
            yield chunk
    except GenerationCancelledError:
        return
    except ApiError:
        raise
    except Exception as exc:
        if not started:
            raise ApiError(500, messages.runner_failed(exc)) from exc
        yield error_chunk(exc)
