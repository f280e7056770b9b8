"""The OpenAI-compatible routes: ``/v1/chat/completions``, ``/v1/completions``,
``/v1/embeddings``, ``/v1/models`` and ``/v1/models/{model}``.

Each request is translated to the native one (as Ollama's middleware does) and
run through the same inference service (:mod:`realserver.inference`: lookup,
slots, decode loop, cancellation, errors); only the framing differs: SSE ``data:``
chunks ending with ``data: [DONE]`` and OpenAI's error envelope.
"""

from __future__ import annotations

import base64
import json
import secrets
import struct
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ollama_harness.core.errors import ApiError, decode_body
from ollama_harness.core.names import ModelNameError, parse_model_name
from realserver.engine import GenerationResult
from realserver.gotemplate import TemplateError
from realserver.http import SSE, JSONResponse, dumps
from realserver.inference import (
    answer_once,
    conversation_prompt,
    embed_texts,
    grammar_for,
    lookup,
    require,
    start,
    stream,
)
from realserver.prompt import Message, message_from_json, render_suffix, tool_from_json
from realserver.state import ServerState
from realserver.toolcalls import ToolCallParser, tool_call_prefix

FINGERPRINT = "fp_ollama"


def _body(raw: bytes, operation_id: str, state: ServerState) -> dict[str, Any]:
    try:
        body = decode_body(raw, operation_id)
    except ApiError as exc:
        raise ApiError(400, exc.message) from None
    issues = state.spec.validate_request(operation_id, body)
    if issues:
        issue = issues[0]
        field = issue.path.removeprefix("$.").split(".")[0].split("[")[0]
        if field == "model" and issue.rule in ("pattern", "maxLength", "minLength"):
            raise ApiError(400, "invalid model name")
        if field == "stop":
            raise ApiError(400, f"invalid type for 'stop' field: {_go_type(body.get('stop'))}")
        if field == "messages" and issue.rule == "minItems":
            raise ApiError(400, "[] is too short - 'messages'")
        if field == "encoding_format":
            raise ApiError(
                400,
                f"Invalid value for 'encoding_format' = {body.get('encoding_format')}. "
                "Supported values: ['float', 'base64'].",
            )
        if field == "input":
            raise ApiError(400, "invalid input")
        raise ApiError(400, f"{issue.path}: {issue.message}")
    return dict(body)


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "float64"
    if isinstance(value, dict):
        return "map[string]interface {}"
    return type(value).__name__


def _options(body: dict[str, Any]) -> dict[str, Any]:
    """OpenAI sampling fields as Ollama options (Ollama's middleware mapping)."""
    options: dict[str, Any] = {}
    if body.get("max_tokens") is not None:
        options["num_predict"] = body["max_tokens"]
    if body.get("max_completion_tokens") is not None:
        options["num_predict"] = body["max_completion_tokens"]
    for source, target in (
        ("temperature", "temperature"),
        ("top_p", "top_p"),
        ("seed", "seed"),
        ("frequency_penalty", "frequency_penalty"),
        ("presence_penalty", "presence_penalty"),
    ):
        if body.get(source) is not None:
            options[target] = body[source]
    stop = body.get("stop")
    if isinstance(stop, str):
        options["stop"] = [stop]
    elif isinstance(stop, list):
        options["stop"] = stop
    return options


def _finish(reason: str, tool_calls: bool = False) -> str:
    if tool_calls:
        return "tool_calls"
    return "length" if reason == "length" else "stop"


def _usage(result: GenerationResult) -> dict[str, int]:
    return {
        "prompt_tokens": result.prompt_eval_count,
        "completion_tokens": result.eval_count,
        "total_tokens": result.prompt_eval_count + result.eval_count,
    }


def _sse(data: Any) -> bytes:
    return b"data: " + dumps(data) + b"\n\n"


def _sse_error(exc: Exception) -> bytes:
    return _sse({"error": {"message": str(exc), "type": "api_error", "param": None, "code": None}})


