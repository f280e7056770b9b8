"""The translated chat routes: ``POST /v1/messages`` (Anthropic Messages) and
``POST /v1/responses`` (OpenAI Responses, non-stateful).

As Ollama's middleware does, each request becomes a native chat request (the
protocol core's :func:`anthropic.to_chat` / :func:`responses.to_chat`) run through
the same inference service as ``/api/chat`` (template, tool-call parsing, grammar,
stop sequences, ``num_predict``); the answer goes back through the core's builders
(message object, named stream events, stop reasons, usage). Errors: Anthropic's
envelope on ``/v1/messages`` (see :mod:`realserver.app`), the ``/v1`` one here.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ollama_harness.core.errors import ApiError, decode_body, request_error
from ollama_harness.core.protocol import anthropic, checks, messages, responses
from ollama_harness.realserver.catalog import ModelRecord
from ollama_harness.realserver.engine import GenerationResult, LoadedModel
from ollama_harness.realserver.gotemplate import TemplateError
from ollama_harness.realserver.http import SSE, JSONResponse
from ollama_harness.realserver.inference import (
    Generation,
    answer_once,
    conversation_prompt,
    grammar_for,
    lookup,
    start,
    stream,
)
from ollama_harness.realserver.prompt import Message, ToolCall, message_from_json, tool_from_json
from ollama_harness.realserver.state import ServerState
from ollama_harness.realserver.toolcalls import ToolCallParser, tool_call_prefix

MESSAGES_OPERATION = "anthropicMessages"
RESPONSES_OPERATION = "openaiResponses"

Call = tuple[str, str, dict[str, Any]]


def _decode(raw: bytes, operation_id: str, state: ServerState) -> dict[str, Any]:
    body = decode_body(raw, operation_id)
    error = request_error(operation_id, body, state.spec.validate_request(operation_id, body))
    if error is not None:
        raise error
    return dict(body)


@dataclass
class _Run:
    """A started generation, its tool-call parser and the prompt's token count."""

    generation: Generation
    parser: ToolCallParser | None
    prompt_tokens: list[int]

    def input_tokens(self, result: GenerationResult) -> int:
        """The whole prompt, as these APIs count input (the engine reports only the
        tokens it evaluated: fewer when a cached prefix was reused)."""
        return self.prompt_tokens[0] or result.prompt_eval_count

    def calls(self, found: list[ToolCall]) -> list[Call]:
        return [
            (f"call_{secrets.token_hex(4)}", c.Function.Name, dict(c.Function.Arguments))
            for c in found
        ]


async def _start(
    state: ServerState,
    record: ModelRecord,
    sent: list[dict[str, Any]],
    options: dict[str, Any],
    tools_json: list[dict[str, Any]],
    *,
    fmt: Any = None,
) -> _Run:
    """The native chat request's path: conversation, template, parser, grammar, start."""
    tools = [tool_from_json(t) for t in tools_json]
    conversation = [message_from_json(m) for m in record.messages]
    conversation += [message_from_json(m) for m in sent]
    if (not sent or sent[0].get("role") != "system") and record.system:
        conversation.insert(0, Message("system", record.system))
    try:
        build = conversation_prompt(record, record.compiled_template(), conversation, tools)
    except TemplateError as exc:
        raise ApiError(500, f"template: {exc}") from None
    counted = [0]

    def counting(model: LoadedModel) -> list[int]:
        tokens = build(model)
        counted[0] = len(tokens)
        return tokens

    parser = (
        ToolCallParser(tool_call_prefix(record.template), {t.Function.Name for t in tools})
        if tools
        else None
    )
    grammar = grammar_for(fmt)
    generation = await start(state, record, {"options": options}, counting, grammar=grammar)
    return _Run(generation, parser, counted)


def _split(run: _Run, text: str) -> tuple[str, list[Call]]:
    """A piece of text as (content, tool calls) through the run's parser."""
    if run.parser is None:
        return text, []
    content, found = run.parser.feed(text)
    return content, run.calls(found)


async def _whole(request: Request, run: _Run) -> tuple[str, list[Call], GenerationResult] | None:
    answered = await answer_once(request, run.generation)
    if answered is None:
        return None
    piece, result = answered
    if run.parser is None:
        return piece.text, [], result
    content, _ = run.parser.feed(piece.text)
    content += run.parser.flush()
    return content, run.calls(run.parser.calls), result


