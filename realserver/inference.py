"""Reference inference as one service, whatever the route that asks for it.

It owns what every inference route needs and nothing of how they encode it: model
lookup (off the event loop: it reads the store and parses GGUF metadata), options,
slot acquisition, starting a generation on the model's decode loop, cancellation
when the client leaves, and the translation of failures into Ollama's errors (one
place: :func:`load_error` and :func:`run_error`). It yields text pieces and a
:class:`GenerationResult`; the native and ``/v1`` routes only turn those into
NDJSON lines, JSON objects or SSE chunks.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.requests import Request

from ollama_harness.core.durations import DurationError, parse_keep_alive
from ollama_harness.core.errors import ApiError
from ollama_harness.core.protocol import messages as wording
from ollama_harness.core.protocol.metrics import Metrics
from ollama_harness.realserver import options as opts
from ollama_harness.realserver.catalog import ModelRecord
from ollama_harness.realserver.engine import (
    ContextLengthError,
    GenerationCancelledError,
    GenerationResult,
    LoadedModel,
    normalize,
)
from ollama_harness.realserver.generation import GenerationJob, Piece, grammar_for
from ollama_harness.realserver.gotemplate import Template
from ollama_harness.realserver.http import StreamResponse, watch_disconnect
from ollama_harness.realserver.prompt import Message, Tool, render_jinja, render_messages
from ollama_harness.realserver.scheduler import Lease
from ollama_harness.realserver.state import ServerState

__all__ = [
    "Generation",
    "Piece",
    "answer_once",
    "conversation_prompt",
    "embed_texts",
    "grammar_for",
    "keep_alive_of",
    "load_and_sampling",
    "load_or_unload",
    "lookup",
    "metrics",
    "start",
    "stream",
    "top_logprobs_of",
]

# -- errors: the one place where failures become Ollama's answers ---------------------


def load_error(exc: Exception) -> ApiError:
    return ApiError(500, wording.load_failed(exc))


def run_error(exc: BaseException) -> ApiError:
    return ApiError(500, wording.runner_failed(exc))


# -- request checks and options ---------------------------------------------------------


async def lookup(state: ServerState, text: str, not_found: str) -> ModelRecord:
    """The model named ``text`` (400 bad name, 404 absent), resolved in a worker thread."""
    return await asyncio.to_thread(state.lookup, text, not_found)


def keep_alive_of(body: dict[str, Any]) -> float | str | None:
    """The request's keep_alive in seconds (None: forever), or "default"."""
    if "keep_alive" not in body or body["keep_alive"] is None:
        return "default"
    try:
        return parse_keep_alive(body["keep_alive"])
    except DurationError as exc:
        raise ApiError(400, str(exc)) from None


def load_and_sampling(
    state: ServerState, record: ModelRecord, body: dict[str, Any]
) -> tuple[opts.LoadOptions, opts.SamplingOptions]:
    merged = opts.merge(state.base_options(), record.parameters, body.get("options"))
    return opts.split(merged, record.gguf.context_length)


def top_logprobs_of(body: dict[str, Any]) -> int | None:
    """None unless the request asked for logprobs; else how many alternatives."""
    if not body.get("logprobs"):
        return None
    return int(body.get("top_logprobs") or 0)


def metrics(started: int, lease: Lease, result: GenerationResult) -> dict[str, int]:
    return Metrics(
        time.perf_counter_ns() - started,
        lease.load_duration,
        result.prompt_eval_count,
        result.prompt_eval_duration,
        result.eval_count,
        result.eval_duration,
    ).fields()


def conversation_prompt(
    record: ModelRecord,
    template: Template | None,
    messages: list[Message],
    tools: list[Tool] | None,
) -> Callable[[LoadedModel], list[int]]:
    """The prompt builder run in a worker (it tokenizes with the model's vocabulary)."""
    text = render_messages(template, messages, tools) if template is not None else ""

    def build(model: LoadedModel) -> list[int]:
        rendered = text
        if template is None and record.jinja_template is not None:
            rendered = render_jinja(
                record.jinja_template,
                messages,
                tools,
                bos_token=model.token_text("bos"),
                eos_token=model.token_text("eos"),
            )
        return model.tokenize(rendered)

    return build


# -- slots and generations ----------------------------------------------------------------


