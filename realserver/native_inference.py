"""``/api/generate``, ``/api/chat``, ``/api/embed`` and ``/api/embeddings``: the lines.

Each handler follows Ollama's order: decode and validate the body, resolve the
model (404, never another model), check capabilities (400), handle the empty
prompt (load / unload), build the prompt from the template, and start the
generation through :mod:`realserver.inference`, which owns slots, cancellation
and errors. What is left here is the encoding: NDJSON lines (default) or one JSON
object (``"stream": false``).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ollama_harness.core.errors import ApiError
from ollama_harness.core.protocol import checks, framing, native
from ollama_harness.core.protocol import messages as wording
from ollama_harness.realserver.catalog import ModelRecord
from ollama_harness.realserver.engine import GenerationResult, LoadedModel, normalize
from ollama_harness.realserver.gotemplate import Template, TemplateError
from ollama_harness.realserver.http import NDJSON, JSONResponse, dumps, now_rfc3339, read_body
from ollama_harness.realserver.inference import (
    answer_once,
    conversation_prompt,
    embed_texts,
    grammar_for,
    keep_alive_of,
    load_or_unload,
    lookup,
    metrics,
    run_error,
    start,
    stream,
    top_logprobs_of,
)
from ollama_harness.realserver.prompt import (
    Message,
    ToolCall,
    message_from_json,
    render_messages,
    render_suffix,
    tool_from_json,
)
from ollama_harness.realserver.state import ServerState
from ollama_harness.realserver.toolcalls import ToolCallParser, tool_call_prefix


def error_line(exc: Exception) -> bytes:
    return framing.error_line(run_error(exc).message)


# -- /api/generate ------------------------------------------------------------------


async def generate(request: Request) -> Response:
    state: ServerState = request.app.state.server
    started = time.perf_counter_ns()
    body = await read_body(request, "generate", state.spec)
    model = body["model"]
    raw = bool(body.get("raw"))
    record = await lookup(state, model, wording.model_not_found(model))
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
    build = _generate_prompt(record, body, raw, prompt_text, suffix)
    logprobs = top_logprobs_of(body)
    generation = await start(
        state, record, body, build, keep_alive=keep_alive, grammar=grammar, top_logprobs=logprobs
    )
    job, lease = generation.job, generation.lease
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
        answered = await answer_once(request, generation)
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

    return stream(generation, lines(), NDJSON, error_line)  # type: ignore[return-value]


def _generate_prompt(
    record: ModelRecord, body: dict[str, Any], raw: bool, prompt: str, suffix: str
) -> Callable[[LoadedModel], list[int]]:
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
    record = await lookup(state, model, wording.model_not_found(model))
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
    logprobs = top_logprobs_of(body)
    generation = await start(
        state, record, body, build, keep_alive=keep_alive, grammar=grammar, top_logprobs=logprobs
    )
    job, lease = generation.job, generation.lease

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
        answered = await answer_once(request, generation)
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

    return stream(generation, lines(), NDJSON, error_line)  # type: ignore[return-value]


# -- embeddings -------------------------------------------------------------------------


async def embed(request: Request) -> Response:
    state: ServerState = request.app.state.server
    started = time.perf_counter_ns()
    body = await read_body(request, "embed", state.spec)
    model = body["model"]
    record = await lookup(state, model, wording.model_not_found_pull(model))
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
    out["load_duration"] = lease.load_duration
    out["prompt_eval_count"] = count
    return JSONResponse(out)


async def embeddings(request: Request) -> Response:
    state: ServerState = request.app.state.server
    body = await read_body(request, "embeddings", state.spec)
    model = body["model"]
    record = await lookup(state, model, wording.model_not_found_pull(model))
    prompt = body.get("prompt") or ""
    if not prompt:
        await load_or_unload(state, record, body, keep_alive_of(body))
        return JSONResponse({"embedding": []})
    vectors, _, _ = await embed_texts(
        state, record, body, [prompt], truncate=True, normalized=False
    )
    return JSONResponse({"embedding": vectors[0]})
