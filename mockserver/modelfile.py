"""Modelfiles: read the legacy ``modelfile`` field of /api/create, write /api/show's.

Only the instructions Ollama knows are accepted (FROM, PARAMETER, TEMPLATE, SYSTEM,
ADAPTER, LICENSE, MESSAGE, REQUIRES); values may be quoted or triple-quoted.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ollama_harness.errors import ApiError

from .catalogue import ModelEntry

_COMMANDS = {"from", "parameter", "template", "system", "adapter", "license", "message", "requires"}
_LIST_PARAMS = {"stop"}
_INT_PARAMS = {
    "num_ctx",
    "num_predict",
    "top_k",
    "seed",
    "num_keep",
    "repeat_last_n",
    "num_batch",
    "num_gpu",
    "num_thread",
}


@dataclass
class Modelfile:
    base: str | None = None
    template: str | None = None
    system: str | None = None
    license: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, str]] = field(default_factory=list)
    adapters: list[str] = field(default_factory=list)


def _unquote(text: str) -> str:
    text = text.strip()
    for quote in ('"""', '"'):
        if len(text) >= 2 * len(quote) and text.startswith(quote) and text.endswith(quote):
            return text[len(quote) : -len(quote)]
    return text


def _parameter_value(key: str, raw: str) -> Any:
    raw = _unquote(raw)
    if key in _INT_PARAMS:
        try:
            return int(raw)
        except ValueError:
            raise ApiError(400, f"invalid int value [{raw}]") from None
    if key in _LIST_PARAMS:
        return raw
    try:
        return float(raw) if "." in raw or "e" in raw.lower() else int(raw)
    except ValueError:
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        return raw


def parse(text: str) -> Modelfile:
    """Parse Modelfile text; an unknown instruction is a 400 like Ollama's parser gives."""
    result = Modelfile()
    # Split into instructions; a triple-quoted value may span lines.
    pattern = re.compile(r'^\s*(\w+)\s+("""[\s\S]*?"""|[^\n]*)', re.MULTILINE)
    position = 0
    for match in pattern.finditer(text):
        gap = text[position : match.start()]
        position = match.end()
        for line in gap.splitlines():
            if line.strip() and not line.strip().startswith("#"):
                raise ApiError(400, f"command must be one of {_command_list()}")
        command, value = match.group(1).lower(), match.group(2)
        if command.startswith("#") or match.group(0).lstrip().startswith("#"):
            continue
        if command not in _COMMANDS:
            raise ApiError(400, f"command must be one of {_command_list()}")
        if command == "from":
            result.base = _unquote(value)
        elif command == "template":
            result.template = _unquote(value)
        elif command == "system":
            result.system = _unquote(value)
        elif command == "license":
            result.license.append(_unquote(value))
        elif command == "adapter":
            result.adapters.append(_unquote(value))
        elif command == "parameter":
            key, _, raw = value.strip().partition(" ")
            key = key.strip().lower()
            parsed = _parameter_value(key, raw)
            if key in _LIST_PARAMS:
                result.parameters.setdefault(key, []).append(parsed)
            else:
                result.parameters[key] = parsed
        elif command == "message":
            role, _, content = value.strip().partition(" ")
            if role not in ("system", "user", "assistant", "tool"):
                raise ApiError(400, 'role must be one of "system", "user", or "assistant"')
            result.messages.append({"role": role, "content": _unquote(content)})
    tail = text[position:]
    for line in tail.splitlines():
        if line.strip() and not line.strip().startswith("#"):
            raise ApiError(400, f"command must be one of {_command_list()}")
    if result.base is None:
        raise ApiError(400, "no FROM line")
    return result


def _command_list() -> str:
    return (
        '"from", "license", "template", "system", "adapter", "renderer", "parser", '
        '"parameter", or "message"'
    )


def parameters_text(parameters: dict[str, Any]) -> str:
    """/api/show's ``parameters``: one ``key value`` line per value, keys padded."""
    lines = []
    for key in sorted(parameters):
        values = parameters[key] if isinstance(parameters[key], list) else [parameters[key]]
        for value in values:
            shown = json.dumps(value) if isinstance(value, str) else _number(value)
            lines.append(f"{key:<30} {shown}")
    return "\n".join(lines)


def _number(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render(display: str, entry: ModelEntry, weights_digest: str) -> str:
    """The ``modelfile`` /api/show returns, as ``ollama show --modelfile`` prints it."""
    blob = weights_digest.replace(":", "-")
    out = [
        '# Modelfile generated by "ollama show"',
        "# To build a new Modelfile based on this, replace FROM with:",
        f"# FROM {display}",
        "",
        f"FROM /root/.ollama/models/blobs/{blob}",
    ]
    if entry.template:
        out.append(f'TEMPLATE """{entry.template}"""')
    if entry.system:
        out.append(f'SYSTEM """{entry.system}"""')
    for key in sorted(entry.parameters):
        values = (
            entry.parameters[key]
            if isinstance(entry.parameters[key], list)
            else [entry.parameters[key]]
        )
        for value in values:
            out.append(
                f"PARAMETER {key} {json.dumps(value) if isinstance(value, str) else _number(value)}"
            )
    for message in entry.messages:
        out.append(f"MESSAGE {message.get('role', 'user')} {message.get('content', '')}")
    if entry.license:
        out.append(f'LICENSE """{entry.license}"""')
    return "\n".join(out) + "\n"
