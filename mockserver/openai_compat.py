"""The OpenAI-compatible routes: chat/completions, completions, embeddings, models.

Requests are translated to the same plans as the native routes (the same
conversation gives the same text on ``/api/chat`` and ``/v1/chat/completions``);
answers use OpenAI's objects and Server-Sent Events, errors its envelope.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson

from ollama_harness.core.errors import ApiError

from . import generation, textgen
from .exchange import Exchange
from .generation import Metrics, Piece
from .http import SSE_TYPE
from .serving import Encoding, serve
from .store import InstalledModel

FINGERPRINT = "fp_ollama"


def _sse(obj: Any) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _created(exchange: Exchange) -> int:
    return int(exchange.state.clock.now().timestamp())


def _model(exchange: Exchange, name: Any) -> InstalledModel:
    if not isinstance(name, str) or not name:
        raise ApiError(400, "model is required")
    return exchange.state.require(name, f"model '{name}' not found")


def _options(body: dict[str, Any]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if body.get("seed") is not None:
        options["seed"] = body["seed"]
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if limit is not None:
        options["num_predict"] = limit
    stop = body.get("stop")
    if stop is not None:
        options["stop"] = [stop] if isinstance(stop, str) else stop
    if body.get("temperature") is not None:
        options["temperature"] = body["temperature"]
    return options


def _format(body: dict[str, Any]) -> Any:
    response_format = body.get("response_format") or {}
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        return schema if isinstance(schema, dict) else "json"
    return None


def _text_of(content: Any) -> tuple[str, int]:
    """Message content as text, and how many images it carries."""
    if isinstance(content, str):
        return content, 0
    if isinstance(content, list):
        texts, images = [], 0
        for part in content:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "text":
                texts.append(str(part.get("text", "")))
            elif part.get("type") == "image_url":
                images += 1
        return "\n".join(texts), images
    return "", 0


def _openai_tool_calls(piece: Piece, seed: int) -> list[dict[str, Any]]:
    calls = []
    for index, call in enumerate(piece.calls or []):
        function = call["function"]
        calls.append(
            {
                "id": f"call_{seed + index:016x}"[:21],
                "index": index,
                "type": "function",
                "function": {
                    "name": function["name"],
                    "arguments": orjson.dumps(function["arguments"]).decode(),
                },
            }
        )
    return calls


def _finish(completion: generation.Completion) -> str:
    if completion.tool_calls():
        return "tool_calls"
    return "length" if completion.done_reason == "length" else "stop"


def _usage(metrics: Metrics) -> dict[str, int]:
    return {
        "prompt_tokens": metrics.prompt_eval_count,
        "completion_tokens": metrics.eval_count,
        "total_tokens": metrics.prompt_eval_count + metrics.eval_count,
    }


def _include_usage(body: dict[str, Any]) -> bool:
    options = body.get("stream_options")
    return isinstance(options, dict) and bool(options.get("include_usage"))


async def chat_completions(exchange: Exchange) -> None:
    state = exchange.state
    raw = await exchange.request.body()
    body = state.decode(raw, "openaiChatCompletions")
    if body.get("messages") == []:  # Ollama's middleware words this one itself
        raise ApiError(400, "[] is too short - 'messages'")
    state.validate("openaiChatCompletions", body)
    name = body.get("model")
    model = _model(exchange, name)
    messages = body.get("messages") or []
    await exchange.preflight(name)
    caps = model.entry.capabilities
    if "completion" not in caps:
        raise ApiError(400, f'"{name}" does not support chat')
    tools = body.get("tools") or []
    if tools and "tools" not in caps:
        raise ApiError(400, f'"{name}" does not support tools')
    lines, images = [], 0
    for message in messages:
        text, count = _text_of(message.get("content"))
        images += count
        lines.append(f"{message.get('role', '')}: {text}" + (f" [{count} images]" if count else ""))
    if images and "vision" not in caps:
        raise ApiError(400, f'"{name}" does not support vision')
    effort = body.get("reasoning_effort") or (body.get("reasoning") or {}).get("effort")
    if "thinking" in caps:
        think: bool | str = effort if effort in ("low", "medium", "high") else effort != "none"
    elif effort and effort != "none":
        raise ApiError(400, f'"{name}" does not support thinking')
    else:
        think = False
    conversation = [f"{m.get('role')}: {m.get('content')}" for m in model.entry.messages]
    if model.entry.system and not any(m.get("role") == "system" for m in messages):
        conversation.insert(0, f"system: {model.entry.system}")
    options = _options(body)
    planned = generation.plan(
        generation.Request(
            model,
            "\n".join(conversation + lines),
            options,
            _format(body),
            think,
            tools,
            answer_tools=messages[-1].get("role") != "tool",
        )
    )
    ident = f"chatcmpl-{planned.seed % 1000}"
    created = _created(exchange)

    def chunk(delta: dict[str, Any], finish: str | None) -> dict[str, Any]:
        return {
            "id": ident,
            "object": "chat.completion.chunk",
            "created": created,
            "model": name,
            "system_fingerprint": FINGERPRINT,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }

    def piece(p: Piece) -> bytes:
        delta: dict[str, Any] = {"role": "assistant", "content": ""}
        if p.kind == "thinking":
            delta["reasoning"] = p.text
        elif p.kind == "tool_calls":
            delta["tool_calls"] = _openai_tool_calls(p, planned.seed)
        else:
            delta["content"] = p.text
        return _sse(chunk(delta, None))

    def end(metrics: Metrics) -> bytes:
        out = _sse(chunk({"role": "assistant", "content": ""}, _finish(planned)))
        if _include_usage(body):
            usage_chunk = chunk({}, None)
            usage_chunk["choices"] = []
            usage_chunk["usage"] = _usage(metrics)
            out += _sse(usage_chunk)
        return out + b"data: [DONE]\n\n"

    def whole(metrics: Metrics) -> bytes:
        message: dict[str, Any] = {"role": "assistant", "content": planned.text()}
        if planned.text("thinking"):
            message["reasoning"] = planned.text("thinking")
        calls = [c for p in planned.pieces if p.calls for c in _openai_tool_calls(p, planned.seed)]
        if calls:
            message["tool_calls"] = calls
        return orjson.dumps(
            {
                "id": ident,
                "object": "chat.completion",
                "created": created,
                "model": name,
                "system_fingerprint": FINGERPRINT,
                "choices": [{"index": 0, "message": message, "finish_reason": _finish(planned)}],
                "usage": _usage(metrics),
            }
        )

    await serve(
        exchange,
        model,
        stream=bool(body.get("stream")),
        keep_alive=state.default_keep_alive,
        options=options,
        planned=planned,
        encoding=Encoding(SSE_TYPE, piece, end, whole, _sse_error),
    )


def _sse_error(message: str) -> bytes:
    return _sse({"error": {"message": message, "type": "api_error", "param": None, "code": None}})


async def completions(exchange: Exchange) -> None:
    state = exchange.state
    body = state.parse(await exchange.request.body(), "openaiCompletions")
    name = body.get("model")
    model = _model(exchange, name)
    await exchange.preflight(name)
    caps = model.entry.capabilities
    if "completion" not in caps:
        raise ApiError(400, f'"{name}" does not support generate')
    if body.get("suffix") and "insert" not in caps:
        raise ApiError(400, f'"{name}" does not support insert')
    options = _options(body)
    prompt = str(body.get("prompt") or "")
    rendered = "\n".join(p for p in (model.entry.system, prompt, body.get("suffix") or "") if p)
    think = "thinking" in caps
    planned = generation.plan(generation.Request(model, rendered, options, None, think))
    ident = f"cmpl-{planned.seed % 1000}"
    created = _created(exchange)

    def chunk(text: str, finish: str | None) -> dict[str, Any]:
        return {
            "id": ident,
            "object": "text_completion",
            "created": created,
            "model": name,
            "system_fingerprint": FINGERPRINT,
            "choices": [{"text": text, "index": 0, "finish_reason": finish}],
        }

    def piece(p: Piece) -> bytes | None:
        return _sse(chunk(p.text, None)) if p.kind == "content" else None

    def end(metrics: Metrics) -> bytes:
        out = _sse(chunk("", _finish(planned)))
        if _include_usage(body):
            usage_chunk = chunk("", None)
            usage_chunk["choices"] = []
            usage_chunk["usage"] = _usage(metrics)
            out += _sse(usage_chunk)
        return out + b"data: [DONE]\n\n"

    def whole(metrics: Metrics) -> bytes:
        answer = chunk(planned.text(), _finish(planned))
        answer["usage"] = _usage(metrics)
        return orjson.dumps(answer)

    await serve(
        exchange,
        model,
        stream=bool(body.get("stream")),
        keep_alive=state.default_keep_alive,
        options=options,
        planned=planned,
        encoding=Encoding(SSE_TYPE, piece, end, whole, _sse_error),
    )


async def embeddings(exchange: Exchange) -> None:
    state = exchange.state
    body = state.parse(await exchange.request.body(), "openaiEmbeddings")
    name = body.get("model")
    model = _model(exchange, name)
    await exchange.preflight(name)
    raw = body.get("input")
    if raw is None or raw in ("", []):
        raise ApiError(400, "invalid input")
    texts: list[str]
    if isinstance(raw, str):
        texts = [raw]
    elif isinstance(raw, list) and all(isinstance(i, str) for i in raw):
        texts = list(raw)
    elif isinstance(raw, list) and all(isinstance(i, int) for i in raw):
        texts = [" ".join(str(i) for i in raw)]
    elif isinstance(raw, list) and all(isinstance(i, list) for i in raw):
        texts = [" ".join(str(t) for t in item) for item in raw]
    else:
        raise ApiError(400, "invalid input")
    dimension = model.entry.embedding_length
    wanted = body.get("dimensions") or 0
    lease = await state.scheduler.acquire(
        model, state.default_keep_alive, min(4096, model.entry.context_length)
    )
    try:
        data = []
        tokens = 0
        for index, text in enumerate(texts):
            vector = textgen.normalised(textgen.embedding(model.name.display, text, dimension))
            if 0 < wanted < dimension:
                vector = textgen.normalised(vector[:wanted])
            tokens += textgen.count_tokens(text)
            encoded: Any = vector
            if body.get("encoding_format") == "base64":
                encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "embedding": encoded, "index": index})
        await exchange.response.json(
            200,
            {
                "object": "list",
                "data": data,
                "model": name,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )
    finally:
        state.scheduler.release(lease, state.default_keep_alive)


def _model_object(model: InstalledModel) -> dict[str, Any]:
    return {
        "id": model.name.display,
        "object": "model",
        "created": int(model.modified_at.timestamp()),
        "owned_by": model.name.namespace,
    }


async def list_models(exchange: Exchange) -> None:
    models = [_model_object(m) for m in exchange.state.store.listing()]
    await exchange.response.json(200, {"object": "list", "data": models})


async def retrieve_model(exchange: Exchange) -> None:
    from urllib.parse import unquote

    name = unquote(exchange.request.path.removeprefix("/v1/models/"))
    model = exchange.state.lookup(name)
    if model is None:
        raise ApiError(404, f'model "{name}" not found')
    await exchange.response.json(200, _model_object(model))
