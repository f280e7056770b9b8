"""The OpenAI Responses API (``POST /v1/responses``) as a translation of native chat.

Ollama supports its non-stateful flavour only: ``instructions`` and ``input`` (a
string or items) become a native chat request, the native answer a ``response``
object or, streamed, the ``response.*`` events. Both servers use these functions:
:func:`to_chat` on the request side, :func:`response` and :class:`StreamEvents` on
the answer side (errors use the ``/v1`` envelope, :func:`errors.openai_error`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ollama_harness.core.errors import ApiError
from ollama_harness.core.protocol import framing

RESPONSE = "response"
_EFFORTS: dict[str, bool | str] = {"none": False, "minimal": "low", "xhigh": "max", "ultra": "max"}
_EFFORT_WORDS = '"minimal", "low", "medium", "high", "xhigh", "ultra", "max", or "none"'


@dataclass
class Chat:
    """A Responses request as the native chat request it becomes."""

    messages: list[dict[str, Any]]
    options: dict[str, Any]
    tools: list[dict[str, Any]]
    format: Any
    think: bool | str | None
    stream: bool
    images: list[str]


def _content(parts: Any) -> tuple[str, list[str]]:
    if isinstance(parts, str):
        return parts, []
    text, images = "", []
    for index, part in enumerate(parts if isinstance(parts, list) else []):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in ("input_text", "output_text"):
            text += str(part.get("text", ""))
        elif kind == "input_image":
            url = str(part.get("image_url") or "")
            if url:
                images.append(url.split(",", 1)[1] if url.startswith("data:") else url)
        elif kind == "input_file":
            raise ApiError(400, "file inputs are not currently supported")
        else:
            raise ApiError(400, f"content[{index}]: unknown content type: {kind}")
    return text, images


def think(effort: Any) -> bool | str | None:
    """thinkFromReasoningEffort."""
    if effort in (None, ""):
        return None
    if effort in _EFFORTS:
        mapped: bool | str = _EFFORTS[effort]
        return mapped
    if effort in ("low", "medium", "high", "max"):
        return str(effort)
    raise ApiError(400, f"invalid reasoning value: {effort!r} (must be {_EFFORT_WORDS})")


def _arguments(text: str) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ApiError(400, f"failed to parse function call arguments: {exc}") from None
    return value if isinstance(value, dict) else {}


def _items(items: list[Any]) -> list[dict[str, Any]]:
    """FromResponsesRequest's walk over the input items."""
    messages: list[dict[str, Any]] = []
    pending_thinking = ""
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ApiError(400, f"input[{index}]: input item must be an object")
        kind = item.get("type") or ("message" if "role" in item else "")
        if kind == "reasoning":
            pending_thinking = str(item.get("encrypted_content") or "")
        elif kind == "message":
            text, images = _content(item.get("content"))
            message: dict[str, Any] = {"role": str(item.get("role", "")), "content": text}
            if images:
                message["images"] = images
            if message["role"] == "assistant" and pending_thinking:
                message["thinking"], pending_thinking = pending_thinking, ""
            messages.append(message)
        elif kind == "function_call":
            call = {
                "id": str(item.get("call_id", "")),
                "function": {
                    "name": str(item.get("name", "")),
                    "arguments": _arguments(str(item.get("arguments") or "")),
                },
            }
            if messages and messages[-1]["role"] == "assistant":
                messages[-1].setdefault("tool_calls", []).append(call)
            else:
                messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
            if pending_thinking:
                messages[-1]["thinking"], pending_thinking = pending_thinking, ""
        elif kind == "function_call_output":
            output = item.get("output")
            text, images = _content(output) if isinstance(output, list) else (str(output), [])
            tool: dict[str, Any] = {"role": "tool", "content": text}
            if images:
                tool["images"] = images
            tool["tool_call_id"] = str(item.get("call_id", ""))
            messages.append(tool)
        elif not kind:
            raise ApiError(400, f"input[{index}]: input item missing required 'type' field")
        else:
            raise ApiError(400, f"input[{index}]: unknown input item type: {kind!r}")
    if pending_thinking:
        messages.append({"role": "assistant", "content": "", "thinking": pending_thinking})
    return messages


