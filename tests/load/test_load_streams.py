"""The stream recorders apply load-metrics.md's definitions line by line."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ollama_harness.load.streams import (
    ResponseRecord,
    feed_anthropic,
    feed_ndjson,
    feed_responses,
    feed_sse,
    read_whole,
)


def ndjson(obj: dict[str, object]) -> bytes:
    return orjson.dumps(obj) + b"\n"


def test_role_only_and_empty_chunks_do_not_start_ttft() -> None:
    record = ResponseRecord()
    feed_ndjson(
        record, ndjson({"message": {"role": "assistant", "content": ""}, "done": False}), 1.0
    )
    feed_ndjson(record, ndjson({"response": "", "done": False}), 1.5)
    assert record.first_text_at is None
    feed_ndjson(record, ndjson({"message": {"role": "assistant", "content": "Hi"}}), 2.0)
    assert record.first_text_at == 2.0


def test_tokens_come_from_eval_count_even_when_chunks_carry_several() -> None:
    record = ResponseRecord()
    feed_ndjson(record, ndjson({"response": "one two", "done": False}), 1.0)
    feed_ndjson(record, ndjson({"response": " three four", "done": False}), 1.25)
    final = {
        "response": "",
        "done": True,
        "eval_count": 4,
        "eval_duration": 300_000_000,
        "prompt_eval_count": 9,
        "prompt_eval_duration": 30_000_000,
        "total_duration": 400_000_000,
        "load_duration": 1_000,
    }
    feed_ndjson(record, ndjson(final), 1.5)
    assert record.finished and not record.error_kind
    assert (record.output_tokens, record.token_source) == (4, "eval_count")
    assert record.prompt_tokens == 9
    assert record.chunks == 2
    assert record.gaps_ms == [pytest.approx(250.0)]
    assert record.server["eval_duration_ns"] == 300_000_000
    assert record.last_at == 1.5


def test_missing_server_count_falls_back_to_chunks_and_says_so() -> None:
    record = ResponseRecord()
    for i in range(3):
        feed_ndjson(record, ndjson({"response": "x", "done": False}), float(i))
    feed_ndjson(record, ndjson({"response": "", "done": True}), 3.0)
    assert (record.output_tokens, record.token_source) == (3, "chunks")


def test_error_line_mid_stream_is_a_stream_error() -> None:
    record = ResponseRecord()
    feed_ndjson(record, ndjson({"response": "x", "done": False}), 1.0)
    feed_ndjson(record, ndjson({"error": "model runner crashed"}), 2.0)
    assert record.finished
    assert (record.error_kind, record.error) == ("stream_error", "model runner crashed")


@pytest.mark.parametrize("line", [b"{not json\n", b"[1, 2]\n"])
def test_garbage_lines_are_reported_not_raised(line: bytes) -> None:
    record = ResponseRecord()
    feed_ndjson(record, line, 1.0)
    assert record.error_kind == "bad_line"


def test_blank_lines_are_ignored() -> None:
    record = ResponseRecord()
    feed_ndjson(record, b"\r\n", 1.0)
    assert record.last_at is None and not record.finished


def sse(obj: object) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n"


def test_sse_text_usage_and_done() -> None:
    record = ResponseRecord()
    feed_sse(record, sse({"choices": [{"delta": {"role": "assistant", "content": ""}}]}), 1.0)
    feed_sse(record, b"\n", 1.1)
    feed_sse(record, b": keep-alive comment\n", 1.2)
    feed_sse(record, sse({"choices": [{"delta": {"content": "Hel"}}]}), 2.0)
    feed_sse(record, sse({"choices": [{"delta": {"content": "lo"}}]}), 2.5)
    feed_sse(
        record, sse({"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 3}}), 2.6
    )
    assert not record.finished
    feed_sse(record, b"data: [DONE]\n", 2.7)
    assert record.finished and not record.error_kind
    assert record.first_text_at == 2.0
    assert (record.output_tokens, record.token_source, record.prompt_tokens) == (3, "usage", 5)
    assert record.last_at == 2.7


def test_sse_completions_text_and_error_object() -> None:
    record = ResponseRecord()
    feed_sse(record, sse({"choices": [{"text": "a"}]}), 1.0)
    feed_sse(record, sse({"error": {"message": "boom", "type": "api_error"}}), 2.0)
    assert record.first_text_at == 1.0
    assert (record.error_kind, record.error) == ("stream_error", "boom")


def test_whole_native_and_openai_responses() -> None:
    native = ResponseRecord()
    body = {"response": "hi", "done": True, "eval_count": 7, "eval_duration": 70_000_000}
    read_whole(native, orjson.dumps(body), "native", "generate", 1.0)
    assert native.finished and (native.output_tokens, native.token_source) == (7, "eval_count")

    openai = ResponseRecord()
    body2 = {"choices": [{"message": {"content": "hi"}}], "usage": {"completion_tokens": 2}}
    read_whole(openai, orjson.dumps(body2), "openai", "chat", 1.0)
    assert (openai.output_tokens, openai.token_source) == (2, "usage")

    embed = ResponseRecord()
    read_whole(
        embed, orjson.dumps({"embeddings": [[0.1]], "prompt_eval_count": 3}), "native", "embed", 1.0
    )
    assert embed.finished and embed.output_tokens is None and embed.prompt_tokens == 3

    broken = ResponseRecord()
    read_whole(broken, orjson.dumps({"model": "m"}), "native", "embed", 1.0)
    assert broken.error_kind == "bad_body"


def named(obj: dict[str, Any]) -> list[bytes]:
    return [b"event: " + str(obj["type"]).encode() + b"\n", b"data: " + orjson.dumps(obj) + b"\n"]


def test_anthropic_deltas_usage_and_message_stop() -> None:
    record = ResponseRecord()
    events: list[tuple[float, dict[str, Any]]] = [
        (1.0, {"type": "message_start", "message": {"usage": {"input_tokens": 4}}}),
        (1.1, {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}}),
        (
            2.0,
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "Hi"},
            },
        ),
        (
            2.4,
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "!"},
            },
        ),
        (2.5, {"type": "content_block_stop", "index": 0}),
        (
            2.6,
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"input_tokens": 4, "output_tokens": 2},
            },
        ),
    ]
    for now, obj in events:
        for line in named(obj):
            feed_anthropic(record, line, now)
    assert not record.finished
    for line in named({"type": "message_stop"}):
        feed_anthropic(record, line, 2.7)
    assert record.finished and not record.error_kind
    assert record.first_text_at == 2.0 and record.gaps_ms == [pytest.approx(400.0)]
    assert (record.output_tokens, record.token_source, record.prompt_tokens) == (2, "usage", 4)


def test_anthropic_error_event() -> None:
    record = ResponseRecord()
    error = {"type": "error", "error": {"type": "api_error", "message": "boom"}}
    for line in named(error):
        feed_anthropic(record, line, 1.0)
    assert (record.error_kind, record.error) == ("stream_error", "boom")


def test_responses_deltas_usage_and_completed() -> None:
    record = ResponseRecord()
    usage = {"input_tokens": 3, "output_tokens": 2, "total_tokens": 5}
    events: list[tuple[float, dict[str, Any]]] = [
        (1.0, {"type": "response.created", "sequence_number": 0, "response": {"usage": None}}),
        (1.5, {"type": "response.reasoning_summary_text.delta", "delta": "hm"}),
        (2.0, {"type": "response.output_text.delta", "delta": "Hi"}),
        (2.0, {"type": "response.output_text.delta", "delta": ""}),
        (2.3, {"type": "response.output_text.done", "text": "Hi"}),
        (2.4, {"type": "response.completed", "response": {"usage": usage}}),
    ]
    for now, obj in events:
        for line in named(obj):
            feed_responses(record, line, now)
    assert record.finished and record.first_text_at == 1.5 and record.chunks == 2
    assert (record.output_tokens, record.token_source, record.prompt_tokens) == (2, "usage", 3)
    failed = ResponseRecord()
    for line in named({"type": "error", "sequence_number": 3, "message": "boom"}):
        feed_responses(failed, line, 1.0)
    assert (failed.error_kind, failed.error) == ("stream_error", "boom")


def test_whole_anthropic_and_responses_answers() -> None:
    message = ResponseRecord()
    body = {
        "type": "message",
        "content": [{"type": "text", "text": "hi"}],
        "usage": {"input_tokens": 3, "output_tokens": 1},
    }
    read_whole(message, orjson.dumps(body), "anthropic", "chat", 1.0)
    assert (message.output_tokens, message.prompt_tokens, message.chunks) == (1, 3, 1)
    response = ResponseRecord()
    body2 = {
        "object": "response",
        "output": [{"type": "message"}],
        "usage": {"input_tokens": 2, "output_tokens": 4},
    }
    read_whole(response, orjson.dumps(body2), "responses", "chat", 1.0)
    assert (response.output_tokens, response.token_source) == (4, "usage")
