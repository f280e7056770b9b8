"""The OpenAI-compatible routes: bodies, SSE framing, [DONE], usage, errors."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ollama_harness.conformance import expect
from ollama_harness.conformance.registry import check
from ollama_harness.conformance.target import Target


def _chat_body(model: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "messages": [{"role": "user", "content": "Say hello."}],
        "max_tokens": 6,
        "temperature": 0,
        "seed": 42,
        **extra,
    }


def _usage(usage: Any, where: str, ex: Any) -> None:
    if not isinstance(usage, dict):
        raise expect.fail(f"{where}: no usage", ex)
    total = usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
    if usage.get("total_tokens") != total:
        raise expect.fail(f"{where}: total_tokens {usage.get('total_tokens')} != {total}", ex)
    if usage.get("completion_tokens", 0) > 6:
        raise expect.fail(f"{where}: {usage.get('completion_tokens')} tokens, max_tokens 6", ex)


@check("openai", "openaiChatCompletions")
def chat_completion(t: Target) -> None:
    """/v1/chat/completions: valid body, assistant message, usage adds up.

    Source: middleware/openai.go ChatMiddleware and ChatWriter.writeResponse;
    openai/openai.go ToChatCompletion and ToUsage (total_tokens = prompt + completion).
    """
    ex = t.client.post("/v1/chat/completions", _chat_body(t.model_with("completion")))
    body = expect.json_body(ex, "openaiChatCompletions")
    if body.get("object") != "chat.completion" or not body.get("choices"):
        raise expect.fail("not a chat.completion with choices", ex)
    _usage(body.get("usage"), "chat.completion", ex)


@check("openai", "openaiChatCompletions")
def chat_completion_stream(t: Target) -> None:
    """/v1/chat/completions streaming: SSE data events, [DONE] last, usage chunk on request.

    Source: middleware/openai.go ChatWriter.writeResponse ("data: " events, "data:
    [DONE]" last); openai/openai.go ToStreamChunks, FinishChunk and ToUsage
    (stream_options.include_usage).
    """
    body = _chat_body(t.model_with("completion"), stream=True)
    body["stream_options"] = {"include_usage": True}
    ex = t.client.post("/v1/chat/completions", body)
    chunks = expect.sse_chunks(ex, "openaiChatCompletions")
    if any(c.get("object") != "chat.completion.chunk" for c in chunks):
        raise expect.fail("a chunk is not a chat.completion.chunk", ex)
    usage = [c for c in chunks if c.get("usage")]
    if not usage or usage[-1] is not chunks[-1]:
        raise expect.fail("include_usage: no usage chunk right before [DONE]", ex)
    _usage(usage[-1]["usage"], "usage chunk", ex)
    finishes = [c["choices"][0].get("finish_reason") for c in chunks if c.get("choices")]
    if not finishes or finishes[-1] not in ("stop", "length", "tool_calls"):
        raise expect.fail(f"the last choice has finish_reason {finishes[-1:]}", ex)


@check("openai", "openaiCompletions")
def completion(t: Target) -> None:
    """/v1/completions: valid body and usage; streaming ends with [DONE].

    Source: middleware/openai.go CompletionsMiddleware and CompleteWriter.writeResponse;
    openai/openai.go ToCompletion, ToCompleteChunk and ToUsageGenerate.
    """
    model = t.model_with("completion")
    base = {"model": model, "prompt": "Once upon", "max_tokens": 6, "temperature": 0}
    ex = t.client.post("/v1/completions", base)
    body = expect.json_body(ex, "openaiCompletions")
    if body.get("object") != "text_completion":
        raise expect.fail(f"object {body.get('object')!r}, expected 'text_completion'", ex)
    _usage(body.get("usage"), "text_completion", ex)
    ex = t.client.post("/v1/completions", {**base, "stream": True})
    expect.sse_chunks(ex, "openaiCompletions")


@check("openai", "openaiEmbeddings")
def embeddings(t: Target) -> None:
    """/v1/embeddings: one embedding object per input, in order.

    Source: middleware/openai.go EmbeddingsMiddleware and EmbedWriter.writeResponse;
    openai/openai.go ToEmbeddingList (one object per input, index in order).
    """
    model = t.embedding_model()
    ex = t.client.post("/v1/embeddings", {"model": model, "input": ["a", "b"]})
    t.refused_embedding(model, ex.status)
    body = expect.json_body(ex, "openaiEmbeddings")
    indices = [item.get("index") for item in body.get("data", [])]
    if indices != [0, 1]:
        raise expect.fail(f"embedding indices {indices}, expected [0, 1]", ex)


@check("openai", "openaiListModels")
def list_and_retrieve_models(t: Target) -> None:
    """/v1/models lists the models; /v1/models/{id} retrieves one, 404 for unknown.

    Source: middleware/openai.go ListMiddleware and RetrieveMiddleware (GET
    /v1/models/:model via ShowHandler); openai/openai.go ToListCompletion and ToModel;
    server/routes_list_test.go TestOpenAIListMatchesTagsModels.
    """
    ex = t.client.get("/v1/models")
    body = expect.json_body(ex, "openaiListModels")
    ids = [m.get("id") for m in body.get("data", [])]
    if body.get("object") != "list" or not ids:
        raise expect.fail("/v1/models is not a non-empty list", ex)
    # The model asked for (--model), else the first listed; encoded, since a
    # foreign server's names may hold '/', '#' or spaces.
    wanted = str(t.options.models[0] if t.options.models else ids[0])
    ex = t.client.get(f"/v1/models/{quote(wanted, safe='')}")
    one = expect.json_body(ex, "openaiRetrieveModel")
    if one.get("id") != wanted:
        raise expect.fail(f"retrieved {one.get('id')!r}, asked {wanted!r}", ex)
    ex = t.client.get("/v1/models/conformance-no-such-model")
    expect.openai_error_body(ex, 404)


@check("openai", "openaiChatCompletions")
def openai_errors(t: Target) -> None:
    """/v1 errors use the OpenAI envelope: unknown model 404, malformed body 400.

    Source: middleware/openai.go BaseWriter.writeError and openai/openai.go NewError
    (the {"error": {"message", "type"}} envelope, invalid_request_error for 400,
    not_found_error for 404).
    """
    ex = t.client.post("/v1/chat/completions", _chat_body("conformance-no-such-model"))
    expect.openai_error_body(ex, 404)
    ex = t.client.request(
        "POST", "/v1/chat/completions", content=b"{", headers={"content-type": "application/json"}
    )
    expect.openai_error_body(ex, 400)
    ex = t.client.post("/v1/chat/completions", {"model": t.model_with("completion")})
    expect.openai_error_body(ex, 400)