def to_chat(body: dict[str, Any]) -> Chat:
    """FromResponsesRequest: instructions as the system message, then the input."""
    messages: list[dict[str, Any]] = []
    if body.get("instructions"):
        messages.append({"role": "system", "content": str(body["instructions"])})
    sent = body.get("input")
    if isinstance(sent, str) and sent:
        messages.append({"role": "user", "content": sent})
    elif isinstance(sent, list):
        messages.extend(_items(sent))
    temperature = body.get("temperature")
    options: dict[str, Any] = {"temperature": 1.0 if temperature is None else temperature}
    if body.get("top_p") is not None:
        options["top_p"] = body["top_p"]
    if body.get("max_output_tokens") is not None:
        options["num_predict"] = body["max_output_tokens"]
    reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
    thinks = think((reasoning or {}).get("effort"))
    tools = [
        {
            "type": "function",
            "function": {
                "name": str(tool.get("name", "")),
                "description": tool.get("description") or "",
                "parameters": tool.get("parameters") or {"type": "object", "properties": {}},
            },
        }
        for tool in body.get("tools") or []
        if isinstance(tool, dict) and tool.get("type") == "function"
    ]
    text = body.get("text") if isinstance(body.get("text"), dict) else {}
    wanted = (text or {}).get("format")
    schema = wanted.get("schema") if isinstance(wanted, dict) else None
    fmt = schema if isinstance(wanted, dict) and wanted.get("type") == "json_schema" else None
    images = [i for m in messages for i in m.get("images", [])]
    return Chat(messages, options, tools, fmt, thinks, body.get("stream") is True, images)


# -- the answer ----------------------------------------------------------------------


def usage(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "total_tokens": input_tokens + output_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens_details": {"reasoning_tokens": 0},
    }


