"""The OpenAI-compatible routes: chat/completions, completions, embeddings, models.

Requests are translated to the same plans as the native routes (the same
conversation gives the same text on ``/api/chat`` and ``/v1/chat/completions``);
the translation both ways and OpenAI's objects come from the protocol core.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from ollama_harness.core.errors import ApiError
from ollama_harness.core.protocol import checks, messages, openai
from ollama_harness.core.protocol.metrics import Metrics

from . import generation, textgen
from .exchange import Exchange
from .generation import Piece
from .http import SSE_TYPE
from .serving import Answer, Playback, serve
from .store import InstalledModel


def _created(exchange: Exchange) -> int:
    return int(exchange.state.clock.now().timestamp())


def _model(exchange: Exchange, name: Any) -> tuple[str, InstalledModel]:
    if not isinstance(name, str) or not name:
        raise ApiError(400, messages.MODEL_REQUIRED)
    return name, exchange.state.require(name, messages.model_not_found(name))


def _tool_calls(piece: Piece, seed: int) -> list[dict[str, Any]]:
    return [
        openai.tool_call(
            index,
            f"call_{seed + index:016x}"[:21],
            call["function"]["name"],
            orjson.dumps(call["function"]["arguments"]).decode(),
        )
        for index, call in enumerate(piece.calls or [])
    ]


def _finish(planned: generation.Completion) -> str:
    return openai.finish_reason(planned.done_reason, bool(planned.tool_calls()))


def _usage(metrics: Metrics) -> dict[str, int]:
    return openai.usage(metrics.prompt_eval_count, metrics.eval_count)


async def chat_completions(exchange: Exchange) -> None:
    state = exchange.state
    raw = await exchange.request.body()
    body = state.decode(raw, "openaiChatCompletions")
    if body.get("messages") == []:  # the middleware's first check, before any other field
        raise ApiError(400, messages.MESSAGES_TOO_SHORT)
    state.validate("openaiChatCompletions", body)
    name, model = _model(exchange, body.get("model"))
    sent = body.get("messages") or []
    await exchange.preflight(name)
    lines, images = [], []
    for message in sent:
        text, found = openai.content_parts(message.get("content"))
        images += found
        count = len(found)
        lines.append(f"{message.get('role', '')}: {text}" + (f" [{count} images]" if count else ""))
    caps = model.entry.capabilities
    effort = openai.reasoning_effort(body)
    checks.check_chat(
        name,
        body,
        caps,
        think=openai.think_requested(effort),
        images=images,
        base64_images=False,
    )
    think: bool | str = False
    if "thinking" in caps:
        think = effort if effort in ("low", "medium", "high") else effort != "none"
    conversation = [f"{m.get('role')}: {m.get('content')}" for m in model.entry.messages]
    if model.entry.system and not any(m.get("role") == "system" for m in sent):
        conversation.insert(0, f"system: {model.entry.system}")
    options = openai.options(body)
    planned = generation.plan(
        generation.Request(
            model,
            "\n".join(conversation + lines),
            options,
            openai.response_format(body),
            think,
            body.get("tools") or [],
            answer_tools=sent[-1].get("role") != "tool",
        )
    )
    created = _created(exchange)
    ident = f"chatcmpl-{planned.seed % 1000}"
    chunk_base = openai.envelope(openai.CHAT_CHUNK, ident, created, name)

    async def events(playback: Playback) -> AsyncIterator[bytes]:
        async for batch in playback.batches():
            out = []
            for piece in batch:
                delta: dict[str, Any] = {"role": "assistant", "content": ""}
                if piece.kind == "thinking":
                    delta["reasoning"] = piece.text
                elif piece.kind == "tool_calls":
                    delta["tool_calls"] = _tool_calls(piece, planned.seed)
                else:
                    delta["content"] = piece.text
                out.append(openai.chat_chunk(chunk_base, delta))
            yield b"".join(out)
        usage = _usage(playback.metrics()) if openai.include_usage(body) else None
        yield openai.stream_end(chunk_base, _finish(planned), usage, chat=True)

    def whole(metrics: Metrics) -> bytes:
        message: dict[str, Any] = {"role": "assistant", "content": planned.text()}
        if planned.text("thinking"):
            message["reasoning"] = planned.text("thinking")
        calls = [c for p in planned.pieces if p.calls for c in _tool_calls(p, planned.seed)]
        if calls:
            message["tool_calls"] = calls
        base = openai.envelope(openai.CHAT_COMPLETION, ident, created, name)
        return orjson.dumps(
            openai.chat_completion(base, message, _finish(planned), _usage(metrics))
        )

    await serve(
        exchange,
        model,
        planned,
        Answer(SSE_TYPE, events, whole, openai.stream_error),
        stream=bool(body.get("stream")),
        keep_alive=state.default_keep_alive,
        options=options,
    )


async def completions(exchange: Exchange) -> None:
    state = exchange.state
    body = state.parse(await exchange.request.body(), "openaiCompletions")
    name, model = _model(exchange, body.get("model"))
    await exchange.preflight(name)
    checks.check_generate(name, {"suffix": body.get("suffix")}, model.entry.capabilities)
    options = openai.options(body)
    prompt = str(body.get("prompt") or "")
    rendered = "\n".join(p for p in (model.entry.system, prompt, body.get("suffix") or "") if p)
    think = "thinking" in model.entry.capabilities
    planned = generation.plan(generation.Request(model, rendered, options, None, think))
    base = openai.envelope(
        openai.TEXT_COMPLETION, f"cmpl-{planned.seed % 1000}", _created(exchange), name
    )

    async def events(playback: Playback) -> AsyncIterator[bytes]:
        async for batch in playback.batches():
            yield b"".join([openai.text_chunk(base, p.text) for p in batch if p.kind == "content"])
        usage = _usage(playback.metrics()) if openai.include_usage(body) else None
        yield openai.stream_end(base, _finish(planned), usage, chat=False)

    def whole(metrics: Metrics) -> bytes:
        answer = openai.text_completion(base, planned.text(), _finish(planned), _usage(metrics))
        return orjson.dumps(answer)

    await serve(
        exchange,
        model,
        planned,
        Answer(SSE_TYPE, events, whole, openai.stream_error),
        stream=bool(body.get("stream")),
        keep_alive=state.default_keep_alive,
        options=options,
    )


async def embeddings(exchange: Exchange) -> None:
    state = exchange.state
    body = state.parse(await exchange.request.body(), "openaiEmbeddings")
    name, model = _model(exchange, body.get("model"))
    await exchange.preflight(name)
    raw = body.get("input")
    if raw is None or raw in ("", []):
        raise ApiError(400, messages.INVALID_INPUT)
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
        raise ApiError(400, messages.INVALID_INPUT)
    dimension = model.entry.embedding_length
    wanted = body.get("dimensions") or 0
    lease = await state.scheduler.acquire(
        model, state.default_keep_alive, min(4096, model.entry.context_length)
    )
    try:
        vectors = []
        tokens = 0
        for text in texts:
            vector = textgen.normalised(textgen.embedding(model.name.display, text, dimension))
            if 0 < wanted < dimension:
                vector = textgen.normalised(vector[:wanted])
            tokens += textgen.count_tokens(text)
            vectors.append(vector)
        answer = openai.embedding_list(name, vectors, tokens, body.get("encoding_format"))
        await exchange.response.json(200, answer)
    finally:
        state.scheduler.release(lease, state.default_keep_alive)


def _model_object(model: InstalledModel) -> dict[str, Any]:
    return openai.model_object(model.name, int(model.modified_at.timestamp()))


async def list_models(exchange: Exchange) -> None:
    models = [_model_object(m) for m in exchange.state.store.listing()]
    await exchange.response.json(200, {"object": "list", "data": models})


async def retrieve_model(exchange: Exchange) -> None:
    from urllib.parse import unquote

    name = unquote(exchange.request.path.removeprefix("/v1/models/"))
    model = exchange.state.lookup(name)
    if model is None:
        raise ApiError(404, messages.model_not_found(name))
    await exchange.response.json(200, _model_object(model))
