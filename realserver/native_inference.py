"""``/api/generate``, ``/api/chat``, ``/api/embed`` and ``/api/embeddings``.

Each handler follows Ollama's order: decode and validate the body, resolve the
model (404, never another model), check capabilities (400), handle the empty
prompt (load / unload), build the prompt from the template, lease a slot, and
answer as NDJSON (default) or one JSON object (``"stream": false``).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ollama_harness.core.durations import DurationError, parse_keep_alive
from ollama_harness.core.errors import ApiError
from ollama_harness.core.protocol import checks, framing, native
from ollama_harness.core.protocol import messages as wording
from ollama_harness.core.protocol.metrics import Metrics
from realserver import options as opts
from realserver.catalog import ModelRecord
from realserver.engine import (
    ContextLengthError,
    GenerationResult,
    LlamaContext,
    normalize,
)
from realserver.generation import GenerationJob, Piece, framed, grammar_for
from realserver.gotemplate import Template, TemplateError
from realserver.http import (
    NDJSON,
    JSONResponse,
    StreamResponse,
    dumps,
    now_rfc3339,
    read_body,
    watch_disconnect,
)
from realserver.prompt import (
    Message,
    Tool,
    ToolCall,
    message_from_json,
    render_jinja,
    render_messages,
    render_suffix,
    tool_from_json,
)
from realserver.scheduler import Lease
from realserver.state import ServerState
from realserver.toolcalls import ToolCallParser, tool_call_prefix

# -- shared steps -----------------------------------------------------------------


def keep_alive_of(body: dict[str, Any]) -> float | str | None:
    """The request's keep_alive in seconds (None: forever), or "default"."""
    if "keep_alive" not in body or body["keep_alive"] is None:
        return "default"
    try:
        return parse_keep_alive(body["keep_alive"])
    except DurationError as exc:
        raise ApiError(400, str(exc)) from None


def require(record: ModelRecord, model: str, capability: str, what: str | None = None) -> None:
    if capability not in record.capabilities:
        raise ApiError(400, wording.does_not_support(model, what or capability))


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
) -> Callable[[LlamaContext], list[int]]:
    """The prompt builder run in the worker (it tokenizes with the slot's vocabulary)."""
    text = render_messages(template, messages, tools) if template is not None else ""

    def build(context: LlamaContext) -> list[int]:
        rendered = text
        if template is None and record.jinja_template is not None:
            vocab = context.llm
            rendered = render_jinja(
                record.jinja_template,
                messages,
                tools,
                bos_token=vocab.detokenize([vocab.token_bos()]).decode("utf-8", "replace"),
                eos_token=vocab.detokenize([vocab.token_eos()]).decode("utf-8", "replace"),
            )
        return context.tokenize(rendered)

    return build


async def acquire(
    state: ServerState, record: ModelRecord, load: opts.LoadOptions, keep_alive: Any
) -> Lease:
    try:
        return await state.scheduler.acquire(record, load, keep_alive)
    except ApiError:
        raise
    except (OSError, ValueError, RuntimeError) as exc:
        raise ApiError(500, wording.load_failed(exc)) from exc


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


async def answer_once(
    request: Request, job: GenerationJob
) -> tuple[Piece, GenerationResult] | None:
    """Collect a whole generation; None (and the job cancelled) if the client left."""
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
                raise ApiError(500, wording.runner_failed(exc)) from exc
        job.cancel()
        collect.cancel()
        return None
    finally:
        gone.cancel()


def error_line(exc: BaseException) -> bytes:
    return framing.error_line(wording.runner_failed(exc))


# -- /api/generate ------------------------------------------------------------------


async def generate(request: Request) -> Response:
    state: ServerState = request.app.state.server
    started = time.perf_counter_ns()
    body = await read_body(request, "generate", state.spec)
    model = body["model"]
    raw = bool(body.get("raw"))
    record = state.lookup(model, wording.model_not_found(model))
    prompt_text = body.get("prompt") or ""
    suffix = body.get("suffix") or ""
    keep_alive = keep_alive_of(body)
    # Ollama's order (the protocol core's): an unload comes before any capability check.
    unload = checks.unloads(not prompt_text, keep_alive)
    if not unload:
        checks.check_generate(model, body, record.capabilities)

    if unload or (not prompt_text and not suffix):
        reason = await load_or_unload(state, record, body, keep_alive)
        return JSONResponse(native.empty_answer(model, now_rfc3339(), reason, chat=False))

    grammar = grammar_for(body.get("format"))
    load, sampling = load_and_sampling(state, record, body)
    build = _generate_prompt(record, body, raw, prompt_text, suffix)
    lease = await acquire(state, record, load, keep_alive)
    logprobs = top_logprobs_of(body)
    job = GenerationJob(
        state.scheduler, lease, build, sampling, grammar=grammar, top_logprobs=logprobs
    )
    with_context = not raw

    def final(result: GenerationResult, text: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": model,
            "created_at": now_rfc3339(),
            "response": text,
            "done": True,
            "done_reason": result.done_reason,
        }
        if with_context:
            out["context"] = result.context
        out.update(metrics(started, lease, result))
        return out

    if body.get("stream") is False:
        answered = await answer_once(request, job)
        if answered is None:
            return Response(status_code=499)
        piece, result = answered
        out = final(result, piece.text)
        if logprobs is not None:
            out["logprobs"] = piece.logprobs
        return JSONResponse(out)

    async def lines() -> AsyncIterator[bytes]:
        async for item in job:
            if isinstance(item, GenerationResult):
                yield dumps(final(item, "")) + b"\n"
            else:
                line: dict[str, Any] = {
                    "model": model,
                    "created_at": now_rfc3339(),
                    "response": item.text,
                    "done": False,
                }
                if logprobs is not None:
                    line["logprobs"] = item.logprobs
                yield dumps(line) + b"\n"

    return StreamResponse(framed(lines(), error_line), NDJSON, on_close=job.cancel)  # type: ignore[return-value]


