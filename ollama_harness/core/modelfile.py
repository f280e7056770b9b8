"""Modelfiles: parse the text into a :class:`Modelfile`, render one back.

The grammar is Ollama's (``parser/parser.go``): one instruction per line,
case-insensitive (``FROM``, ``ADAPTER``, ``TEMPLATE``, ``SYSTEM``, ``PARAMETER``,
``MESSAGE``, ``LICENSE``, plus ``RENDERER``, ``PARSER`` and ``REQUIRES``), ``#``
comments on their own lines, values bare to the end of the line, ``"quoted"``
(``\\"`` escapes a quote, may span lines) or ``\"\"\"triple quoted\"\"\"``.

``PARAMETER`` values are converted with the types of the spec's ``Options``
schema, as Ollama's ``api.FormatParams`` does with its ``Options`` struct: an
unknown key or a value of the wrong kind is an error with Ollama's words.
:func:`render_modelfile` writes what ``/api/show`` returns as ``modelfile``,
byte for byte the form Ollama's ``Model.String`` gives.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

COMMANDS = (
    "from",
    "license",
    "template",
    "system",
    "adapter",
    "renderer",
    "parser",
    "parameter",
    "message",
    "requires",
)
MESSAGE_ROLES = ("system", "user", "assistant")

INVALID_COMMAND = (
    'command must be one of "from", "license", "template", "system", "adapter", '
    '"renderer", "parser", "parameter", or "message"'
)
INVALID_ROLE = 'message role must be one of "system", "user", or "assistant"'
MISSING_FROM = "no FROM line"


class ModelfileError(ValueError):
    """Text that is not a Modelfile, or a PARAMETER Ollama would refuse."""


@dataclass
class Modelfile:
    """What a Modelfile says, in the shape ``/api/create`` takes it."""

    from_: str | None = None
    adapters: list[str] = field(default_factory=list)
    template: str | None = None
    system: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, str]] = field(default_factory=list)
    license: list[str] = field(default_factory=list)
    renderer: str | None = None
    parser: str | None = None
    requires: str | None = None

    def create_fields(self) -> dict[str, Any]:
        """The equivalent ``/api/create`` body fields (``from`` for FROM)."""
        out: dict[str, Any] = {}
        if self.from_ is not None:
            out["from"] = self.from_
        for key in ("template", "system", "renderer", "parser", "requires"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.parameters:
            out["parameters"] = dict(self.parameters)
        if self.messages:
            out["messages"] = [dict(m) for m in self.messages]
        if self.license:
            out["license"] = list(self.license)
        return out


# -- parameter types -----------------------------------------------------------------


@cache
def option_types() -> dict[str, str]:
    """Option name -> JSON schema type, read from the spec's ``Options`` schema."""
    from ollama_harness.core.spec import load_spec

    properties = load_spec().schema("Options").get("properties", {})
    out: dict[str, str] = {}
    for key, schema in properties.items():
        if isinstance(schema, dict) and isinstance(schema.get("type"), str):
            out[key] = schema["type"]
    return out


def convert_parameter(key: str, raw: str, types: Mapping[str, str] | None = None) -> Any:
    """One PARAMETER value as the type its option has (``api.FormatParams``)."""
    kinds = option_types() if types is None else types
    kind = kinds.get(key)
    if kind is None:
        raise ModelfileError(f"unknown parameter '{key}'")
    if kind == "number":
        try:
            value = float(raw)
        except ValueError:
            raise ModelfileError(f"invalid float value [{raw}]") from None
        if math.isnan(value) and raw.strip().lower() not in ("nan", "+nan", "-nan"):
            raise ModelfileError(f"invalid float value [{raw}]")
        return value
    if kind == "integer":
        try:
            return int(raw, 10)
        except ValueError:
            raise ModelfileError(f"invalid int value [{raw}]") from None
    if kind == "boolean":
        # strconv.ParseBool's spellings.
        if raw in ("1", "t", "T", "TRUE", "true", "True"):
            return True
        if raw in ("0", "f", "F", "FALSE", "false", "False"):
            return False
        raise ModelfileError(f"invalid bool value [{raw}]")
    return raw


