"""Run one generation as a sequence of a model's decode loop; hand its text over.

The prompt is tokenized and the sampler chain built in a worker thread (never on
the event loop, never on the decode loop), then the request joins the model's
batch at its next step. The decode loop pushes each piece of text with
``call_soon_threadsafe``; the async iterator of :class:`GenerationJob` yields those
pieces and finally the :class:`GenerationResult`. Leaving the iterator early
(client gone, error) sets the cancel flag, which the decode loop checks before
every step; the slot is released once the sequence has left the batch.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from ollama_harness.core.errors import ApiError
from ollama_harness.realserver.decode_loop import GenerationRequest
from ollama_harness.realserver.engine import GenerationCancelledError, GenerationResult, LoadedModel
from ollama_harness.realserver.options import SamplingOptions
from ollama_harness.realserver.scheduler import Lease, Scheduler

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
    """A generation in a model's decode loop, started at construction.

    Iterate it for text pieces and, last, the :class:`GenerationResult`. Call
    :meth:`cancel` when the consumer goes away (iterating to the end or leaving the
    ``async for`` early does it too). The slot is released when the sequence ends.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        lease: Lease,
        prompt: Callable[[LoadedModel], list[int]],
        sampling: SamplingOptions,
        *,
        grammar: Any = None,
        top_logprobs: int | None = None,
    ) -> None:
        loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._cancelled = threading.Event()
        self._outcome: asyncio.Future[GenerationResult] = loop.create_future()
        queue, outcome = self._queue, self._outcome

        def emit(text: str, logprobs: list[dict[str, Any]]) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, Piece(text, logprobs))

        def settle(result: GenerationResult | BaseException) -> None:
            if outcome.done():
                return
            if isinstance(result, asyncio.CancelledError):
                outcome.cancel()
            elif isinstance(result, BaseException):
                outcome.set_exception(result)
            else:
                outcome.set_result(result)

        def finish(result: GenerationResult | BaseException) -> None:
            loop.call_soon_threadsafe(settle, result)

        model = lease.context

        def prepare_and_submit() -> None:
            # Submitted from this worker: a hop back through the event loop first
            # would add a thread wake-up to every request's time to first token.
            tokens = model.truncate_prompt(prompt(model), sampling.num_keep) or [model.bos()]
            request = GenerationRequest(
                prompt=tokens,
                sampling=sampling,
                sampler=model.sampler(sampling, grammar),
                emit=emit,
                finish=finish,
                cancelled=self._cancelled,
                top_logprobs=top_logprobs,
            )
            if self._cancelled.is_set():
                request.sampler.close()
                raise GenerationCancelledError()
            model.submit(request)

        async def run() -> None:
            try:
                await scheduler.in_thread(prepare_and_submit)
                await asyncio.shield(outcome)
            except BaseException as exc:
                settle(exc)
            finally:
                queue.put_nowait(_DONE)
                await scheduler.release(lease)

        self._task = loop.create_task(run())
        _background.add(self._task)
        self._task.add_done_callback(_background.discard)

    def cancel(self) -> None:
        self._cancelled.set()

    async def __aiter__(self) -> AsyncIterator[Piece | GenerationResult]:
        try:
            while True:
                item = await self._queue.get()
                if item is _DONE:
                    yield self._outcome.result()
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
