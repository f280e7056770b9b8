"""The OpenAI-compatible routes: ``/v1/chat/completions``, ``/v1/completions``,
``/v1/embeddings``, ``/v1/models`` and ``/v1/models/{model}``.

Each request is translated to the native one (as Ollama's middleware does) and
run through the same inference service (:mod:`realserver.inference`: lookup,
slots, decode loop, cancellation, errors); only the framing differs. The
translation both ways (options, formats, chunks, finish reasons, usage, the error
envelope) is the protocol core's, shared with the mock.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ollama_harness.core.errors import ApiError, decode_body, request_error
from ollama_harness.core.names import ModelNameError, parse_model_name
from ollama_harness.core.protocol import checks, messages, openai
from ollama_harness.realserver.engine import GenerationResult
from ollama_harness.realserver.gotemplate import TemplateError
from ollama_harness.realserver.http import SSE, JSONResponse
from ollama_harness.realserver.inference import (
    answer_once,
    conversation_prompt,
    embed_texts,
    grammar_for,
    lookup,
    start,
    stream,
)
from ollama_harness.realserver.prompt import (
    Message,
    message_from_json,
    render_suffix,
    tool_from_json,
)
from ollama_harness.realserver.state import ServerState
from ollama_harness.realserver.toolcalls import ToolCallParser, tool_call_prefix


def _body(raw: bytes, operation_id: str, state: ServerState) -> dict[str, Any]:
    """Decode and validate; the middleware's words (from the core) when refused."""
    body = decode_body(raw, operation_id)
    error = request_error(operation_id, body, state.spec.validate_request(operation_id, body))
    if error is not None:
        raise error
    return dict(body)


def _usage(result: GenerationResult) -> dict[str, int]:
    return openai.usage(result.prompt_eval_count, result.eval_count)


def _sse_error(exc: Exception) -> bytes:
    return openai.stream_error(str(exc))


def _message(data: dict[str, Any]) -> Message:
    text, images = openai.content_parts(data.get("content"))
    converted: dict[str, Any] = {"role": data.get("role", ""), "content": text, "images": images}
    calls = []
    for call in data.get("tool_calls") or []:
        function = call.get("function") or {}
        calls.append(
            {"function": {"name": function.get("name"), "arguments": function.get("arguments")}}
        )
    if calls:
        converted["tool_calls"] = calls
    if data.get("name"):
        converted["tool_name"] = data["name"]
    return message_from_json(converted)


async def chat_completions(request: Request) -> Response:
    state: ServerState = request.app.state.server
    body = _body(await request.body(), "openaiChatCompletions", state)
    model = body["model"]
    record = await lookup(state, model, messages.model_not_found(model))
    tools = [tool_from_json(t) for t in body.get("tools") or []]
    sent = [_message(m) for m in body["messages"]]
    checks.check_chat(
        model,
        body,
        record.capabilities,
        think=openai.think_requested(openai.reasoning_effort(body)),
        images=[image for m in sent for image in m.Images],
        base64_images=False,
    )
    conversation = [message_from_json(m) for m in record.messages] + sent
    if body["messages"][0].get("role") != "system" and record.system:
        conversation.insert(0, Message("system", record.system))
    native = {"options": openai.options(body)}
    grammar = grammar_for(openai.response_format(body))
    try:
        build = conversation_prompt(record, record.compiled_template(), conversation, tools)
    except TemplateError as exc:
        raise ApiError(500, f"template: {exc}") from None
    parser = (
        ToolCallParser(tool_call_prefix(record.template), {t.Function.Name for t in tools})
        if tools
        else None
    )
    logprobs = int(body.get("top_logprobs") or 0) if body.get("logprobs") else None
    generation = await start(state, record, native, build, grammar=grammar, top_logprobs=logprobs)
    job = generation.job
    ident = f"chatcmpl-{secrets.randbelow(1000)}"
    created = int(time.time())

    def openai_calls(found: list[Any], start: int = 0) -> list[dict[str, Any]]:
        return [
            openai.tool_call(
                start + i,
                f"call_{secrets.token_hex(4)}",
                call.Function.Name,
                json.dumps(dict(call.Function.Arguments)),
            )
            for i, call in enumerate(found)
        ]

    if not body.get("stream"):
        answered = await answer_once(request, generation)
        if answered is None:
            return Response(status_code=499)
        piece, result = answered
        text = piece.text
        message: dict[str, Any] = {"role": "assistant", "content": text}
        calls: list[Any] = []
        if parser is not None:
            content, _ = parser.feed(text)
            message["content"] = content + parser.flush()
            calls = parser.calls
            if calls:
                message["tool_calls"] = openai_calls(calls)
        base = openai.envelope(openai.CHAT_COMPLETION, ident, created, model)
        finish = openai.finish_reason(result.done_reason, bool(calls))
        entries = piece.logprobs if logprobs is not None else None
        return JSONResponse(openai.chat_completion(base, message, finish, _usage(result), entries))

    include_usage = openai.include_usage(body)
    chunk_base = openai.envelope(openai.CHAT_CHUNK, ident, created, model)

    def chunk(delta: dict[str, Any], entries: list[Any] | None = None) -> bytes:
        shown = entries if logprobs is not None else None
        return openai.chat_chunk(chunk_base, delta, shown)

    async def events() -> AsyncIterator[bytes]:
        sent_calls = 0
        async for item in job:
            if isinstance(item, GenerationResult):
                if parser is not None and (rest := parser.flush()):
                    yield chunk({"role": "assistant", "content": rest})
                finish = openai.finish_reason(item.done_reason, sent_calls > 0)
                usage = _usage(item) if include_usage else None
                yield openai.stream_end(chunk_base, finish, usage, chat=True)
                return
            if parser is None:
                yield chunk({"role": "assistant", "content": item.text}, item.logprobs)
                continue
            content, found = parser.feed(item.text)
            if content:
                yield chunk({"role": "assistant", "content": content}, item.logprobs)
            if found:
                calls = openai_calls(found, sent_calls)
                sent_calls += len(found)
                yield chunk({"role": "assistant", "content": "", "tool_calls": calls})

    return stream(generation, events(), SSE, _sse_error)  # type: ignore[return-value]


