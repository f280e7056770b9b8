"""``/api/generate``, ``/api/chat``, ``/api/embed`` and ``/api/embeddings``."""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from typing import Any

import orjson

from ollama_harness.core.errors import ApiError

from . import generation, textgen
from .exchange import Exchange
from .faults import DroppedConnectionError
from .generation import Completion, Metrics, Piece
from .http import NDJSON_TYPE
from .serving import Encoding, num_ctx, serve
from .store import InstalledModel

Line = dict[str, Any]


def _model_name(body: dict[str, Any]) -> str:
    value = body.get("model") or body.get("name") or ""
    return value if isinstance(value, str) else ""


def _check_images(images: Any) -> None:
    for image in images or []:
        try:
            base64.b64decode(image, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise ApiError(400, "illegal base64 data at input byte 0") from None


_num_ctx = num_ctx


def _think_value(exchange: Exchange, model: InstalledModel, body: dict[str, Any]) -> bool | str:
    """Thinking models think unless told not to; others refuse a request to think."""
    think = body.get("think")
    if "thinking" in model.entry.capabilities:
        return True if think is None else think
    if think is not None and think is not False:
        raise ApiError(400, f'"{_model_name(body)}" does not support thinking')
    return False


def _load_line(exchange: Exchange, body: dict[str, Any], reason: str, chat: bool) -> Line:
    line: Line = {"model": _model_name(body), "created_at": exchange.state.now_text()}
    if chat:
        line["message"] = {"role": "assistant", "content": ""}
    else:
        line["response"] = ""
    line["done"] = True
    line["done_reason"] = reason
    return line


async def _load_or_unload(
    exchange: Exchange,
    model: InstalledModel,
    body: dict[str, Any],
    keep_alive: float | None,
    chat: bool,
) -> None:
    """Empty prompt / messages: load the model, or unload it with keep_alive 0."""
    scheduler = exchange.state.scheduler
    if keep_alive == 0:
        scheduler.unload(model)
        await exchange.response.json(200, _load_line(exchange, body, "unload", chat))
        return
    lease = await scheduler.acquire(model, keep_alive, _num_ctx(model, body.get("options") or {}))
    scheduler.release(lease, keep_alive)
    await exchange.response.json(200, _load_line(exchange, body, "load", chat))


async def generate(exchange: Exchange) -> None:
    state = exchange.state
    body = state.parse(await exchange.request.body(), "generate")
    name = _model_name(body)
    model = state.require(name, f"model '{name}' not found")
    await exchange.preflight(name)
    keep_alive = state.keep_alive(body)
    get = body.get
    prompt = get("prompt") or ""
    if not prompt and keep_alive == 0:
        await _load_or_unload(exchange, model, body, keep_alive, chat=False)
        return
    raw = get("raw")
    if raw and (get("template") or get("system") or get("context")):
        raise ApiError(400, "raw mode does not support template, system, or context")
    caps = model.entry.capabilities
    if "completion" not in caps:
        raise ApiError(400, f'"{name}" does not support generate')
    suffix = get("suffix")
    if suffix and "insert" not in caps:
        raise ApiError(400, f'"{name}" does not support insert')
    think = _think_value(exchange, model, body)
    images = get("images")
    if images:
        if "vision" not in caps:
            raise ApiError(400, f'"{name}" does not support vision')
        _check_images(images)
    if not prompt:
        await _load_or_unload(exchange, model, body, keep_alive, chat=False)
        return

    system = "" if raw else (get("system") or model.entry.system)
    context = get("context")
    parts = [
        system,
        get("template") or "",
        " ".join([str(i) for i in context]) if context else "",
        prompt,
        suffix or "",
        f"[{len(images)} images]" if images else "",
    ]
    rendered = "\n".join([part for part in parts if part])
    options = get("options") or {}
    planned = generation.plan(generation.Request(model, rendered, options, get("format"), think))

    probabilities = _logprobs(body, planned)

    def content(piece: Piece, now: str) -> Line:
        line: Line = {"model": name, "created_at": now, "response": ""}
        if piece.kind == "thinking":
            line["thinking"] = piece.text
        else:
            line["response"] = piece.text
        line["done"] = False
        if probabilities is not None and piece.kind == "content":
            line["logprobs"] = [probabilities.pop(0)]
        return line

    def final(metrics: Metrics, now: str, whole: bool) -> Line:
        line: Line = {"model": name, "created_at": now}
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
        _add_nonzero(line, metrics)
        return line

    await _serve_completion(
        exchange, model, body, keep_alive=keep_alive, planned=planned, content=content, final=final
    )


async def chat(exchange: Exchange) -> None:
    state = exchange.state
    body = state.parse(await exchange.request.body(), "chat")
    name = _model_name(body)
    model = state.require(name, f"model '{name}' not found")
    await exchange.preflight(name)
    keep_alive = state.keep_alive(body)
    messages: list[dict[str, Any]] = body.get("messages") or []
    if not messages:
        await _load_or_unload(exchange, model, body, keep_alive, chat=True)
        return
    caps = model.entry.capabilities
    if "completion" not in caps:
        raise ApiError(400, f'"{name}" does not support chat')
    tools = body.get("tools") or []
    if tools and "tools" not in caps:
        raise ApiError(400, f'"{name}" does not support tools')
    think = _think_value(exchange, model, body)
    for message in messages:
        if message.get("images"):
            if "vision" not in caps:
                raise ApiError(400, f'"{name}" does not support vision')
            _check_images(message["images"])

    conversation = list(model.entry.messages) + messages
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
            think,
            tools,
            answer_tools=messages[-1].get("role") != "tool",
        )
    )

    probabilities = _logprobs(body, planned)

    def content(piece: Piece, now: str) -> Line:
        message: dict[str, Any] = {"role": "assistant", "content": ""}
        if piece.kind == "thinking":
            message["thinking"] = piece.text
        elif piece.kind == "tool_calls":
            message["tool_calls"] = piece.calls
        else:
            message["content"] = piece.text
        line: Line = {"model": name, "created_at": now, "message": message, "done": False}
        if probabilities is not None and piece.kind == "content":
            line["logprobs"] = [probabilities.pop(0)]
        return line

    def final(metrics: Metrics, now: str, whole: bool) -> Line:
        message: dict[str, Any] = {"role": "assistant", "content": ""}
        if whole:
            message["content"] = planned.text()
            if planned.text("thinking"):
                message["thinking"] = planned.text("thinking")
            if planned.tool_calls():
                message["tool_calls"] = planned.tool_calls()
        line: Line = {"model": name, "created_at": now, "message": message, "done": True}
        line["done_reason"] = planned.done_reason
        if whole and probabilities:
            line["logprobs"] = probabilities
        _add_nonzero(line, metrics)
        return line

    await _serve_completion(
        exchange, model, body, keep_alive=keep_alive, planned=planned, content=content, final=final
    )