def parameters_from_pairs(
    pairs: list[tuple[str, str]], types: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """``[("stop", "a"), ("stop", "b"), ("top_k", "5")]`` -> ``{"stop": ["a", "b"], "top_k": 5}``.

    A repeated scalar key keeps its first value, as Ollama's ``vals[0]`` does;
    array options (``stop``) collect every value in order.
    """
    kinds = option_types() if types is None else types
    grouped: dict[str, list[str]] = {}
    for key, value in pairs:
        grouped.setdefault(key, []).append(value)
    out: dict[str, Any] = {}
    for key, values in grouped.items():
        if kinds.get(key) == "array":
            out[key] = list(values)
        else:
            out[key] = convert_parameter(key, values[0], kinds)
    return out


# -- parsing -------------------------------------------------------------------------


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text.replace("\r\n", "\n")
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def skip_blank(self) -> None:
        while not self.at_end() and self.text[self.pos] in " \t":
            self.pos += 1

    def word(self) -> str:
        start = self.pos
        while not self.at_end() and not self.text[self.pos].isspace():
            self.pos += 1
        return self.text[start : self.pos]

    def rest_of_line(self) -> str:
        end = self.text.find("\n", self.pos)
        end = len(self.text) if end < 0 else end
        line = self.text[self.pos : end]
        self.pos = end
        return line

    def value(self) -> str:
        """A bare, quoted or triple-quoted value; the reader ends after it."""
        self.skip_blank()
        if self.text.startswith('"""', self.pos):
            end = self.text.find('"""', self.pos + 3)
            if end < 0:
                raise ModelfileError("unexpected EOF")
            out = self.text[self.pos + 3 : end]
            self.pos = end + 3
            self._expect_line_end()
            return out
        if self.text.startswith('"', self.pos):
            chars: list[str] = []
            index = self.pos + 1
            while index < len(self.text):
                char = self.text[index]
                if char == "\\" and self.text.startswith('"', index + 1):
                    chars.append(self.text[index + 1])
                    index += 2
                    continue
                if char == '"':
                    self.pos = index + 1
                    self._expect_line_end()
                    return "".join(chars)
                chars.append(char)
                index += 1
            raise ModelfileError("unexpected EOF")
        return self.rest_of_line().strip()

    def _expect_line_end(self) -> None:
        trailing = self.rest_of_line()
        if trailing.strip():
            raise ModelfileError(f"unexpected text after closing quote: {trailing.strip()!r}")


def parse_modelfile(text: str, types: Mapping[str, str] | None = None) -> Modelfile:
    """Parse Modelfile text; :class:`ModelfileError` with Ollama's message otherwise."""
    reader = _Reader(text)
    result = Modelfile()
    pairs: list[tuple[str, str]] = []
    while not reader.at_end():
        reader.skip_blank()
        if reader.at_end():
            break
        char = reader.text[reader.pos]
        if char == "\n":
            reader.pos += 1
            continue
        if char == "#":
            reader.rest_of_line()
            continue
        command = reader.word().lower()
        if command not in COMMANDS:
            raise ModelfileError(INVALID_COMMAND)
        if command == "parameter":
            reader.skip_blank()
            key = reader.word()
            if not key:
                raise ModelfileError("missing value for [parameter]")
            pairs.append((key, reader.value()))
            continue
        if command == "message":
            reader.skip_blank()
            role = reader.word().lower()
            if role not in MESSAGE_ROLES:
                raise ModelfileError(INVALID_ROLE)
            result.messages.append({"role": role, "content": reader.value()})
            continue
        value = reader.value()
        if not value and command in ("from", "adapter"):
            raise ModelfileError(f"missing value for [{command}]")
        if command == "from":
            result.from_ = value
        elif command == "adapter":
            result.adapters.append(value)
        elif command == "license":
            result.license.append(value)
        else:
            setattr(result, command, value)
    result.parameters = parameters_from_pairs(pairs, types)
    return result


# -- rendering -----------------------------------------------------------------------


def quote(text: str) -> str:
    """Ollama's ``parser.quote``: quote only what would not survive as a bare value."""
    if "\n" in text or text.startswith(" ") or text.endswith(" "):
        if '"' in text:
            return f'"""{text}"""'
        return f'"{text}"'
    return text


def format_value(value: Any) -> str:
    """A parameter value as Go's ``%v`` prints it (``true``, ``0.7``, ``40``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}" if math.isfinite(value) and abs(value) < 1e21 else repr(value)
    return str(value)


def parameters_text(parameters: Mapping[str, Any]) -> str:
    """``/api/show``'s ``parameters``: one ``key value`` row per value, keys padded to 30,
    values as Go's ``%#v`` prints them (strings quoted)."""
    rows: list[str] = []
    for key, value in parameters.items():
        values = value if isinstance(value, list) else [value]
        for item in values:
            shown = json.dumps(item, ensure_ascii=False) if isinstance(item, str) else None
            rows.append(f"{key:<30} {shown if shown is not None else format_value(item)}")
    return "\n".join(rows)


def render_modelfile(
    modelfile: Modelfile, *, name: str | None = None, model_path: str | None = None
) -> str:
    """The Modelfile text ``/api/show`` returns (with its header when ``name`` is given).

    ``model_path`` replaces ``FROM`` (Ollama prints the weights blob's path there).
    """
    lines: list[str] = []
    if name is not None:
        lines += [
            '# Modelfile generated by "ollama show"',
            "# To build a new Modelfile based on this, replace FROM with:",
            f"# FROM {name}",
            "",
        ]
    source = model_path if model_path is not None else modelfile.from_
    if source:
        lines.append(f"FROM {source}")
    lines += [f"ADAPTER {quote(path)}" for path in modelfile.adapters]
    if modelfile.template is not None:
        lines.append(f"TEMPLATE {quote(modelfile.template)}")
    if modelfile.system:
        lines.append(f"SYSTEM {quote(modelfile.system)}")
    if modelfile.renderer:
        lines.append(f"RENDERER {quote(modelfile.renderer)}")
    if modelfile.parser:
        lines.append(f"PARSER {quote(modelfile.parser)}")
    for key, value in modelfile.parameters.items():
        values = value if isinstance(value, list) else [value]
        lines += [f"PARAMETER {key} {quote(format_value(item))}" for item in values]
    lines += [f"LICENSE {quote(text)}" for text in modelfile.license]
    lines += [
        f"MESSAGE {message.get('role', '')} {quote(str(message.get('content', '')))}"
        for message in modelfile.messages
    ]
    return "".join(f"{line}\n" for line in lines)


__all__ = [
    "COMMANDS",
    "INVALID_COMMAND",
    "INVALID_ROLE",
    "MISSING_FROM",
    "Modelfile",
    "ModelfileError",
    "convert_parameter",
    "format_value",
    "option_types",
    "parameters_from_pairs",
    "parameters_text",
    "parse_modelfile",
    "quote",
    "render_modelfile",
]