def output_text(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(ident: str, text: str, status: str = "completed") -> dict[str, Any]:
    content = [output_text(text)] if status == "completed" else []
    return {
        "id": ident,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def reasoning_item(ident: str, thinking: str) -> dict[str, Any]:
    return {
        "id": ident,
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": thinking}],
        "encrypted_content": thinking,
    }


def function_call_item(
    ident: str, call_id: str, name: str, arguments: str, status: str = "completed"
) -> dict[str, Any]:
    return {
        "id": ident,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def response(
    body: dict[str, Any],
    ident: str,
    model: str,
    *,
    created: int,
    status: str,
    output: list[dict[str, Any]],
    usage_now: dict[str, Any] | None,
) -> dict[str, Any]:
    """The response object (ToResponse / buildResponseObject): the request echoed back."""
    text = body.get("text") if isinstance(body.get("text"), dict) else None
    wanted = text.get("format") if text else None
    reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
    effort, summary = (reasoning or {}).get("effort"), (reasoning or {}).get("summary")
    temperature, top_p = body.get("temperature"), body.get("top_p")
    return {
        "id": ident,
        "object": RESPONSE,
        "created_at": created,
        "completed_at": created if status == "completed" else None,
        "status": status,
        "incomplete_details": None,
        "model": model,
        "previous_response_id": None,
        "instructions": body.get("instructions") or None,
        "output": output,
        "error": None,
        "tools": [t for t in body.get("tools") or [] if isinstance(t, dict)],
        "tool_choice": "auto",
        "truncation": body.get("truncation") or "disabled",
        "parallel_tool_calls": True,
        "text": {"format": wanted if isinstance(wanted, dict) else {"type": "text"}},
        "top_p": 1.0 if top_p is None else top_p,
        "presence_penalty": 0,
        "frequency_penalty": 0,
        "top_logprobs": 0,
        "temperature": 1.0 if temperature is None else temperature,
        "reasoning": {"effort": effort, "summary": summary} if effort or summary else None,
        "usage": usage_now,
        "max_output_tokens": body.get("max_output_tokens"),
        "max_tool_calls": None,
        "store": False,
        "background": bool(body.get("background")),
        "service_tier": "default",
        "metadata": {},
        "safety_identifier": None,
        "prompt_cache_key": None,
    }


class StreamEvents:
    """ResponsesStreamConverter: the numbered events of one streamed response.

    ``response.created`` and ``response.in_progress`` first; a reasoning item, then
    function-call items or one message item, each added before its deltas and done
    after them; ``response.completed`` (with usage and the whole output) last.
    """

    def __init__(self, body: dict[str, Any], ident: str, model: str, created: int) -> None:
        self.body = body
        self.ident = ident
        self.model = model
        self.created = created
        self.sequence = 0
        self.output: list[dict[str, Any]] = []
        self.reasoning = ""
        self.text: str | None = None  # the message item's text once it started
        self.tool_calls = False

    def _id(self, kind: str) -> str:
        return f"{kind}_{self.ident.removeprefix('resp_')}_{len(self.output)}"

    def event(self, data: dict[str, Any]) -> bytes:
        data = {"type": data.pop("type"), "sequence_number": self.sequence, **data}
        self.sequence += 1
        return framing.sse_named_event(str(data["type"]), data)

    def _response(self, status: str, usage_now: dict[str, Any] | None) -> dict[str, Any]:
        output = self.output if status == "completed" else []
        return response(
            self.body,
            self.ident,
            self.model,
            created=self.created,
            status=status,
            output=output,
            usage_now=usage_now,
        )

    def start(self) -> bytes:
        created = {"type": "response.created", "response": self._response("in_progress", None)}
        going = {"type": "response.in_progress", "response": self._response("in_progress", None)}
        return self.event(created) + self.event(going)

    def thinking(self, text: str) -> bytes:
        out = b""
        index, ident = len(self.output), self._id("rs")
        if not self.reasoning:
            item = {"id": ident, "type": "reasoning", "summary": []}
            out += self.event(
                {"type": "response.output_item.added", "output_index": index, "item": item}
            )
        self.reasoning += text
        return out + self.event(
            {
                "type": "response.reasoning_summary_text.delta",
                "item_id": ident,
                "output_index": index,
                "summary_index": 0,
                "delta": text,
            }
        )

    def _finish_reasoning(self) -> bytes:
        if not self.reasoning:
            return b""
        index, ident = len(self.output), self._id("rs")
        item = reasoning_item(ident, self.reasoning)
        self.reasoning = ""
        self.output.append(item)
        done = {
            "type": "response.reasoning_summary_text.done",
            "item_id": ident,
            "output_index": index,
            "summary_index": 0,
            "text": item["encrypted_content"],
        }
        added = {"type": "response.output_item.done", "output_index": index, "item": item}
        return self.event(done) + self.event(added)

    def tool_call(self, call_id: str, name: str, arguments: dict[str, Any]) -> bytes:
        out = self._finish_reasoning()
        self.tool_calls = True
        index, ident = len(self.output), self._id("fc")
        text = orjson.dumps(arguments).decode()
        item = function_call_item(ident, call_id, name, text)
        self.output.append(item)
        started = function_call_item(ident, call_id, name, "", "in_progress")
        common = {"item_id": ident, "output_index": index}
        return out + b"".join(
            self.event(e)
            for e in (
                {"type": "response.output_item.added", "output_index": index, "item": started},
                {"type": "response.function_call_arguments.delta", **common, "delta": text},
                {"type": "response.function_call_arguments.done", **common, "arguments": text},
                {"type": "response.output_item.done", "output_index": index, "item": item},
            )
        )

    def text_delta(self, text: str) -> bytes:
        if self.tool_calls:
            return b""  # Ollama drops text once a tool call went out
        out = self._finish_reasoning()
        index, ident = len(self.output), self._id("msg")
        common = {"item_id": ident, "output_index": index, "content_index": 0}
        if self.text is None:
            self.text = ""
            item = message_item(ident, "", "in_progress")
            out += self.event(
                {"type": "response.output_item.added", "output_index": index, "item": item}
            )
            out += self.event(
                {"type": "response.content_part.added", **common, "part": output_text("")}
            )
        self.text += text
        return out + self.event(
            {"type": "response.output_text.delta", **common, "delta": text, "logprobs": []}
        )

    def end(self, input_tokens: int, output_tokens: int) -> bytes:
        out = self._finish_reasoning()
        if self.text is not None:
            index, ident = len(self.output), self._id("msg")
            common = {"item_id": ident, "output_index": index, "content_index": 0}
            item = message_item(ident, self.text)
            self.output.append(item)
            out += self.event(
                {"type": "response.output_text.done", **common, "text": self.text, "logprobs": []}
            )
            out += self.event(
                {"type": "response.content_part.done", **common, "part": output_text(self.text)}
            )
            out += self.event(
                {"type": "response.output_item.done", "output_index": index, "item": item}
            )
        done = self._response("completed", usage(input_tokens, output_tokens))
        return out + self.event({"type": "response.completed", "response": done})

    def error(self, message: str) -> bytes:
        """The last event of a stream that failed after it started."""
        return self.event({"type": "error", "code": "api_error", "message": message, "param": None})


def whole_output(
    ident: str, thinking: str, text: str, calls: list[tuple[str, str, dict[str, Any]]]
) -> list[dict[str, Any]]:
    """ToResponse's output: reasoning, then function calls or else one message."""
    suffix = ident.removeprefix("resp_")
    output: list[dict[str, Any]] = []
    if thinking:
        output.append(reasoning_item(f"rs_{suffix}_0", thinking))
    if calls:
        for call_id, name, arguments in calls:
            index = len(output)
            output.append(
                function_call_item(
                    f"fc_{suffix}_{index}", call_id, name, orjson.dumps(arguments).decode()
                )
            )
    else:
        output.append(message_item(f"msg_{suffix}_{len(output)}", text))
    return output


WIRE_STRINGS: tuple[str, ...] = (
    "response.output_text.delta",
    "response.completed",
    "response.function_call_arguments",
)
