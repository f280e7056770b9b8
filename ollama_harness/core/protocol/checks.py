"""The order in which a valid generate or chat request is refused (server/routes.go).

After the body is validated and the model found, Ollama first honours an unload
(empty prompt or no messages, ``keep_alive`` 0) without looking at capabilities,
then refuses what the model cannot do, then loads the model, and only then
answers an empty prompt with ``done_reason: "load"``. Both servers follow this:

1. ``unloads(empty, keep_alive)``: answer ``"unload"`` at once;
2. :func:`check_generate` / :func:`check_chat`: the first refusal, as ApiError;
3. an empty request: load the model and answer ``"load"``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from ollama_harness.core.errors import ApiError
from ollama_harness.core.protocol import messages


def unloads(empty: bool, keep_alive: object) -> bool:
    """An empty prompt (or no messages) with ``keep_alive`` 0 unloads the model."""
    return empty and keep_alive == 0


def _refuse_unless(capabilities: Collection[str], needed: str, model: str, what: str) -> None:
    if needed not in capabilities:
        raise ApiError(400, messages.does_not_support(model, what))


def check_think(model: str, think: Any, capabilities: Collection[str]) -> None:
    """A model without the thinking capability refuses a request to think."""
    if think not in (None, False) and "thinking" not in capabilities:
        raise ApiError(400, messages.does_not_support(model, "thinking"))


def check_images(images: Iterable[Any]) -> None:
    """Images travel as base64; Go's decoder refuses anything else."""
    for image in images:
        try:
            base64.b64decode(image, validate=True)
        except (binascii.Error, ValueError, TypeError):
            raise ApiError(400, messages.ILLEGAL_BASE64) from None


def check_generate(model: str, body: Mapping[str, Any], capabilities: Collection[str]) -> None:
    """``/api/generate``'s refusals, in Ollama's order."""
    if body.get("raw") and (body.get("template") or body.get("system") or body.get("context")):
        raise ApiError(400, messages.RAW_MODE_CONFLICT)
    _refuse_unless(capabilities, "completion", model, "generate")
    if body.get("suffix"):
        _refuse_unless(capabilities, "insert", model, "insert")
    check_think(model, body.get("think"), capabilities)
    images = body.get("images")
    if images:
        _refuse_unless(capabilities, "vision", model, "vision")
        check_images(images)


def check_chat(
    model: str,
    body: Mapping[str, Any],
    capabilities: Collection[str],
    *,
    think: Any = None,
    images: Sequence[Any] = (),
    base64_images: bool = True,
) -> None:
    """``/api/chat``'s refusals (and ``/v1/chat/completions``'), in Ollama's order.

    ``think`` is what the request asks for (the ``/v1`` routes translate
    ``reasoning_effort``); ``images`` those the conversation carries, checked as
    base64 unless ``base64_images`` is False (``/v1`` sends image URLs).
    """
    _refuse_unless(capabilities, "completion", model, "chat")
    if body.get("tools"):
        _refuse_unless(capabilities, "tools", model, "tools")
    check_think(model, think, capabilities)
    if images:
        _refuse_unless(capabilities, "vision", model, "vision")
        if base64_images:
            check_images(images)
