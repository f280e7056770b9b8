"""Turn a rejected request into the status and message real Ollama gives.

Ollama's server is Go: request bodies go through ``encoding/json`` into typed
structs, so a wrong type yields Go's decoder message, options go through
``Options.FromMap``, ``keep_alive`` through ``time.ParseDuration`` and ``think``
through ``ThinkValue.UnmarshalJSON``. Both servers validate with the spec and use
this module to answer with the same words, so clients that match on messages
see no difference.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ollama_harness.core.spec import SpecIssue

# Go struct behind each operation's body, for decoder messages.
_GO_STRUCT = {
    "generate": "GenerateRequest",
    "chat": "ChatRequest",
    "embed": "EmbedRequest",
    "embeddings": "EmbeddingRequest",
    "show": "ShowRequest",
    "create": "CreateRequest",
    "copy": "CopyRequest",
    "pull": "PullRequest",
    "push": "PushRequest",
    "delete": "DeleteRequest",
    "anthropicMessages": "MessagesRequest",
    "openaiResponses": "ResponsesRequest",
}

# Go type of the JSON schema type a field declares.
_GO_TYPE = {
    "string": "string",
    "boolean": "bool",
    "integer": "int",
    "number": "float64",
    "array": "[]interface {}",
    "object": "map[string]interface {}",
}

# How Options.FromMap names a field's kind.
_OPTION_KIND = {
    "integer": "integer",
    "number": "float32",
    "boolean": "boolean",
    "string": "string",
    "array": "array",
}

# What missing `model` gives, per operation (status, message).
_MISSING_MODEL: dict[str, tuple[int, str]] = {
    "generate": (404, "model '' not found"),
    "chat": (400, "model is required"),
    "embed": (404, "model '' not found"),
    "embeddings": (400, "model is required"),
    "show": (400, "model is required"),
    "delete": (400, "model is required"),
    "copy": (400, "source and destination are required"),
    "pull": (400, "invalid model name"),
    "push": (400, "model is required"),  # PushHandler checks presence, not grammar
    "create": (400, "invalid model name"),
}

_NAME_FIELDS = ("model", "name", "source", "destination", "from")


# Not frozen/slotted: Python must be able to set ``__traceback__`` on a raised
# exception (a frozen dataclass refuses, and Starlette's handlers then crash).
# eq=False keeps exceptions hashable by identity, as exceptions usually are.
@dataclass(eq=False)
class ApiError(Exception):
    """A request refused before any byte of the answer was sent."""

    status: int
    message: str

    def body(self) -> dict[str, str]:
        return {"error": self.message}


def _json_kind(value: Any) -> str:
    """The JSON type word Go's decoder uses in ``cannot unmarshal X into``."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "null"


def _go_kind(value: Any) -> str:
    """Go's reflect name of a decoded value, as in ``Unsupported type: 'bool'``."""
    return {
        "bool": "bool",
        "number": "float64",
        "string": "string",
        "array": "[]interface {}",
        "object": "map[string]interface {}",
    }.get(_json_kind(value), "<nil>")


def decode_body(raw: bytes, operation_id: str) -> Any:
    """Parse a request body as Ollama does; raise :class:`ApiError` like it would."""
    if not raw.strip():
        raise ApiError(400, "missing request body")
    try:
        body = json.loads(raw)
    except UnicodeDecodeError:
        raise ApiError(400, "invalid character looking for beginning of value") from None
    except json.JSONDecodeError as exc:
        if exc.pos >= len(raw.rstrip()):
            raise ApiError(400, "unexpected EOF") from None
        char = raw.decode("utf-8", "replace")[exc.pos]
        raise ApiError(400, f"invalid character {char!r} looking for beginning of value") from None
    if not isinstance(body, dict):
        struct = _GO_STRUCT.get(operation_id, "Request")
        raise ApiError(
            400, f"json: cannot unmarshal {_json_kind(body)} into Go value of type api.{struct}"
        )
    return body


def _segments(path: str) -> list[str]:
    """``$.options.stop[0]`` -> ``["options", "stop", "0"]``."""
    out: list[str] = []
    for part in path.lstrip("$").replace("[", ".").replace("]", "").split("."):
        if part:
            out.append(part)
    return out


