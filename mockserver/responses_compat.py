"""The OpenAI Responses route (``POST /v1/responses``), planned as ``/api/chat``.

Non-stateful, as Ollama's: the protocol core translates ``instructions`` and
``input`` to native chat messages and the plan back into a ``response`` object or
its numbered stream events.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson

from ollama_harness.core.protocol import checks, messages, responses
from ollama_harness.core.protocol.metrics import Metrics

from . import compat_chat
from .exchange import Exchange
from .http import SSE_TYPE
from .serving import Answer, Playback, serve

OPERATION = "openaiResponses"


async def create_response(exchange: Exchange) -> None:
    state = exchange.state
    body = state.parse(await exchange.request.body(), OPERATION)
    chat = responses.to_chat(body)
    name = str(body["model"])
    model = state.require(name, messages.model_not_found(name))
    await exchange.preflight(name)
    checks.check_chat(
        name,
        {"tools": chat.tools},
        model.entry.capabilities,
        think=chat.think,
        images=chat.images,
        base64_images=False,
    )
    planned = compat_chat.plan(
        model, chat.messages, chat.options, fmt=chat.format, think=chat.think, tools=chat.tools
    )
    ident = f"resp_{planned.seed % 1_000_000}"
    created = int(state.clock.now().timestamp())
    calls = [
        (compat_chat.call_id(planned.seed, i), c["function"]["name"], c["function"]["arguments"])
        for i, c in enumerate(planned.tool_calls())
    ]
    stream = responses.StreamEvents(body, ident, name, created)

    def events(playback: Playback) -> AsyncIterator[bytes]:
        return compat_chat.stream_events(
            playback,
            stream,
            calls,
            start=stream.start,
            text=stream.text_delta,
            end=lambda m: stream.end(m.prompt_eval_count, m.eval_count),
        )

    def whole(metrics: Metrics) -> bytes:
        output = responses.whole_output(ident, planned.text("thinking"), planned.text(), calls)
        usage = responses.usage(metrics.prompt_eval_count, metrics.eval_count)
        answer = responses.response(
            body, ident, name, created=created, status="completed", output=output, usage_now=usage
        )
        return orjson.dumps(answer)

    await serve(
        exchange,
        model,
        planned,
        Answer(SSE_TYPE, events, whole, stream.error),
        stream=chat.stream,
        keep_alive=state.default_keep_alive,
        options=chat.options,
    )
