"""Lines of the native API that both servers send the same way."""

from __future__ import annotations

from typing import Any


def empty_answer(model: str, created_at: str, reason: str, *, chat: bool) -> dict[str, Any]:
    """The one answer to an empty prompt (or no messages): ``done_reason`` load or unload."""
    line: dict[str, Any] = {"model": model, "created_at": created_at}
    if chat:
        line["message"] = {"role": "assistant", "content": ""}
    else:
        line["response"] = ""
    line["done"] = True
    line["done_reason"] = reason
    return line