async def _pieces(run: _Run) -> AsyncIterator[tuple[str, list[Call]] | GenerationResult]:
    """The generation as (content, calls) pieces, then its result."""
    async for item in run.generation.job:
        if isinstance(item, GenerationResult):
            if run.parser is not None and (rest := run.parser.flush()):
                yield rest, []
            yield item
            return
        content, calls = _split(run, item.text)
        if content or calls:
            yield content, calls


# -- /v1/messages ---------------------------------------------------------------------


async def create_message(request: Request) -> Response:
    state: ServerState = request.app.state.server
    body = _decode(await request.body(), MESSAGES_OPERATION, state)
    anthropic.check_request(body)
    chat = anthropic.to_chat(body)
    name = str(body["model"])
    record = await lookup(state, name, messages.model_not_found(name))
    # The middleware relaxes thinking: a model that cannot think just does not.
    think = chat.think if "thinking" in record.capabilities else None
    checks.check_chat(
        name,
        {"tools": chat.tools},
        record.capabilities,
        think=think,
        images=chat.images,
        base64_images=False,
    )
    run = await _start(state, record, chat.messages, chat.options, chat.tools)
    ident = f"msg_{secrets.token_hex(12)}"

    if not chat.stream:
        answered = await _whole(request, run)
        if answered is None:
            return Response(status_code=499)
        text, calls, result = answered
        answer = anthropic.message(
            ident,
            name,
            thinking="",
            text=text,
            calls=[anthropic.tool_use(*call) for call in calls],
            reason=anthropic.stop_reason(result.done_reason, bool(calls)),
            usage_now=anthropic.usage(run.input_tokens(result), result.eval_count),
        )
        return JSONResponse(answer)

    events = anthropic.StreamEvents(ident, name)

    async def chunks() -> AsyncIterator[bytes]:
        started = False
        async for item in _pieces(run):
            head = b"" if started else events.start(run.prompt_tokens[0])
            started = True
            if isinstance(item, GenerationResult):
                end = events.end(item.done_reason, run.input_tokens(item), item.eval_count)
                yield head + end
                return
            content, calls = item
            out = [head]
            if content:
                out.append(events.text(content))
            out.extend(events.tool_call(*call) for call in calls)
            yield b"".join(out)

    return stream(run.generation, chunks(), SSE, _anthropic_stream_error)  # type: ignore[return-value]


def _anthropic_stream_error(exc: Exception) -> bytes:
    return anthropic.stream_error(str(exc))


# -- /v1/responses ----------------------------------------------------------------------


async def create_response(request: Request) -> Response:
    state: ServerState = request.app.state.server
    body = _decode(await request.body(), RESPONSES_OPERATION, state)
    chat = responses.to_chat(body)
    name = str(body["model"])
    record = await lookup(state, name, messages.model_not_found(name))
    checks.check_chat(
        name,
        {"tools": chat.tools},
        record.capabilities,
        think=chat.think,
        images=chat.images,
        base64_images=False,
    )
    run = await _start(state, record, chat.messages, chat.options, chat.tools, fmt=chat.format)
    ident = f"resp_{secrets.randbelow(1_000_000)}"
    created = int(time.time())

    if not chat.stream:
        answered = await _whole(request, run)
        if answered is None:
            return Response(status_code=499)
        text, calls, result = answered
        output = responses.whole_output(ident, "", text, calls)
        usage = responses.usage(run.input_tokens(result), result.eval_count)
        answer = responses.response(
            body, ident, name, created=created, status="completed", output=output, usage_now=usage
        )
        return JSONResponse(answer)

    events = responses.StreamEvents(body, ident, name, created)

    async def chunks() -> AsyncIterator[bytes]:
        started = False
        async for item in _pieces(run):
            head = b"" if started else events.start()
            started = True
            if isinstance(item, GenerationResult):
                yield head + events.end(run.input_tokens(item), item.eval_count)
                return
            content, calls = item
            out = [head]
            if content:
                out.append(events.text_delta(content))
            out.extend(events.tool_call(*call) for call in calls)
            yield b"".join(out)

    error: Callable[[Exception], bytes] = lambda exc: events.error(str(exc))  # noqa: E731
    return stream(run.generation, chunks(), SSE, error)  # type: ignore[return-value]
