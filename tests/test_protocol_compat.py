"""The Anthropic Messages and OpenAI Responses translations of the protocol core,
against the facts of Ollama's anthropic/anthropic.go and openai/responses.go."""

from __future__ import annotations

import orjson
import pytest

from ollama_harness.core.errors import ApiError
from ollama_harness.core.protocol import anthropic, responses

PIXEL = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="  # noqa: E501


def test_messages_request_becomes_native_chat() -> None:
    chat = anthropic.to_chat(
        {
            "model": "m",
            "max_tokens": 7,
            "system": [{"type": "text", "text": "Be "}, {"type": "text", "text": "brief."}],
            "stop_sequences": ["END"],
            "top_k": 3,
            "thinking": {"type": "enabled", "budget_tokens": 100},
            "tools": [{"name": "f", "input_schema": {"type": "object"}}],
            "messages": [
                {"role": "user", "content": "hi"},
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "hmm"},
                        {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "and?"},
                        {"type": "tool_result", "tool_use_id": "t1", "content": "42"},
                        {"type": "image", "source": {"type": "base64", "data": PIXEL}},
                    ],
                },
            ],
        }
    )
    assert chat.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "t1", "function": {"name": "f", "arguments": {"a": 1}}}],
            "thinking": "hmm",
        },
        # a user message's tool results come before its own text (convertMessage)
        {"role": "tool", "content": "42", "tool_call_id": "t1"},
        {"role": "user", "content": "and?", "images": [PIXEL]},
    ]
    assert chat.options == {"num_predict": 7, "top_k": 3, "stop": ["END"]}
    assert chat.think is True and chat.images == [PIXEL]
    assert chat.tools[0]["function"]["parameters"] == {"type": "object"}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"max_tokens": 1, "messages": [{}]}, "model is required"),
        ({"model": "m", "max_tokens": 0, "messages": [{}]}, anthropic.MAX_TOKENS_REQUIRED),
        ({"model": "m", "max_tokens": 5, "messages": []}, "messages is required"),
    ],
)
def test_messages_middleware_checks(body: dict[str, object], message: str) -> None:
    with pytest.raises(ApiError) as refused:
        anthropic.check_request(body)
    assert (refused.value.status, refused.value.message) == (400, message)


def test_messages_refuse_url_images_and_nameless_tool_use() -> None:
    url = {"type": "image", "source": {"type": "url", "url": "http://x/y.png"}}
    with pytest.raises(ApiError, match="Only base64 images are supported"):
        anthropic.to_chat({"max_tokens": 1, "messages": [{"role": "user", "content": [url]}]})
    use = {"type": "tool_use", "id": "t", "input": {}}
    with pytest.raises(ApiError, match="missing required 'name' field"):
        anthropic.to_chat({"max_tokens": 1, "messages": [{"role": "assistant", "content": [use]}]})


def test_stop_reasons_and_error_types() -> None:
    assert anthropic.stop_reason("stop", False) == "end_turn"
    assert anthropic.stop_reason("length", False) == "max_tokens"
    assert anthropic.stop_reason("length", True) == "tool_use"
    assert anthropic.error(404, "gone")["error"] == {"type": "not_found_error", "message": "gone"}
    assert anthropic.error(503, "busy")["error"]["type"] == "overloaded_error"
    assert anthropic.error(500, "x")["error"]["type"] == "api_error"


def _events(data: bytes) -> list[dict[str, object]]:
    lines = [line for line in data.decode().split("\n") if line.startswith("data: ")]
    return [orjson.loads(line[6:]) for line in lines]


def test_message_stream_blocks_open_and_close_in_order() -> None:
    stream = anthropic.StreamEvents("msg_1", "m")
    data = stream.start(3) + stream.thinking("a") + stream.text("b") + stream.text("c")
    data += stream.tool_call("t", "f", {"x": 1}) + stream.end("stop", 3, 4)
    kinds = [(e["type"], e.get("index")) for e in _events(data)]
    assert kinds == [
        ("message_start", None),
        ("content_block_start", 0),
        ("content_block_delta", 0),
        ("content_block_stop", 0),
        ("content_block_start", 1),
        ("content_block_delta", 1),
        ("content_block_delta", 1),
        ("content_block_stop", 1),
        ("content_block_start", 2),
        ("content_block_delta", 2),
        ("content_block_stop", 2),
        ("message_delta", None),
        ("message_stop", None),
    ]
    assert _events(data)[-2]["delta"] == {"stop_reason": "tool_use"}


def test_responses_request_becomes_native_chat() -> None:
    chat = responses.to_chat(
        {
            "model": "m",
            "instructions": "sys",
            "max_output_tokens": 9,
            "reasoning": {"effort": "minimal"},
            "text": {"format": {"type": "json_schema", "name": "x", "schema": {"type": "object"}}},
            "input": [
                {"role": "user", "content": "q"},
                {"type": "function_call", "call_id": "c", "name": "f", "arguments": '{"a":1}'},
                {"type": "function_call_output", "call_id": "c", "output": "r"},
            ],
        }
    )
    assert chat.messages == [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "c", "function": {"name": "f", "arguments": {"a": 1}}}],
        },
        {"role": "tool", "content": "r", "tool_call_id": "c"},
    ]
    assert chat.options == {"temperature": 1.0, "num_predict": 9}
    assert chat.think == "low" and chat.format == {"type": "object"}


@pytest.mark.parametrize(
    ("effort", "think"), [("none", False), ("high", "high"), ("xhigh", "max"), (None, None)]
)
def test_reasoning_effort_as_think(effort: str | None, think: object) -> None:
    assert responses.think(effort) == think


def test_responses_refusals() -> None:
    with pytest.raises(ApiError, match="invalid reasoning value"):
        responses.think("extreme")
    with pytest.raises(ApiError, match=r"input\[0\]: unknown input item type: 'x'"):
        responses.to_chat({"input": [{"type": "x"}]})
    with pytest.raises(ApiError, match="failed to parse function call arguments"):
        responses.to_chat({"input": [{"type": "function_call", "arguments": "{"}]})


def test_responses_stream_numbers_every_event() -> None:
    stream = responses.StreamEvents({"model": "m"}, "resp_1", "m", 0)
    data = stream.start() + stream.thinking("t") + stream.text_delta("a") + stream.end(2, 2)
    events = _events(data)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert [e["type"] for e in events][:3] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
    ]
    completed = events[-1]["response"]
    assert isinstance(completed, dict)
    assert [item["type"] for item in completed["output"]] == ["reasoning", "message"]
    assert completed["usage"]["total_tokens"] == 4
