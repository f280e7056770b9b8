"""A translated chat request (Anthropic Messages, OpenAI Responses) planned as ``/api/chat``.

The protocol core turns each API's request into native chat messages; this module
renders them as the native route does, so the same conversation gives the same
text on ``/api/chat``, ``/v1/messages`` and ``/v1/responses``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Protocol

from ollama_harness.core.protocol.metrics import Metrics

from . import generation
from .serving import Playback
from .store import InstalledModel


class EventWriter(Protocol):
    """What a translated API's stream says at each point (its core ``StreamEvents``)."""

    def thinking(self, text: str) -> bytes: ...
    def tool_call(self, call_id: str, name: str, arguments: Any) -> bytes: ...


def rendered(model: InstalledModel, sent: Sequence[dict[str, Any]]) -> str:
    conversation = list(model.entry.messages) + list(sent)
    if model.entry.system and not any(m.get("role") == "system" for m in conversation):
        conversation.insert(0, {"role": "system", "content": model.entry.system})
    return "\n".join(
        f"{m.get('role', '')}: {m.get('content') or ''}"
        + (f" [{len(m['images'])} images]" if m.get("images") else "")
        for m in conversation
    )


def plan(
    model: InstalledModel,
    sent: Sequence[dict[str, Any]],
    options: dict[str, Any],
    *,
    fmt: Any = None,
    think: bool | str | None = None,
    tools: Sequence[dict[str, Any]] = (),
    ceiling: bool = False,
) -> generation.Completion:
    """Thinking models think unless told not to; others never (the request was relaxed
    or refused before)."""
    thinks: bool | str = False
    if "thinking" in model.entry.capabilities:
        thinks = True if think is None else think
    return generation.plan(
        generation.Request(
            model,
            rendered(model, sent),
            options,
            fmt,
            thinks,
            tools,
            answer_tools=bool(sent) and sent[-1].get("role") != "tool",
            ceiling=ceiling,
        )
    )


def call_id(seed: int, index: int) -> str:
    """A tool call's id, the same on every API of the mock for the same plan."""
    return f"call_{seed + index:016x}"[:21]


async def stream_events(
    playback: Playback,
    writer: EventWriter,
    calls: Sequence[tuple[str, str, Any]],
    *,
    start: Callable[[], bytes],
    text: Callable[[str], bytes],
    end: Callable[[Metrics], bytes],
) -> AsyncIterator[bytes]:
    """The played pieces as one API's events, a write per batch: the opening events
    with the first batch (or with the end, when nothing was generated), then a
    thinking, tool-call or text event per piece, then the closing events."""
    started = False
    async for batch in playback.batches():
        out = [] if started else [start()]
        started = True
        for piece in batch:
            if piece.kind == "thinking":
                out.append(writer.thinking(piece.text))
            elif piece.kind == "tool_calls":
                out.extend(writer.tool_call(*call) for call in calls)
            else:
                out.append(text(piece.text))
        yield b"".join(out)
    head = b"" if started else start()
    yield head + end(playback.metrics())