def _content_text(content: Any) -> tuple[str, list[str]]:
    """A message's text and images (content may be a list of parts)."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    texts, images = [], []
    for part in content:
        if part.get("type") == "text":
            texts.append(str(part.get("text", "")))
        elif part.get("type") == "image_url":
            image = part.get("image_url")
            url = str(image.get("url", "") if isinstance(image, dict) else image or "")
            images.append(url.split(",", 1)[1] if url.startswith("data:") else url)
    return "\n".join(texts), images


def _message(data: dict[str, Any]) -> Message:
    text, images = _content_text(data.get("content"))
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


def _format(body: dict[str, Any]) -> Any:
    response_format = body.get("response_format") or {}
    kind = response_format.get("type")
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        return (response_format.get("json_schema") or {}).get("schema") or "json"
    return None


async def chat_completions(request: Request) -> Response:
    state: ServerState = request.app.state.server
    body = _body(await request.body(), "openaiChatCompletions", state)
    model = body["model"]
    record = await lookup(state, model, f"model '{model}' not found")
    require(record, model, "completion", "chat")
    tools = [tool_from_json(t) for t in body.get("tools") or []]
    if tools:
        require(record, model, "tools")
    messages = [message_from_json(m) for m in record.messages]
    messages += [_message(m) for m in body["messages"]]
    if any(m.Images for m in messages):
        require(record, model, "vision")
    if body["messages"][0].get("role") != "system" and record.system:
        messages.insert(0, Message("system", record.system))
    native = {"options": _options(body)}
    grammar = grammar_for(_format(body))
    try:
        build = conversation_prompt(record, record.compiled_template(), messages, tools)
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
    base = {"id": ident, "object": "chat.completion", "created": created, "model": model}
    base["system_fingerprint"] = FINGERPRINT

    def openai_calls(found: list[Any], start: int = 0) -> list[dict[str, Any]]:
        return [
            {
                "id": f"call_{secrets.token_hex(4)}",
                "index": start + i,
                "type": "function",
                "function": {
                    "name": call.Function.Name,
                    "arguments": json.dumps(dict(call.Function.Arguments)),
                },
            }
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
        choice = {
            "index": 0,
            "message": message,
            "finish_reason": _finish(result.done_reason, bool(calls)),
        }
        if logprobs is not None:
            choice["logprobs"] = {"content": piece.logprobs}
        return JSONResponse({**base, "choices": [choice], "usage": _usage(result)})

    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    chunk_base = {**base, "object": "chat.completion.chunk"}

    def chunk(
        delta: dict[str, Any], finish: str | None = None, entries: list[Any] | None = None
    ) -> bytes:
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": finish}
        if logprobs is not None and entries is not None:
            choice["logprobs"] = {"content": entries}
        return _sse({**chunk_base, "choices": [choice]})

    async def events() -> AsyncIterator[bytes]:
        sent_calls = 0
        async for item in job:
            if isinstance(item, GenerationResult):
                if parser is not None and (rest := parser.flush()):
                    yield chunk({"role": "assistant", "content": rest})
                yield chunk({}, _finish(item.done_reason, sent_calls > 0))
                if include_usage:
                    yield _sse({**chunk_base, "choices": [], "usage": _usage(item)})
                yield b"data: [DONE]\n\n"
                return
            if parser is None:
                yield chunk({"role": "assistant", "content": item.text}, None, item.logprobs)
                continue
            content, found = parser.feed(item.text)
            if content:
                yield chunk({"role": "assistant", "content": content}, None, item.logprobs)
            if found:
                calls = openai_calls(found, sent_calls)
                sent_calls += len(found)
                yield chunk({"role": "assistant", "content": "", "tool_calls": calls})

    return stream(generation, events(), SSE, _sse_error)  # type: ignore[return-value]


async def completions(request: Request) -> Response:
    state: ServerState = request.app.state.server
    body = _body(await request.body(), "openaiCompletions", state)
    model = body["model"]
    record = await lookup(state, model, f"model '{model}' not found")
    require(record, model, "completion", "generate")
    prompt = body.get("prompt") or ""
    if isinstance(prompt, list):
        prompt = "".join(str(p) for p in prompt)
    suffix = body.get("suffix") or ""
    if suffix:
        require(record, model, "insert")
    template = record.compiled_template()
    # Ollama's /v1/completions sends the prompt raw: no chat template (except for FIM).
    text = render_suffix(template, prompt, suffix) if suffix and template is not None else prompt

    def build(context: Any) -> list[int]:
        return list(context.tokenize(text))

    generation = await start(state, record, {"options": _options(body)}, build)
    job = generation.job
    base = {
        "id": f"cmpl-{secrets.randbelow(1000)}",
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": FINGERPRINT,
    }
    if not body.get("stream"):
        answered = await answer_once(request, generation)
        if answered is None:
            return Response(status_code=499)
        piece, result = answered
        choice = {"text": piece.text, "index": 0, "finish_reason": _finish(result.done_reason)}
        return JSONResponse({**base, "choices": [choice], "usage": _usage(result)})
    include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

    async def events() -> AsyncIterator[bytes]:
        async for item in job:
            if isinstance(item, GenerationResult):
                finish = _finish(item.done_reason)
                yield _sse({**base, "choices": [{"text": "", "index": 0, "finish_reason": finish}]})
                if include_usage:
                    yield _sse({**base, "choices": [], "usage": _usage(item)})
                yield b"data: [DONE]\n\n"
                return
            choice = {"text": item.text, "index": 0, "finish_reason": None}
            yield _sse({**base, "choices": [choice]})

    return stream(generation, events(), SSE, _sse_error)  # type: ignore[return-value]


async def embeddings(request: Request) -> Response:
    state: ServerState = request.app.state.server
    body = _body(await request.body(), "openaiEmbeddings", state)
    model = body["model"]
    record = await lookup(state, model, f"model '{model}' not found")
    raw_input = body.get("input")
    texts = [raw_input] if isinstance(raw_input, str) else list(raw_input or [])
    if not texts or not all(isinstance(t, str) and t for t in texts):
        raise ApiError(400, "invalid input")
    vectors, count, _ = await embed_texts(state, record, {}, texts, truncate=True, normalized=True)
    dimensions = body.get("dimensions")
    if isinstance(dimensions, int) and dimensions > 0:
        from realserver.engine import normalize

        vectors = [normalize(v[:dimensions]) for v in vectors]
    base64_format = body.get("encoding_format") == "base64"
    data = []
    for index, vector in enumerate(vectors):
        value: Any = vector
        if base64_format:
            value = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "embedding": value, "index": index})
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": count, "total_tokens": count},
        }
    )


def _openai_model(state: ServerState, stored: Any) -> dict[str, Any]:
    name = stored.name
    owner = name.namespace if name.host == "registry.ollama.ai" else name.host
    return {
        "id": name.display,
        "object": "model",
        "created": int(stored.modified_at.timestamp()),
        "owned_by": owner,
    }


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
        raise ApiError(400, "invalid model name") from None
    stored = state.store.get(name)
    if stored is None:
        raise ApiError(404, f"model '{text}' not found")
    return JSONResponse(_openai_model(state, stored))
