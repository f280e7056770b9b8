"""The Anthropic Messages route (``POST /v1/messages``), planned as ``/api/chat``.

The protocol core translates the request to native chat messages and the plan back
into Anthropic's message object or its named stream events; this module only
decides when to say what.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from ollama_harness.core.protocol import anthropic, checks, messages
from ollama_harness.core.protocol.metrics import Metrics

from . import compat_chat
from .exchange import Exchange
from .http import SSE_TYPE
from .serving import Answer, Playback, serve

OPERATION = "anthropicMessages"


async def create_message(exchange: Exchange) -> None:
    state = exchange.state
    body = state.decode(await exchange.request.body(), OPERATION)
    state.validate(OPERATION, body)
    anthropic.check_request(body)
    chat = anthropic.to_chat(body)
    name = str(body["model"])
    model = state.require(name, messages.model_not_found(name))
    await exchange.preflight(name)
    caps = model.entry.capabilities
    # The middleware relaxes thinking: a model that cannot think just does not.
    think = chat.think if "thinking" in caps else None
    checks.check_chat(
        name, {"tools": chat.tools}, caps, think=think, images=chat.images, base64_images=False
    )
    # Every Messages request carries max_tokens: a ceiling, not the length wanted.
    planned = compat_chat.plan(
        model, chat.messages, chat.options, think=think, tools=chat.tools, ceiling=True
    )
    ident = f"msg_{planned.seed:024x}"[:28]
    calls = [
        (compat_chat.call_id(planned.seed, i), c["function"]["name"], c["function"]["arguments"])
        for i, c in enumerate(planned.tool_calls())
    ]

    def events(playback: Playback) -> AsyncIterator[bytes]:
        stream = anthropic.StreamEvents(ident, name)
        return compat_chat.stream_events(
            playback,
            stream,
            calls,
            start=lambda: stream.start(planned.prompt_tokens),
            text=stream.text,
            end=lambda m: stream.end(planned.done_reason, m.prompt_eval_count, m.eval_count),
        )

    def whole(metrics: Metrics) -> bytes:
        blocks: list[dict[str, Any]] = [anthropic.tool_use(*call) for call in calls]
        reason = anthropic.stop_reason(planned.done_reason, bool(calls))
        usage = anthropic.usage(metrics.prompt_eval_count, metrics.eval_count)
        answer = anthropic.message(
            ident,
            name,
            thinking=planned.text("thinking"),
            text=planned.text(),
            calls=blocks,
            reason=reason,
            usage_now=usage,
        )
        return orjson.dumps(answer)

    await serve(
        exchange,
        model,
        planned,
        Answer(SSE_TYPE, events, whole, anthropic.stream_error),
        stream=chat.stream,
        keep_alive=state.default_keep_alive,
        options=chat.options,
    )
