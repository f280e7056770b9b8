"""Tool calls parsed out of model output, incrementally, as Ollama's tools parser does.

The template tells us how the model writes a call: the literal text before the
``{{ range .ToolCalls }}`` of an assistant turn (``<tool_call>`` for ChatML,
``[TOOL_CALLS]`` for Mistral...), or nothing when calls are bare JSON. Text before
that tag streams out as content; once the tag is seen, the parser holds output
back and turns each complete ``{"name": ..., "arguments": {...}}`` object naming a
known tool into a call. Text that could still become the tag is held until it can
be decided, so a tag split across tokens is still recognised.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ollama_harness.realserver.prompt import JSONObject, ToolCall, ToolCallFunction

_DECODER = json.JSONDecoder()


def tool_call_prefix(template_source: str) -> str:
    """The text a model writes before its calls, read from the template ('' = bare JSON)."""
    match = re.search(r"\.ToolCalls\s*\}\}(.*?)\{\{-?\s*range\s+\.ToolCalls", template_source, re.S)
    if match is not None:
        prefix = re.sub(r"\{\{.*?\}\}", "", match[1]).strip().rstrip("[").strip()
        if prefix:
            return prefix
    for tag in ("<tool_call>", "[TOOL_CALLS]", "<|python_tag|>", "<function_call>"):
        if tag in template_source:
            return tag
    return ""


def _call_from(data: Any, names: set[str], index: int) -> ToolCall | None:
    if not isinstance(data, dict):
        return None
    name = data.get("name")
    arguments = data.get("arguments", data.get("parameters"))
    if isinstance(data.get("function"), dict):
        return _call_from(data["function"], names, index)
    if not isinstance(name, str) or (names and name not in names):
        return None
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            return None
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        return None
    return ToolCall(ToolCallFunction(Name=name, Arguments=JSONObject(arguments), Index=index))


@dataclass
class ToolCallParser:
    """Feed generated text; get back content to emit and the calls completed so far."""

    prefix: str
    tool_names: set[str]
    _buffer: str = ""
    _in_calls: bool = False
    _done: bool = False
    _count: int = 0
    calls: list[ToolCall] = field(default_factory=list)

    def feed(self, text: str) -> tuple[str, list[ToolCall]]:
        if self._done:
            return text, []
        self._buffer += text
        content = ""
        if not self._in_calls:
            content, self._buffer, self._in_calls = self._split_content(self._buffer)
        calls = self._extract() if self._in_calls else []
        return content, calls

    def _split_content(self, buffer: str) -> tuple[str, str, bool]:
        """(text safe to emit, text held back, whether a call has started)."""
        if self.prefix:
            at = buffer.find(self.prefix)
            if at >= 0:
                return buffer[:at], buffer[at + len(self.prefix) :], True
            # Hold back any tail that is the start of the prefix.
            for keep in range(min(len(self.prefix) - 1, len(buffer)), 0, -1):
                if self.prefix.startswith(buffer[-keep:]):
                    return buffer[:-keep], buffer[-keep:], False
            return buffer, "", False
        # Bare JSON: a call can only be the whole output, starting with '{' or '['.
        stripped = buffer.lstrip()
        if not stripped:
            return "", buffer, False
        if stripped[0] in "{[":
            return "", buffer, True
        self._done = True
        return buffer, "", False

    def _markup(self) -> tuple[str, ...]:
        closing = "</" + self.prefix[1:] if self.prefix.startswith("<") else ""
        return tuple(t for t in (self.prefix, closing, ",", "[", "]") if t)

    def _extract(self) -> list[ToolCall]:
        found: list[ToolCall] = []
        markup = self._markup()
        while True:
            # Skip what separates calls: whitespace, brackets, commas, open/close tags.
            text = self._buffer.lstrip()
            while token := next((t for t in markup if text.startswith(t)), ""):
                text = text[len(token) :].lstrip()
            self._buffer = text
            if not text.startswith("{"):
                return found  # nothing yet, or partial markup: wait for more tokens
            try:
                data, end = _DECODER.raw_decode(text)
            except ValueError:
                return found  # an incomplete object: wait for more tokens
            call = _call_from(data, self.tool_names, self._count)
            if call is not None:
                self._count += 1
                found.append(call)
                self.calls.append(call)
            self._buffer = text[end:]

    def flush(self) -> str:
        """At the end of generation: whatever was held and never became a call."""
        rest = self._buffer
        self._buffer = ""
        if self._in_calls and self.calls:
            # Trailing markup after complete calls is not content.
            return ""
        if self._in_calls and not self.calls:
            return (self.prefix + rest) if self.prefix else rest
        return rest
