"""Semantics of generate and chat: framing, determinism, limits, metrics, formats.

Every request is short (``num_predict`` of a few tokens, temperature 0, a fixed
seed) so that the core level against a real 135M model on two CPU cores takes a
couple of minutes.

Why one module of ~590 lines: it is the generate/chat area of the suite, one
short registered function per check, each with its source and severity;
the report scores checks per area (one pytest test per area), so the area stays
one file.
"""

from __future__ import annotations

import json
import time
from typing import Any

from jsonschema import Draft202012Validator

from ollama_harness.conformance import expect
from ollama_harness.conformance.checks._inference import (
    CHAT,
    GENERATE,
    Api,
    complete,
    content_lines,
    streamed,
)
from ollama_harness.conformance.outcome import CheckSkipped
from ollama_harness.conformance.registry import check
from ollama_harness.conformance.target import Target, model_key

DONE_REASONS = {"stop", "length", "load", "unload"}
# A 1x1 transparent PNG: the smallest image a vision model accepts.
PIXEL_PNG = (
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
)


# -- framing and schema --
def _non_stream(t: Target, api: Api) -> None:
    _, body, ex = complete(t, api)
    expect.rfc3339(body.get("created_at"), "created_at", ex)
    if body.get("done_reason") not in ("stop", "length"):
        raise expect.fail(f"done_reason {body.get('done_reason')!r} for a completion", ex)


def _stream(t: Target, api: Api) -> None:
    _, lines, ex = streamed(t, api)
    for number, line in enumerate(lines, 1):
        expect.rfc3339(line.get("created_at"), f"line {number} created_at", ex)
        if line.get("done") is not True and "done_reason" in line:
            raise expect.fail(f"line {number} has done_reason before the end", ex)
    if lines[-1].get("done_reason") not in ("stop", "length"):
        raise expect.fail(f"final done_reason {lines[-1].get('done_reason')!r}", ex)


@check("inference", "generate", level="core")
def generate_non_stream(t: Target) -> None:
    """generate with stream false: one JSON object, done, RFC 3339 created_at.

    Source: server/routes.go GenerateHandler (stream false: one api.GenerateResponse of
    api/types.go); docs/api.md "Generate a completion".
    """
    _non_stream(t, GENERATE)


@check("inference", "generate", level="core")
def generate_stream(t: Target) -> None:
    """generate streams NDJSON: valid compact lines, one final line, last.

    Source: server/routes.go GenerateHandler and streamResponse (application/x-ndjson,
    one JSON object per line, done last); docs/api.md "Streaming responses".
    """
    _stream(t, GENERATE)


@check("inference", "chat", level="core")
def chat_non_stream(t: Target) -> None:
    """chat with stream false: one JSON object with an assistant message.

    Source: server/routes.go ChatHandler (api.ChatResponse, message.role assistant);
    docs/api.md "Generate a chat completion".
    """
    _non_stream(t, CHAT)
    _, body, ex = complete(t, CHAT)
    if (body.get("message") or {}).get("role") != "assistant":
        raise expect.fail("the message role is not 'assistant'", ex)


@check("inference", "chat", level="core")
def chat_stream(t: Target) -> None:
    """chat streams NDJSON: valid compact lines, one final line, last.

    Source: server/routes.go ChatHandler and streamResponse; docs/api.md "Streaming
    responses".
    """
    _stream(t, CHAT)


# -- determinism --
def _stream_matches(t: Target, api: Api) -> None:
    text, body, _ = complete(t, api)
    streamed_text, lines, sex = streamed(t, api)
    if streamed_text != text:
        raise expect.fail(
            "stream and non-stream differ with a fixed seed and temperature 0",
            excerpt=f"stream:     {streamed_text[:200]!r}\nnon-stream: {text[:200]!r}",
        )
    if lines[-1].get("eval_count") != body.get("eval_count"):
        raise expect.fail(
            f"eval_count {lines[-1].get('eval_count')} streamed vs {body.get('eval_count')} "
            "not streamed for the same generation",
            sex,
        )