def _logprobs(body: dict[str, Any], planned: Completion) -> list[dict[str, Any]] | None:
    """``logprobs: true`` (with ``top_logprobs`` alternatives): one entry per content token."""
    if not body.get("logprobs"):
        return None
    return textgen.logprobs(planned.content, planned.seed, int(body.get("top_logprobs") or 0))


def _add_nonzero(line: Line, metrics: Metrics) -> None:
    """The metrics Ollama sends: it omits zero ones (``omitempty``); set one by one,
    without building a dict to merge, as every final line does this."""
    if metrics.total_duration:
        line["total_duration"] = metrics.total_duration
    if metrics.load_duration:
        line["load_duration"] = metrics.load_duration
    if metrics.prompt_eval_count:
        line["prompt_eval_count"] = metrics.prompt_eval_count
    if metrics.prompt_eval_duration:
        line["prompt_eval_duration"] = metrics.prompt_eval_duration
    if metrics.eval_count:
        line["eval_count"] = metrics.eval_count
    if metrics.eval_duration:
        line["eval_duration"] = metrics.eval_duration


LineOf = Callable[[Piece, str], Line]
FinalOf = Callable[[Metrics, str, bool], Line]


async def _serve_completion(
    exchange: Exchange,
    model: InstalledModel,
    body: dict[str, Any],
    *,
    keep_alive: float | None,
    planned: Completion,
    content: LineOf,
    final: FinalOf,
) -> None:
    state = exchange.state
    encoding = Encoding(
        content_type=NDJSON_TYPE,
        piece=lambda piece: orjson.dumps(content(piece, state.now_text())) + b"\n",
        end=lambda metrics: orjson.dumps(final(metrics, state.now_text(), False)) + b"\n",
        whole=lambda metrics: orjson.dumps(final(metrics, state.now_text(), True)),
        error=lambda message: orjson.dumps({"error": message}) + b"\n",
    )
    await serve(
        exchange,
        model,
        stream=body.get("stream", True) is not False,
        keep_alive=keep_alive,
        options=body.get("options") or {},
        planned=planned,
        encoding=encoding,
    )


# -- embeddings -------------------------------------------------------------------


async def embed(exchange: Exchange) -> None:
    state = exchange.state
    body = state.parse(await exchange.request.body(), "embed")
    name = _model_name(body)
    model = state.require(name, f'model "{name}" not found, try pulling it first')
    await exchange.preflight(name)
    keep_alive = state.keep_alive(body)
    raw_input = body.get("input")
    texts: list[str] = [raw_input] if isinstance(raw_input, str) and raw_input else []
    if isinstance(raw_input, list):
        texts = list(raw_input)
    options = body.get("options") or {}
    limit = _num_ctx(model, options) if "num_ctx" in options else model.entry.context_length
    truncate = body.get("truncate", True) is not False
    lease = await state.scheduler.acquire(model, keep_alive, _num_ctx(model, options))
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
                    raise ApiError(400, "the input length exceeds the context length")
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
        answer.update(
            {
                k: v
                for k, v in (
                    ("total_duration", total_ns),
                    ("load_duration", load_ns),
                    ("prompt_eval_count", tokens),
                )
                if v
            }
        )
        await exchange.response.json(200, answer)
    finally:
        state.scheduler.release(lease, keep_alive)


async def embeddings(exchange: Exchange) -> None:
    state = exchange.state
    body = state.parse(await exchange.request.body(), "embeddings")
    name = _model_name(body)
    if not name:
        raise ApiError(400, "model is required")
    model = state.require(name, f'model "{name}" not found, try pulling it first')
    await exchange.preflight(name)
    keep_alive = state.keep_alive(body)
    lease = await state.scheduler.acquire(
        model, keep_alive, _num_ctx(model, body.get("options") or {})
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