async def acquire(
    state: ServerState, record: ModelRecord, load: opts.LoadOptions, keep_alive: Any
) -> Lease:
    try:
        return await state.scheduler.acquire(record, load, keep_alive)
    except ApiError:
        raise
    except (OSError, ValueError, RuntimeError) as exc:
        raise load_error(exc) from exc


async def load_or_unload(
    state: ServerState, record: ModelRecord, body: dict[str, Any], keep_alive: Any
) -> str:
    """The empty-prompt case: "load", or "unload" with keep_alive 0."""
    if keep_alive == 0:
        await state.scheduler.unload(record)
        return "unload"
    load, _ = load_and_sampling(state, record, body)
    lease = await acquire(state, record, load, keep_alive)
    await state.scheduler.release(lease)
    return "load"


class Generation:
    """A started generation and the lease it runs under (for its metrics)."""

    def __init__(self, job: GenerationJob, lease: Lease) -> None:
        self.job = job
        self.lease = lease

    def cancel(self) -> None:
        self.job.cancel()


async def start(
    state: ServerState,
    record: ModelRecord,
    body: dict[str, Any],
    build: Callable[[LoadedModel], list[int]],
    *,
    keep_alive: Any = "default",
    grammar: Any = None,
    top_logprobs: int | None = None,
) -> Generation:
    """Lease a slot of ``record`` and start generating from the prompt ``build`` makes."""
    load, sampling = load_and_sampling(state, record, body)
    lease = await acquire(state, record, load, keep_alive)
    job = GenerationJob(
        state.scheduler, lease, build, sampling, grammar=grammar, top_logprobs=top_logprobs
    )
    return Generation(job, lease)


async def answer_once(
    request: Request, generation: Generation
) -> tuple[Piece, GenerationResult] | None:
    """Collect a whole generation; None (and the job cancelled) if the client left."""
    job = generation.job
    collect = asyncio.ensure_future(job.collect())
    gone = asyncio.ensure_future(watch_disconnect(request))
    try:
        done, _ = await asyncio.wait({collect, gone}, return_when=asyncio.FIRST_COMPLETED)
        if collect in done:
            try:
                return collect.result()
            except ApiError:
                raise
            except Exception as exc:
                raise run_error(exc) from exc
        job.cancel()
        collect.cancel()
        return None
    finally:
        gone.cancel()


async def _framed(
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
            raise run_error(exc) from exc
        yield error_chunk(exc)


def stream(
    generation: Generation,
    chunks: AsyncIterator[bytes],
    media_type: str,
    error_chunk: Callable[[Exception], bytes],
) -> StreamResponse:
    """The streamed answer: ``chunks`` framed, the generation stopped if the client leaves."""
    return StreamResponse(_framed(chunks, error_chunk), media_type, on_close=generation.cancel)


# -- embeddings ------------------------------------------------------------------------------


async def embed_texts(
    state: ServerState,
    record: ModelRecord,
    body: dict[str, Any],
    texts: list[str],
    *,
    truncate: bool,
    normalized: bool,
) -> tuple[list[list[float]], int, Lease]:
    """Vectors for ``texts`` (evaluated together where they fit); (vectors, tokens, lease)."""
    load, _ = load_and_sampling(state, record, body)
    lease = await acquire(state, record, load, keep_alive_of(body))
    try:
        model = lease.context

        def tokenize() -> list[list[int]]:
            sequences = []
            for text in texts:
                tokens = model.tokenize(text)
                if len(tokens) > model.embed_limit:
                    if not truncate:
                        raise ContextLengthError(wording.CONTEXT_EXCEEDED)
                    tokens = tokens[: model.embed_limit]
                if not tokens:
                    raise ContextLengthError("input is empty")
                sequences.append(tokens)
            return sequences

        sequences = await state.scheduler.in_thread(tokenize)
        vectors = await asyncio.wrap_future(model.embed(sequences))
    except ContextLengthError as exc:
        raise ApiError(400, str(exc)) from None
    except (ApiError, asyncio.CancelledError):
        raise
    except Exception as exc:
        raise run_error(exc) from exc
    finally:
        await state.scheduler.release(lease)
    if normalized:
        vectors = [normalize(v) for v in vectors]
    return vectors, sum(len(s) for s in sequences), lease