def _value_at(body: Any, parts: list[str]) -> Any:
    node = body
    for part in parts:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def _expected_type(message: str) -> str:
    """The schema type a jsonschema ``type`` message names (first one listed)."""
    for word in ("integer", "number", "boolean", "string", "array", "object"):
        if f"'{word}'" in message:
            return word
    return "string"


def _invalid_name_error(operation_id: str, field: str, value: Any) -> ApiError:
    if operation_id == "delete":
        return ApiError(400, f'name "{value}" is invalid')
    if operation_id == "copy" and field in ("source", "destination"):
        return ApiError(400, f'{field} "{value}" is invalid')
    return ApiError(400, "invalid model name")


def translate_issue(operation_id: str, body: Any, issue: SpecIssue) -> ApiError:
    """The Ollama error for the first spec violation of a request body."""
    if operation_id == "anthropicMessages":
        from ollama_harness.core.protocol import anthropic

        worded = anthropic.translate_issue(body, issue)
        if worded is not None:
            return worded
    if operation_id.startswith("openai"):
        # The /v1 middleware words a few refusals itself; the rest as the native API.
        from ollama_harness.core.protocol import openai

        worded = openai.translate_issue(body, issue)
        if worded is not None:
            return worded
    parts = _segments(issue.path)
    value = _value_at(body, parts)
    head = parts[0] if parts else ""
    struct = _GO_STRUCT.get(operation_id, "Request")

    if issue.rule == "required" or (not parts and issue.rule in ("anyOf", "oneOf")):
        missing = issue.message.split("'")[1] if "'" in issue.message else ""
        if missing in ("model", "name", "") and operation_id in _MISSING_MODEL:
            status, message = _MISSING_MODEL[operation_id]
            return ApiError(status, message)
        if operation_id == "copy" and missing in ("source", "destination"):
            return ApiError(*_MISSING_MODEL["copy"])
        return ApiError(400, f"{missing} is required" if missing else issue.message)

    if head in _NAME_FIELDS and len(parts) == 1 and isinstance(value, str):
        return _invalid_name_error(operation_id, head, value)

    if head == "options" and len(parts) >= 2:
        key = parts[1]
        if len(parts) > 2:
            return ApiError(400, f'option "{key}" must be of an array of strings')
        kind = _OPTION_KIND.get(_expected_type(issue.message), "string")
        if issue.rule == "type":
            return ApiError(400, f'option "{key}" must be of type {kind}')
        return ApiError(400, f'invalid value for option "{key}": {issue.message}')

    if head == "keep_alive":
        if isinstance(value, str):
            return ApiError(400, f'time: invalid duration "{value}"')
        return ApiError(400, f"Unsupported type: '{_go_kind(value)}'")

    if head == "think":
        if isinstance(value, str):
            return ApiError(
                400,
                f'invalid think value: "{value}" '
                '(must be "high", "medium", "low", "max", true, or false)',
            )
        return ApiError(
            400, 'think must be a boolean or string ("high", "medium", "low", true, or false)'
        )

    if head == "format":
        shown = value if isinstance(value, str) else _json_kind(value)
        return ApiError(
            400, f'invalid format: "{shown}"; expected "json" or a valid JSON Schema object'
        )

    if head == "top_logprobs":
        return ApiError(400, "top_logprobs must be between 0 and 20")

    if head == "input" and operation_id == "embed":
        return ApiError(400, "invalid input type")

    if issue.rule == "type":
        field = ".".join(p for p in parts if not p.isdigit()) or "value"
        go_type = _GO_TYPE[_expected_type(issue.message)]
        return ApiError(
            400,
            f"json: cannot unmarshal {_json_kind(value)} into Go struct field "
            f"{struct}.{field} of type {go_type}",
        )
    return ApiError(400, f"invalid request: {issue.path}: {issue.message}")


def request_error(operation_id: str, body: Any, issues: list[SpecIssue]) -> ApiError | None:
    """None when the body is valid, else the error for its most relevant issue."""
    if not issues:
        return None
    return translate_issue(operation_id, body, issues[0])


def openai_error(status: int, message: str) -> dict[str, Any]:
    """The OpenAI error envelope the ``/v1`` routes answer with."""
    kind = {400: "invalid_request_error", 404: "not_found_error"}.get(status, "api_error")
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}