@check("inference", "generate", level="core")
def generate_stream_matches_non_stream(t: Target) -> None:
    """generate: stream and non-stream give the same text and eval_count (seed, temp 0).

    Source: server/routes.go GenerateHandler (stream false gathers the same channel of
    responses that streaming writes).
    """
    _stream_matches(t, GENERATE)


@check("inference", "chat", level="core")
def chat_stream_matches_non_stream(t: Target) -> None:
    """chat: stream and non-stream give the same text and eval_count (seed, temp 0).

    Source: server/routes.go ChatHandler (stream false gathers the same channel of
    responses that streaming writes).
    """
    _stream_matches(t, CHAT)


@check("inference", "generate", level="core", severity="recommended")
def generate_seed_reproducible(t: Target) -> None:
    """generate: the same seed at temperature 1 gives the same text twice.

    Source: docs/api.md "Request (Reproducible outputs)"; api/types.go Options.Seed.
    Batched or GPU servers may legitimately differ.
    """
    options = {"temperature": 1.0, "seed": 1234, "top_k": 100, "top_p": 1.0}
    first, _, _ = complete(t, GENERATE, num_predict=12, options=options)
    second, _, _ = complete(t, GENERATE, num_predict=12, options=options)
    if first != second:
        raise expect.fail(
            "seed 1234 gave two different texts",
            excerpt=f"first:  {first[:200]!r}\nsecond: {second[:200]!r}",
        )


# -- limits --
def _num_predict(t: Target, api: Api) -> None:
    limit = 3
    _, body, ex = complete(t, api, num_predict=limit)
    count = body.get("eval_count")
    if not isinstance(count, int) or count > limit:
        raise expect.fail(f"eval_count {count} with num_predict {limit}", ex)
    if body.get("done_reason") == "length" and count != limit:
        raise expect.fail(f"done_reason 'length' after {count} of {limit} tokens", ex)
    _, lines, sex = streamed(t, api, num_predict=limit)
    if content_lines(api, lines) > limit:
        raise expect.fail(f"{content_lines(api, lines)} content lines with num_predict 3", sex)


#: A prompt no small model answers within a handful of tokens.
LONG_PROMPT = "Write a long story about a lighthouse keeper and the sea, in many chapters."


def _done_reason_length(t: Target, api: Api) -> None:
    limit = 4
    _, body, ex = complete(t, api, prompt=LONG_PROMPT, num_predict=limit)
    if body.get("eval_count") == limit and body.get("done_reason") != "length":
        raise expect.fail(
            f"num_predict {limit} ended the answer ({limit} tokens) but done_reason is "
            f"{body.get('done_reason')!r}, not 'length'",
            ex,
        )
    _, lines, sex = streamed(t, api, prompt=LONG_PROMPT, num_predict=limit)
    final = lines[-1]
    if final.get("eval_count") == limit and final.get("done_reason") != "length":
        raise expect.fail(
            f"streamed: num_predict {limit} ended the answer but done_reason is "
            f"{final.get('done_reason')!r}, not 'length'",
            sex,
        )


@check("inference", "generate", level="core")
def generate_done_reason_length(t: Target) -> None:
    """generate: an answer cut by num_predict ends with done_reason 'length'.

    Source: llm/llama_server.go llamaServerRunner.Completion (StopType "limit" gives
    DoneReasonLength, "length" in llm/server.go DoneReason.String); server/routes.go
    GenerateHandler copies it to done_reason.
    """
    _done_reason_length(t, GENERATE)


@check("inference", "chat", level="core")
def chat_done_reason_length(t: Target) -> None:
    """chat: an answer cut by num_predict ends with done_reason 'length'.

    Source: llm/llama_server.go llamaServerRunner.Completion (num_predict reached:
    DoneReasonLength); server/routes.go ChatHandler copies it to done_reason.
    """
    _done_reason_length(t, CHAT)


