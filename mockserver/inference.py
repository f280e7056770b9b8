"""``/api/generate``, ``/api/chat``, ``/api/embed`` and ``/api/embeddings``."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from ollama_harness.core.errors import ApiError
from ollama_harness.core.protocol import checks, framing, messages, native
from ollama_harness.core.protocol.metrics import Metrics

from . import generation, textgen
from .exchange import Exchange
from .faults import DroppedConnectionError
from .generation import Completion
from .http import NDJSON_TYPE
from .serving import Answer, Playback, num_ctx, serve
from .store import InstalledModel

Line = dict[str, Any]


def _model_name(body: dict[str, Any]) -> str:
    value = body.get("model") or body.get("name") or ""
    return value if isinstance(value, str) else ""


def _think_value(model: InstalledModel, body: dict[str, Any]) -> bool | str:
    """Thinking models think unless told not to (others were refused by the checks)."""
    think = body.get("think")
    if "thinking" in model.entry.capabilities:
        return True if think is None else think
    return False


def _load_line(exchange: Exchange, body: dict[str, Any], reason: str, chat: bool) -> Line:
    return native.empty_answer(_model_name(body), exchange.state.now_text(), reason, chat=chat)


async def _unload(
    exchange: Exchange, model: InstalledModel, body: dict[str, Any], chat: bool
) -> None:
    exchange.state.scheduler.unload(model)
    await exchange.response.json(200, _load_line(exchange, body, "unload", chat))


async def _load(
    exchange: Exchange,
    model: InstalledModel,
    body: dict[str, Any],
    keep_alive: float | None,
    chat: bool,
) -> None:
    """An empty prompt / no messages: load the model and say so."""
    scheduler = exchange.state.scheduler
    lease = await scheduler.acquire(model, keep_alive, num_ctx(model, body.get("options") or {}))
    scheduler.release(lease, keep_alive)
    await exchange.response.json(200, _load_line(exchange, body, "load", chat))


def _native_answer(
    lines: Callable[[Playback], AsyncIterator[bytes]], whole: Callable[[Metrics], Line]
) -> Answer:
    return Answer(
        NDJSON_TYPE, lines, lambda metrics: orjson.dumps(whole(metrics)), framing.error_line
    )


async def generate(exchange: Exchange) -> None:
    state = exchange.state
    body = state.parse(await exchange.request.body(), "generate")
    name = _model_name(body)
    model = state.require(name, messages.model_not_found(name))
    await exchange.preflight(name)
    keep_alive = state.keep_alive(body)
    get = body.get
    prompt = get("prompt") or ""
    if checks.unloads(not prompt, keep_alive):
        return await _unload(exchange, model, body, chat=False)
    checks.check_generate(name, body, model.entry.capabilities)
    if not prompt:
        return await _load(exchange, model, body, keep_alive, chat=False)

    raw = get("raw")
    images = get("images")
    system = "" if raw else (get("system") or model.entry.system)
    context = get("context")
    parts = [
        system,
        get("template") or "",
        " ".join([str(i) for i in context]) if context else "",
        prompt,
        get("suffix") or "",
        f"[{len(images)} images]" if images else "",
    ]
    rendered = "\n".join([part for part in parts if part])
    options = get("options") or {}
    think = _think_value(model, body)
    planned = generation.plan(generation.Request(model, rendered, options, get("format"), think))
    probabilities = _logprobs(body, planned)
    now = state.now_text

    async def lines(playback: Playback) -> AsyncIterator[bytes]:
        async for batch in playback.batches():
            out = []
            for piece in batch:
                line: Line = {"model": name, "created_at": now(), "response": ""}
                if piece.kind == "thinking":
                    line["thinking"] = piece.text
                else:
                    line["response"] = piece.text
                line["done"] = False
                if probabilities is not None and piece.kind == "content":
                    line["logprobs"] = [probabilities.pop(0)]
                out.append(framing.ndjson_line(line))
            yield b"".join(out)
        yield framing.ndjson_line(final(playback.metrics(), whole=False))

    def final(metrics: Metrics, whole: bool) -> Line:
        line: Line = {"model": name, "created_at": now()}
        if whole:
            line["response"] = "".join(planned.content)
            thinking = "".join(planned.thinking)
            if thinking:
                line["thinking"] = thinking
        else:
            line["response"] = ""
        line["done"] = True
        line["done_reason"] = planned.done_reason
        if whole and probabilities:
            line["logprobs"] = probabilities
        if not raw:
            line["context"] = textgen.token_ids(planned.seed, planned.prompt_tokens + planned.count)
        return metrics.add_to(line)

    await serve(
        exchange,
        model,
        planned,
        _native_answer(lines, lambda metrics: final(metrics, whole=True)),
        stream=get("stream", True) is not False,
        keep_alive=keep_alive,
        options=options,
    )


async def chat(exchange: Exchange) -> None:
    state = exchange.state
    body = state.parse(await exchange.request.body(), "chat")
    name = _model_name(body)
    model = state.require(name, messages.model_not_found(name))
    await exchange.preflight(name)
    keep_alive = state.keep_alive(body)
    sent: list[dict[str, Any]] = body.get("messages") or []
    if checks.unloads(not sent, keep_alive):
        return await _unload(exchange, model, body, chat=True)
    images = [image for message in sent for image in message.get("images") or []]
    caps = model.entry.capabilities
    checks.check_chat(name, body, caps, think=body.get("think"), images=images)
    if not sent:
        return await _load(exchange, model, body, keep_alive, chat=True)

    conversation = list(model.entry.messages) + sent
    if model.entry.system and not any(m.get("role") == "system" for m in conversation):
        conversation.insert(0, {"role": "system", "content": model.entry.system})
    rendered = "\n".join(
        f"{m.get('role', '')}: {m.get('content') or ''}"
        + (f" [{len(m['images'])} images]" if m.get("images") else "")
        for m in conversation
    )
    options = body.get("options") or {}
    planned = generation.plan(
        generation.Request(
            model,
            rendered,
            options,
            body.get("format"),
            _think_value(model, body),
            body.get("tools") or [],
            answer_tools=sent[-1].get("role") != "tool",
        )
    )
    probabilities = _logprobs(body, planned)
    now = state.now_text

    async def lines(playback: Playback) -> AsyncIterator[bytes]:
        async for batch in playback.batches():
            out = []
            for piece in batch:
                message: dict[str, Any] = {"role": "assistant", "content": ""}
                if piece.kind == "thinking":
                    message["thinking"] = piece.text
                elif piece.kind == "tool_calls":
                    message["tool_calls"] = piece.calls
                else:
                    message["content"] = piece.text
                line: Line = {"model": name, "created_at": now(), "message": message, "done": False}
                if probabilities is not None and piece.kind == "content":
                    line["logprobs"] = [probabilities.pop(0)]
                out.append(framing.ndjson_line(line))
            yield b"".join(out)
        yield framing.ndjson_line(final(playback.metrics(), whole=False))

    def final(metrics: Metrics, whole: bool) -> Line:
        message: dict[str, Any] = {"role": "assistant", "content": ""}
        if whole:
            message["content"] = planned.text()
            if planned.text("thinking"):
                message["thinking"] = planned.text("thinking")
            if planned.tool_calls():
                message["tool_calls"] = planned.tool_calls()
        line: Line = {"model": name, "created_at": now(), "message": message, "done": True}
        line["done_reason"] = planned.done_reason
        if whole and probabilities:
            line["logprobs"] = probabilities
        return metrics.add_to(line)

    await serve(
        exchange,
        model,
        planned,
        _native_answer(lines, lambda metrics: final(metrics, whole=True)),
        stream=body.get("stream", True) is not False,
        keep_alive=keep_alive,
        options=options,
    )


def _logprobs(body: dict[str, Any], planned: Completion) -> list[dict[str, Any]] | None:
    """``logprobs: true`` (with ``top_logprobs`` alternatives): one entry per content token."""
    if not body.get("logprobs"):
        return None
    return textgen.logprobs(planned.content, planned.seed, int(body.get("top_logprobs") or 0))


# -- embeddings -------------------------------------------------------------------


async def embed(exchange: Exchange) -> None:
    state = exchange.state
    body = state.parse(await exchange.request.body(), "embed")
    name = _model_name(body)
    model = state.require(name, messages.model_not_found_pull(name))
    await exchange.preflight(name)
    keep_alive = state.keep_alive(body)
    raw_input = body.get("input")
    texts: list[str] = [raw_input] if isinstance(raw_input, str) and raw_input else []
    if isinstance(raw_input, list):
        texts = list(raw_input)
    options = body.get("options") or {}
    limit = num_ctx(model, options) if "num_ctx" in options else model.entry.context_length
    truncate = body.get("truncate", True) is not False
    lease = await state.scheduler.acquire(model, keep_alive, num_ctx(model, options))
    loaded = time.perf_counter()
    try:
        if not texts:
            await exchange.response.json(200, {"model": name, "embeddings": []})
            return
        vectors = []
        tokens = 0
        dimension = model.entry.embedding_length
        wanted = body.get("dimensions") or 0
        for text in texts:
            pieces = textgen.split_text(text)
            count = textgen.count_tokens(text)
            if count > limit:
                if not truncate:
                    raise ApiError(400, messages.CONTEXT_EXCEEDED)
                text = "".join(pieces[:limit])
                count = limit
            tokens += count
            vector = textgen.normalised(textgen.embedding(model.name.display, text, dimension))
            if 0 < wanted < dimension:
                vector = textgen.normalised(vector[:wanted])
            vectors.append(vector)
        if state.clock.fixed:
            load_ns = int(model.entry.load_ms * 1e6) if lease.loaded_now else 0
            total_ns = load_ns + int(tokens / model.entry.prompt_tokens_per_second * 1e9)
        else:
            load_ns = int((loaded - exchange.started) * 1e9)
            total_ns = max(load_ns + 1, int((time.perf_counter() - exchange.started) * 1e9))
        answer: dict[str, Any] = {"model": name, "embeddings": vectors}
        metrics = Metrics(total_duration=total_ns, load_duration=load_ns, prompt_eval_count=tokens)
        await exchange.response.json(200, metrics.add_to(answer))
    finally:
        state.scheduler.release(lease, keep_alive)


async def embeddings(exchange: Exchange) -> None:
    state = exchange.state
    body = state.parse(await exchange.request.body(), "embeddings")
    name = _model_name(body)
    if not name:
        raise ApiError(400, messages.MODEL_REQUIRED)
    model = state.require(name, messages.model_not_found_pull(name))
    await exchange.preflight(name)
    keep_alive = state.keep_alive(body)
    lease = await state.scheduler.acquire(
        model, keep_alive, num_ctx(model, body.get("options") or {})
    )
    try:
        prompt = body.get("prompt") or ""
        vector = (
            textgen.embedding(model.name.display, prompt, model.entry.embedding_length)
            if prompt
            else []
        )
        await exchange.response.json(200, {"embedding": vector})
    finally:
        state.scheduler.release(lease, keep_alive)


__all__ = ["DroppedConnectionError", "chat", "embed", "embeddings", "generate"]