def _generate_prompt(
    record: ModelRecord, body: dict[str, Any], raw: bool, prompt: str, suffix: str
) -> Callable[[LlamaContext], list[int]]:
    context_tokens: list[int] = list(body.get("context") or [])
    if raw:
        return lambda ctx: [*context_tokens, *ctx.tokenize(prompt)]
    template: Template | None
    if body.get("template"):
        try:
            template = Template(body["template"])
        except TemplateError as exc:
            raise ApiError(400, f"template: {exc}") from None
    else:
        template = record.compiled_template()
    if suffix:
        if template is None:
            raise ApiError(400, wording.does_not_support(body["model"], "insert"))
        text = render_suffix(template, prompt, suffix)
        return lambda ctx: [*context_tokens, *ctx.tokenize(text)]
    messages: list[Message] = []
    system = body.get("system") or record.system
    if system:
        messages.append(Message("system", system))
    if not context_tokens:
        messages.extend(message_from_json(m) for m in record.messages)
    messages.append(Message("user", prompt, list(body.get("images") or [])))
    try:
        build = conversation_prompt(record, template, messages, None)
    except TemplateError as exc:
        raise ApiError(500, f"template: {exc}") from None
    if not context_tokens:
        return build
    # Continuing a conversation: the old tokens, then the new turn without BOS.
    text = render_messages(template, messages, None) if template is not None else prompt
    return lambda ctx: [*context_tokens, *ctx.tokenize(text, add_special=False)]


# -- /api/chat ----------------------------------------------------------------------


def _tool_call_json(call: ToolCall) -> dict[str, Any]:
    data = call.to_json()
    data["id"] = call.ID
    data["function"]["index"] = call.Function.Index
    return data


async def chat(request: Request) -> Response:
    state: ServerState = request.app.state.server
    started = time.perf_counter_ns()
    body = await read_body(request, "chat", state.spec)
    model = body["model"]
    record = state.lookup(model, wording.model_not_found(model))
    raw_messages: list[dict[str, Any]] = list(body.get("messages") or [])
    tools = [tool_from_json(t) for t in body.get("tools") or []]
    keep_alive = keep_alive_of(body)
    # Ollama's order (the protocol core's): an unload comes before any capability check.
    if not checks.unloads(not raw_messages, keep_alive):
        images = [image for m in raw_messages for image in m.get("images") or []]
        checks.check_chat(model, body, record.capabilities, think=body.get("think"), images=images)

    if not raw_messages:
        reason = await load_or_unload(state, record, body, keep_alive)
        return JSONResponse(native.empty_answer(model, now_rfc3339(), reason, chat=True))

    grammar = grammar_for(body.get("format"))
    load, sampling = load_and_sampling(state, record, body)
    messages = [message_from_json(m) for m in record.messages]
    messages += [message_from_json(m) for m in raw_messages]
    if raw_messages[0].get("role") != "system" and record.system:
        messages.insert(0, Message("system", record.system))
    try:
        build = conversation_prompt(record, record.compiled_template(), messages, tools)
    except TemplateError as exc:
        raise ApiError(500, f"template: {exc}") from None
    parser = (
        ToolCallParser(tool_call_prefix(record.template), {t.Function.Name for t in tools})
        if tools
        else None
    )
    lease = await acquire(state, record, load, keep_alive)
    logprobs = top_logprobs_of(body)
    job = GenerationJob(
        state.scheduler, lease, build, sampling, grammar=grammar, top_logprobs=logprobs
    )

    def final(result: GenerationResult, message: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "model": model,
            "created_at": now_rfc3339(),
            "message": message,
            "done": True,
            "done_reason": result.done_reason,
        }
        out.update(metrics(started, lease, result))
        return out

    def calls_json(found: list[ToolCall]) -> list[dict[str, Any]]:
        for call in found:
            call.ID = call.ID or f"call_{secrets.token_hex(4)}"
        return [_tool_call_json(call) for call in found]

    if body.get("stream") is False:
        answered = await answer_once(request, job)
        if answered is None:
            return Response(status_code=499)
        piece, result = answered
        message: dict[str, Any] = {"role": "assistant", "content": piece.text}
        if parser is not None:
            content, _found = parser.feed(piece.text)
            content += parser.flush()
            message["content"] = content
            if parser.calls:
                message["tool_calls"] = calls_json(parser.calls)
        out = final(result, message)
        if logprobs is not None:
            out["logprobs"] = piece.logprobs
        return JSONResponse(out)

    def line(message: dict[str, Any], entries: list[dict[str, Any]] | None = None) -> bytes:
        data = {"model": model, "created_at": now_rfc3339(), "message": message, "done": False}
        if logprobs is not None and entries is not None:
            data["logprobs"] = entries
        return dumps(data) + b"\n"

    async def lines() -> AsyncIterator[bytes]:
        async for item in job:
            if isinstance(item, GenerationResult):
                if parser is not None:
                    rest = parser.flush()
                    if rest:
                        yield line({"role": "assistant", "content": rest})
                empty = {"role": "assistant", "content": ""}
                yield dumps(final(item, empty)) + b"\n"
                return
            if parser is None:
                yield line({"role": "assistant", "content": item.text}, item.logprobs)
                continue
            content, found = parser.feed(item.text)
            if content:
                yield line({"role": "assistant", "content": content}, item.logprobs)
            if found:
                calls = calls_json(found)
                yield line({"role": "assistant", "content": "", "tool_calls": calls})

    return StreamResponse(framed(lines(), error_line), NDJSON, on_close=job.cancel)  # type: ignore[return-value]