@check("inference", "generate", level="core")
def generate_num_predict_bounds_eval_count(t: Target) -> None:
    """generate: num_predict bounds eval_count and the streamed lines.

    Source: api/types.go Options.NumPredict; docs/api.md "Generate a completion"
    (options, eval_count).
    """
    _num_predict(t, GENERATE)


@check("inference", "chat", level="core")
def chat_num_predict_bounds_eval_count(t: Target) -> None:
    """chat: num_predict bounds eval_count and the streamed lines.

    Source: api/types.go Options.NumPredict; docs/api.md "Generate a chat completion"
    (options, eval_count).
    """
    _num_predict(t, CHAT)


def _stop(t: Target, api: Api) -> None:
    text, _, _ = complete(t, api, num_predict=16)
    words = text.split()
    if len(words) < 3:
        raise CheckSkipped(f"the model's answer is too short to pick a stop word: {text!r}")
    stop = words[len(words) // 2]
    cut = text.index(stop, len(words[0]))
    stopped, body, ex = complete(t, api, num_predict=16, options={"stop": [stop]})
    if stop in stopped:
        raise expect.fail(f"stop {stop!r} appears in the output", ex)
    if not text.startswith(stopped) or len(stopped) > cut:
        raise expect.fail(
            f"output with stop {stop!r} is not the original cut before it",
            excerpt=f"without stop: {text[:200]!r}\nwith stop:    {stopped[:200]!r}",
        )
    if body.get("done_reason") != "stop":
        raise expect.fail(f"done_reason {body.get('done_reason')!r} after a stop sequence", ex)


@check("inference", "generate", level="core")
def generate_stop_ends_generation(t: Target) -> None:
    """generate: a stop sequence ends the output before it, done_reason 'stop'.

    Source: api/types.go Options.Stop; llm/llama_server.go llamaServerRunner.Completion
    (a stop sequence ends with DoneReasonStop).
    """
    _stop(t, GENERATE)


@check("inference", "chat", level="core")
def chat_stop_ends_generation(t: Target) -> None:
    """chat: a stop sequence ends the output before it, done_reason 'stop'.

    Source: api/types.go Options.Stop; llm/llama_server.go llamaServerRunner.Completion
    (a stop sequence ends with DoneReasonStop).
    """
    _stop(t, CHAT)


# -- metrics --
def _metrics(t: Target, api: Api) -> None:
    limit = 6
    _, lines, ex = streamed(t, api, num_predict=limit)
    final = lines[-1]
    for key in ("total_duration", "eval_count", "prompt_eval_count", "eval_duration"):
        if not isinstance(final.get(key), int):
            raise expect.fail(f"the final line has no integer {key}", ex)
    if final["total_duration"] <= 0:
        raise expect.fail("total_duration is not positive", ex)
    for key in ("load_duration", "prompt_eval_duration", "eval_duration"):
        if final.get(key, 0) < 0:
            raise expect.fail(f"{key} is negative", ex)
    if final["eval_count"] > 0 and final["eval_duration"] <= 0:
        raise expect.fail("tokens were generated but eval_duration is not positive", ex)
    parts = final.get("prompt_eval_duration", 0) + final["eval_duration"]
    if final["total_duration"] < parts:
        raise expect.fail(
            f"total_duration {final['total_duration']} < prompt_eval_duration + "
            f"eval_duration ({parts})",
            ex,
        )
    if final["eval_count"] > limit:
        raise expect.fail(f"eval_count {final['eval_count']} with num_predict {limit}", ex)
    # Each content line carries at least one token; a server that tokenizes per line
    # streams exactly eval_count of them, one that batches streams fewer.
    shown = content_lines(api, lines)
    if shown > final["eval_count"]:
        raise expect.fail(f"{shown} content lines but eval_count {final['eval_count']}", ex)
    if final["prompt_eval_count"] < 1 and final.get("prompt_eval_duration", 0) > 0:
        raise expect.fail("prompt evaluated (duration > 0) but prompt_eval_count < 1", ex)


@check("inference", "generate", level="core")
def generate_final_metrics(t: Target) -> None:
    """generate: final-line metrics present, positive, consistent with the stream.

    Source: api/types.go Metrics (total_duration, load_duration, prompt_eval_count,
    eval_count, eval_duration); docs/api.md "Generate a completion" response.
    """
    _metrics(t, GENERATE)


@check("inference", "chat", level="core")
def chat_final_metrics(t: Target) -> None:
    """chat: final-line metrics present, positive, consistent with the stream.

    Source: api/types.go Metrics; docs/api.md "Generate a chat completion" response.
    """
    _metrics(t, CHAT)


# -- context, formats --
@check("inference", "generate", level="core", severity="recommended")
def generate_context_round_trips(t: Target) -> None:
    """generate: the returned context, sent back, continues the conversation.

    Source: server/routes.go GenerateHandler (req.Context is prepended, res.Context
    returned); docs/api.md marks context deprecated.
    """
    _, first, ex = complete(t, GENERATE, prompt="My name is Ada. Remember it.", num_predict=4)
    context = first.get("context")
    if not isinstance(context, list) or not context:
        raise expect.fail("a non-raw generate answer has no context", ex)
    # Real servers re-tokenize the detokenized context, so token ids need not be
    # kept verbatim; what must hold is that the context changes the generation.
    prompt = "What is my name?"
    alone, _, _ = complete(t, GENERATE, prompt=prompt, num_predict=6)
    continued, second, ex2 = complete(t, GENERATE, prompt=prompt, num_predict=6, context=context)
    if continued == alone:
        raise expect.fail(
            "the same prompt gives the same text with and without the context: it was ignored",
            excerpt=f"without context: {alone!r}\nwith context:    {continued!r}",
        )
    if not isinstance(second.get("context"), list) or not second["context"]:
        raise expect.fail("the continued answer has no context", ex2)


def _parse_json_output(text: str, body: dict[str, Any], ex: Any) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        # A grammar-constrained output cut by num_predict is a JSON prefix: it
        # still opens an object or array; plain prose never does.
        if body.get("done_reason") == "length" and text.lstrip()[:1] in ("{", "["):
            raise CheckSkipped("output cut by num_predict before the JSON closed") from None
        raise expect.fail(f"format output is not JSON: {text[:200]!r}", ex) from None


@check("inference", "generate", level="core")
def generate_format_json(t: Target) -> None:
    """generate with format 'json' gives parseable JSON.

    Source: server/routes.go GenerateHandler (req.Format passed to
    llm.CompletionRequest); docs/api.md "Request (JSON mode)".
    """
    prompt = 'Reply with a JSON object like {"colour": "blue"}.'
    text, body, ex = complete(t, GENERATE, prompt=prompt, num_predict=48, format="json")
    _parse_json_output(text, body, ex)


FORMAT_SCHEMA = {
    "type": "object",
    "properties": {"ok": {"type": "boolean"}},
    "required": ["ok"],
}


def _format_schema(t: Target, api: Api) -> None:
    prompt = 'Reply with JSON: {"ok": true}'
    text, body, ex = complete(t, api, prompt=prompt, num_predict=32, format=FORMAT_SCHEMA)
    value = _parse_json_output(text, body, ex)
    errors = list(Draft202012Validator(FORMAT_SCHEMA).iter_errors(value))
    if errors:
        raise expect.fail(f"format output breaks the schema: {errors[0].message}", ex)


@check("inference", "generate", level="core")
def generate_format_schema(t: Target) -> None:
    """generate with a JSON schema as format gives output valid under it.

    Source: server/routes.go GenerateHandler (req.Format as a JSON schema); docs/api.md
    "Structured outputs".
    """
    _format_schema(t, GENERATE)


@check("inference", "chat", level="core")
def chat_format_schema(t: Target) -> None:
    """chat with a JSON schema as format gives output valid under it.

    Source: server/routes.go ChatHandler (req.Format as a JSON schema); docs/api.md
    "Structured outputs".
    """
    _format_schema(t, CHAT)


# -- load and unload --
def _load_unload(t: Target, api: Api) -> str:
    model = t.model_with("completion")
    ex = t.client.post(api.path, api.empty_body(model))
    body = expect.json_body(ex, api.op)
    if body.get("done") is not True or body.get("done_reason") != "load":
        raise expect.fail(f"empty request: done_reason {body.get('done_reason')!r}, not 'load'", ex)
    ex = t.client.post(api.path, {**api.empty_body(model), "keep_alive": 0})
    body = expect.json_body(ex, api.op)
    if body.get("done_reason") != "unload":
        raise expect.fail(
            f"keep_alive 0: done_reason {body.get('done_reason')!r}, not 'unload'", ex
        )
    return model


@check("inference", "generate", level="core")
def generate_load_unload(t: Target) -> None:
    """generate with an empty prompt loads (done_reason load); with keep_alive 0 unloads.

    Source: server/routes.go GenerateHandler (empty prompt: DoneReason "load";
    keep_alive 0: DoneReason "unload"); server/routes_generate_test.go
    TestGenerateUnload.
    """
    _load_unload(t, GENERATE)


@check("inference", "chat", level="core")
def chat_load_unload(t: Target) -> None:
    """chat with no messages loads (done_reason load); with keep_alive 0 unloads.

    Source: server/routes.go ChatHandler (no messages: DoneReason "load"; keep_alive 0:
    DoneReason "unload").
    """
    _load_unload(t, CHAT)


def _running(t: Target) -> set[str]:
    body = expect.json_body(t.client.get("/api/ps"), "listRunning")
    return {model_key(m["name"]) for m in body.get("models", [])}


@check("inference", "listRunning")
def ps_shows_load_and_unload(t: Target) -> None:
    """/api/ps lists a model after a load request and drops it after keep_alive 0.

    Source: server/routes.go PsHandler (the scheduler's loaded runners); server/sched.go
    (keep_alive 0 expires the runner).
    """
    model = t.model_with("completion")
    key = model_key(model)
    expect.json_body(
        t.client.post("/api/generate", {"model": model, "keep_alive": "1m"}), "generate"
    )
    if key not in _running(t):
        raise expect.fail(f"{model} loaded but /api/ps does not list it", t.client.history[-1])
    expect.json_body(t.client.post("/api/generate", {"model": model, "keep_alive": 0}), "generate")
    deadline = time.monotonic() + 5  # Ollama unloads asynchronously
    while key in _running(t):
        if time.monotonic() > deadline:
            raise expect.fail(f"{model} still listed 5 s after keep_alive 0", t.client.history[-1])
        time.sleep(0.1)


# -- capabilities --
@check("inference", "chat", level="core")
def chat_tools(t: Target) -> None:
    """chat with tools on a tools model: valid answer; tool calls name a declared tool.

    Source: server/routes.go ChatHandler (req.Tools, parsed into message.tool_calls,
    api.ToolCall of api/types.go); docs/api.md "Tool calling".
    """
    model = t.model_with("tools")
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Current weather of a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    _, body, ex = complete(
        t, CHAT, model=model, prompt="What is the weather in Paris?", num_predict=32, tools=tools
    )
    for call in (body.get("message") or {}).get("tool_calls") or []:
        function = call.get("function") or {}
        if function.get("name") != "get_weather" or not isinstance(function.get("arguments"), dict):
            raise expect.fail(f"tool call {call} names no declared tool or lacks arguments", ex)


@check("inference", "chat", level="core", severity="recommended")
def chat_thinking(t: Target) -> None:
    """chat with think true on a thinking model: valid answer, thinking kept apart.

    Source: server/routes.go ChatHandler (think true: message.thinking kept apart from
    content); api/types.go Message.Thinking.
    """
    model = t.model_with("thinking")
    _, body, ex = complete(t, CHAT, model=model, num_predict=24, think=True)
    message = body.get("message") or {}
    if "<think>" in str(message.get("content", "")):
        raise expect.fail("thinking leaked into content instead of message.thinking", ex)


@check("inference", "generate", level="core")
def generate_suffix(t: Target) -> None:
    """generate with a suffix on an insert-capable model answers validly.

    Source: server/routes.go GenerateHandler (a suffix needs model.CapabilityInsert);
    docs/api.md "Request (with suffix)".
    """
    model = t.model_with("insert")
    complete(t, GENERATE, model=model, prompt="def add(a, b):", suffix="    return c")


@check("inference", "generate", level="core")
def generate_image(t: Target) -> None:
    """generate with an image on a vision model answers validly.

    Source: server/routes.go GenerateHandler (images need model.CapabilityVision);
    docs/api.md "Request (with images)".
    """
    model = t.model_with("vision")
    complete(t, GENERATE, model=model, prompt="Describe the image.", images=[PIXEL_PNG])


# -- embeddings --
@check("inference", "embed")
def embed_vectors_normalised(t: Target) -> None:
    """embed: one L2-normalised vector per input, all of one dimension.

    Source: server/routes.go EmbedHandler (asks no capability; every vector goes through
    normalize); docs/api.md "Generate Embeddings".
    """
    model = t.embedding_model()
    ex = t.client.post("/api/embed", {"model": model, "input": ["first text", "second text"]})
    t.refused_embedding(model, ex.status)
    body = expect.json_body(ex, "embed")
    vectors = body.get("embeddings") or []
    if len(vectors) != 2:
        raise expect.fail(f"{len(vectors)} vectors for 2 inputs", ex)
    if len({len(v) for v in vectors}) != 1 or not vectors[0]:
        raise expect.fail("vectors of different or zero dimensions", ex)
    for vector in vectors:
        if abs(expect.l2_norm(vector) - 1.0) > 1e-3:
            raise expect.fail(f"a vector's L2 norm is {expect.l2_norm(vector):.4f}, not 1", ex)
    single = expect.json_body(t.client.post("/api/embed", {"model": model, "input": "x"}), "embed")
    if len(single.get("embeddings") or []) != 1:
        raise expect.fail("a string input did not give exactly one vector", t.client.history[-1])


@check("inference", "embed", severity="recommended")
def embed_empty_input(t: Target) -> None:
    """embed with an empty input list: 200 with no vectors.

    Source: server/routes.go EmbedHandler (no input: EmbedResponse with Embeddings
    [][]float32{}).
    """
    model = t.embedding_model()
    ex = t.client.post("/api/embed", {"model": model, "input": []})
    t.refused_embedding(model, ex.status)
    body = expect.json_body(ex, "embed")
    if body.get("embeddings") != []:
        raise expect.fail("empty input did not give embeddings: []", ex)


@check("inference", "embeddings")
def embeddings_legacy(t: Target) -> None:
    """embeddings (legacy): one vector for a prompt, an empty one for an empty prompt.

    Source: server/routes.go EmbeddingsHandler (an empty prompt answers
    EmbeddingResponse{Embedding: []float64{}}); docs/api.md "Generate Embedding".
    """
    model = t.embedding_model()
    ex = t.client.post("/api/embeddings", {"model": model, "prompt": "some text"})
    t.refused_embedding(model, ex.status)
    body = expect.json_body(ex, "embeddings")
    if not body.get("embedding"):
        raise expect.fail("no embedding for a non-empty prompt", ex)
    ex = t.client.post("/api/embeddings", {"model": model, "prompt": ""})
    if expect.json_body(ex, "embeddings").get("embedding") != []:
        raise expect.fail("an empty prompt did not give embedding: []", ex)
