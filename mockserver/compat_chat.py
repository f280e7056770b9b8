"""A translated chat request (Anthropic Messages, OpenAI Responses) planned as ``/api/chat``.

The protocol core turns each API's request into native chat messages; this module
renders them as the native route does, so the same conversation gives the same
text on ``/api/chat``, ``/v1/messages`` and ``/v1/responses``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import generation
from .store import InstalledModel


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