# -- embeddings -------------------------------------------------------------------------


async def embed_texts(
    state: ServerState,
    record: ModelRecord,
    body: dict[str, Any],
    texts: list[str],
    *,
    truncate: bool,
    normalized: bool,
) -> tuple[list[list[float]], int, Lease]:
    """Vectors for ``texts`` on the model's embedding context; (vectors, tokens, lease)."""
    load, _ = load_and_sampling(state, record, body)
    lease = await acquire(state, record, load, keep_alive_of(body))
    try:
        embedder = await state.scheduler.embedder(lease)

        def work() -> tuple[list[list[float]], int]:
            vectors, count = [], 0
            with embedder.lock:
                for text in texts:
                    tokens = embedder.tokenize(text)
                    if len(tokens) > embedder.n_ctx:
                        if not truncate:
                            raise ContextLengthError(wording.CONTEXT_EXCEEDED)
                        tokens = tokens[: embedder.n_ctx]
                    if not tokens:
                        raise ContextLengthError("input is empty")
                    count += len(tokens)
                    vector = embedder.embed(tokens)
                    vectors.append(normalize(vector) if normalized else vector)
            return vectors, count

        loop = asyncio.get_running_loop()
        vectors, count = await loop.run_in_executor(embedder.executor, work)
    except ContextLengthError as exc:
        raise ApiError(400, str(exc)) from None
    finally:
        await state.scheduler.release(lease)
    return vectors, count, lease


async def embed(request: Request) -> Response:
    state: ServerState = request.app.state.server
    started = time.perf_counter_ns()
    body = await read_body(request, "embed", state.spec)
    model = body["model"]
    record = state.lookup(model, wording.model_not_found_pull(model))
    raw_input = body.get("input")
    texts = [raw_input] if isinstance(raw_input, str) else list(raw_input or [])
    if not all(isinstance(t, str) for t in texts):
        raise ApiError(400, wording.INVALID_INPUT_TYPE)
    texts = [t for t in texts if t != ""] if isinstance(raw_input, str) else texts
    if not texts:
        return JSONResponse({"model": model, "embeddings": []})
    vectors, count, lease = await embed_texts(
        state, record, body, texts, truncate=body.get("truncate") is not False, normalized=True
    )
    dimensions = body.get("dimensions")
    if isinstance(dimensions, int) and dimensions > 0:
        vectors = [normalize(v[:dimensions]) for v in vectors]
    out: dict[str, Any] = {"model": model, "embeddings": vectors}
    out["total_duration"] = time.perf_counter_ns() - started
    if lease.load_duration:
        out["load_duration"] = lease.load_duration
    out["prompt_eval_count"] = count
    return JSONResponse(out)


async def embeddings(request: Request) -> Response:
    state: ServerState = request.app.state.server
    body = await read_body(request, "embeddings", state.spec)
    model = body["model"]
    record = state.lookup(model, wording.model_not_found_pull(model))
    prompt = body.get("prompt") or ""
    if not prompt:
        await load_or_unload(state, record, body, keep_alive_of(body))
        return JSONResponse({"embedding": []})
    vectors, _, _ = await embed_texts(
        state, record, body, [prompt], truncate=True, normalized=False
    )
    return JSONResponse({"embedding": vectors[0]})