async def completions(request: Request) -> Response:
    state: ServerState = request.app.state.server
    body = _body(await request.body(), "openaiCompletions", state)
    model = body["model"]
    record = await lookup(state, model, messages.model_not_found(model))
    prompt = body.get("prompt") or ""
    if isinstance(prompt, list):
        prompt = "".join(str(p) for p in prompt)
    suffix = body.get("suffix") or ""
    checks.check_generate(model, {"suffix": suffix}, record.capabilities)
    template = record.compiled_template()
    # Ollama's /v1/completions sends the prompt raw: no chat template (except for FIM).
    text = render_suffix(template, prompt, suffix) if suffix and template is not None else prompt

    def build(context: Any) -> list[int]:
        return list(context.tokenize(text))

    generation = await start(state, record, {"options": openai.options(body)}, build)
    job = generation.job
    ident = f"cmpl-{secrets.randbelow(1000)}"
    base = openai.envelope(openai.TEXT_COMPLETION, ident, int(time.time()), model)
    if not body.get("stream"):
        answered = await answer_once(request, generation)
        if answered is None:
            return Response(status_code=499)
        piece, result = answered
        finish = openai.finish_reason(result.done_reason)
        return JSONResponse(openai.text_completion(base, piece.text, finish, _usage(result)))
    include_usage = openai.include_usage(body)

    async def events() -> AsyncIterator[bytes]:
        async for item in job:
            if isinstance(item, GenerationResult):
                finish = openai.finish_reason(item.done_reason)
                usage = _usage(item) if include_usage else None
                yield openai.stream_end(base, finish, usage, chat=False)
                return
            yield openai.text_chunk(base, item.text)

    return stream(generation, events(), SSE, _sse_error)  # type: ignore[return-value]


async def embeddings(request: Request) -> Response:
    state: ServerState = request.app.state.server
    body = _body(await request.body(), "openaiEmbeddings", state)
    model = body["model"]
    record = await lookup(state, model, messages.model_not_found(model))
    raw_input = body.get("input")
    texts = [raw_input] if isinstance(raw_input, str) else list(raw_input or [])
    if not texts or not all(isinstance(t, str) and t for t in texts):
        raise ApiError(400, messages.INVALID_INPUT)
    vectors, count, _ = await embed_texts(state, record, {}, texts, truncate=True, normalized=True)
    dimensions = body.get("dimensions")
    if isinstance(dimensions, int) and dimensions > 0:
        from ollama_harness.realserver.engine import normalize

        vectors = [normalize(v[:dimensions]) for v in vectors]
    return JSONResponse(openai.embedding_list(model, vectors, count, body.get("encoding_format")))


def _openai_model(state: ServerState, stored: Any) -> dict[str, Any]:
    return openai.model_object(stored.name, int(stored.modified_at.timestamp()))


async def list_models(request: Request) -> Response:
    state: ServerState = request.app.state.server
    data = [_openai_model(state, stored) for stored in state.store.list_models()]
    return JSONResponse({"object": "list", "data": data or None})


async def retrieve_model(request: Request) -> Response:
    state: ServerState = request.app.state.server
    text = request.path_params["model"]
    try:
        name = parse_model_name(text)
    except ModelNameError:
        raise ApiError(400, messages.INVALID_MODEL_NAME) from None
    stored = state.store.get(name)
    if stored is None:
        raise ApiError(404, messages.model_not_found(text))
    return JSONResponse(_openai_model(state, stored))
