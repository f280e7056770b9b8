"""Fixtures of the load tool's tests.

``stub_url``: a tiny Ollama-shaped server with known timings and failures. It
streams ``num_predict`` (or ``max_tokens``) tokens, the first after ``ttft_ms`` and
one every ``itl_ms``, on the native NDJSON routes and the /v1 SSE routes, with the
server figures (``eval_count``, ``eval_duration``...) a real server sends. Model
names pick failures: ``missing`` -> 404, ``broken`` -> an ``{"error"}`` line
mid-stream, ``cut`` -> the connection closes mid-stream.

``make``: raw samples made to order, for the metric and report tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ollama_harness.load.samples import Sample
from tests.support import serve


@dataclass
class Timing:
    ttft_ms: float = 20.0
    itl_ms: float = 5.0
    tokens_per_chunk: int = 1


def _tokens(body: dict[str, Any]) -> int:
    options = body.get("options") or {}
    return int(options.get("num_predict") or body.get("max_tokens") or 8)


def build_app(timing: Timing) -> Starlette:
    async def native(request: Request) -> Response:
        body = orjson.loads(await request.body())
        model = body.get("model", "")
        if model == "missing":
            return JSONResponse({"error": f"model '{model}' not found"}, status_code=404)
        n = _tokens(body)
        chat = request.url.path == "/api/chat"
        per = timing.tokens_per_chunk

        def chunk(text: str) -> dict[str, Any]:
            base: dict[str, Any] = {"model": model, "created_at": "2026-01-01T00:00:00Z"}
            if chat:
                base["message"] = {"role": "assistant", "content": text}
            else:
                base["response"] = text
            base["done"] = False
            return base

        def final(start: float) -> dict[str, Any]:
            out = chunk("")
            out.update(
                done=True,
                done_reason="length",
                total_duration=int((time.perf_counter() - start) * 1e9),
                load_duration=1000,
                prompt_eval_count=7,
                prompt_eval_duration=7_000_000,
                eval_count=n,
                eval_duration=int(max(n - 1, 1) * timing.itl_ms * 1e6),
            )
            return out

        if body.get("stream") is False:
            start = time.perf_counter()
            await asyncio.sleep((timing.ttft_ms + timing.itl_ms * (n - 1)) / 1000)
            whole = final(start)
            whole["response" if not chat else "message"] = (
                "tok " * n if not chat else {"role": "assistant", "content": "tok " * n}
            )
            return JSONResponse(whole)

        async def lines() -> AsyncIterator[bytes]:
            start = time.perf_counter()
            if chat:  # a role-only first chunk must not count as the first token
                yield orjson.dumps(chunk("")) + b"\n"
            await asyncio.sleep(timing.ttft_ms / 1000)
            sent = 0
            while sent < n:
                if sent:
                    await asyncio.sleep(timing.itl_ms * per / 1000)
                take = min(per, n - sent)
                sent += take
                yield orjson.dumps(chunk("tok " * take)) + b"\n"
                if model == "broken" and sent >= n // 2:
                    yield orjson.dumps({"error": "model runner crashed"}) + b"\n"
                    return
                if model == "cut" and sent >= n // 2:
                    raise RuntimeError("connection cut on purpose")
            yield orjson.dumps(final(start)) + b"\n"

        return StreamingResponse(lines(), media_type="application/x-ndjson")

    async def embed(request: Request) -> Response:
        body = orjson.loads(await request.body())
        inputs = body.get("input")
        count = len(inputs) if isinstance(inputs, list) else 1
        await asyncio.sleep(timing.ttft_ms / 1000)
        if request.url.path == "/v1/embeddings":
            return JSONResponse(
                {
                    "object": "list",
                    "data": [
                        {"object": "embedding", "index": i, "embedding": [0.1, 0.2]}
                        for i in range(count)
                    ],
                    "usage": {"prompt_tokens": 5 * count, "total_tokens": 5 * count},
                }
            )
        return JSONResponse(
            {
                "model": body.get("model"),
                "embeddings": [[0.6, 0.8]] * count,
                "total_duration": 1000,
                "load_duration": 10,
                "prompt_eval_count": 5 * count,
            }
        )

    async def openai(request: Request) -> Response:
        body = orjson.loads(await request.body())
        model = body.get("model", "")
        if model == "missing":
            return JSONResponse(
                {
                    "error": {
                        "message": f"model '{model}' not found",
                        "type": "not_found_error",
                        "param": None,
                        "code": None,
                    }
                },
                status_code=404,
            )
        n = _tokens(body)
        chat = request.url.path == "/v1/chat/completions"

        def chunk(text: str | None) -> bytes:
            choice: dict[str, Any] = {"index": 0, "finish_reason": None}
            if chat:
                choice["delta"] = {"role": "assistant", "content": text or ""}
            else:
                choice["text"] = text or ""
            obj = {"id": "x", "object": "chat.completion.chunk", "choices": [choice]}
            return b"data: " + orjson.dumps(obj) + b"\n\n"

        async def events() -> AsyncIterator[bytes]:
            yield chunk(None)
            await asyncio.sleep(timing.ttft_ms / 1000)
            for i in range(n):
                if i:
                    await asyncio.sleep(timing.itl_ms / 1000)
                yield chunk("tok ")
            usage = {"prompt_tokens": 7, "completion_tokens": n, "total_tokens": n + 7}
            yield b"data: " + orjson.dumps({"id": "x", "choices": [], "usage": usage}) + b"\n\n"
            yield b"data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(
        routes=[
            Route("/api/generate", native, methods=["POST"]),
            Route("/api/chat", native, methods=["POST"]),
            Route("/api/embed", embed, methods=["POST"]),
            Route("/v1/embeddings", embed, methods=["POST"]),
            Route("/v1/chat/completions", openai, methods=["POST"]),
            Route("/v1/completions", openai, methods=["POST"]),
        ]
    )


@contextlib.contextmanager
def stub_server(
    ttft_ms: float = 20.0, itl_ms: float = 5.0, tokens_per_chunk: int = 1
) -> Iterator[str]:
    with serve(build_app(Timing(ttft_ms, itl_ms, tokens_per_chunk))) as url:
        yield url


_ids = itertools.count()


def _make(
    *,
    ttft: float | None = 100.0,
    e2e: float = 1000.0,
    tokens: int | None = 10,
    at: float = 1_000.0,
    kind: str = "chat",
    error_kind: str = "",
    status: int = 200,
    queue: float = 0.0,
    worker: int = 0,
    gaps: tuple[float, ...] = (),
    eval_ns: int | None = None,
) -> Sample:
    return Sample(
        request_id=f"r{next(_ids)}",
        worker=worker,
        kind=kind,
        endpoint=f"/api/{kind}",
        stream=ttft is not None,
        users=4,
        scheduled_at=at,
        queue_ms=queue,
        ttft_ms=ttft,
        e2e_ms=e2e,
        output_tokens=tokens,
        token_source="eval_count" if tokens else "none",
        prompt_tokens=5,
        chunks=tokens or 0,
        chunk_gaps_ms=gaps,
        eval_count=tokens,
        eval_duration_ns=eval_ns,
        status=status,
        error_kind=error_kind,
        error="boom" if error_kind else "",
    )


@pytest.fixture(scope="session")
def stub_url() -> Iterator[str]:
    """One stub server for the session: 20 ms to the first token, 5 ms per token."""
    with stub_server(ttft_ms=20, itl_ms=5) as url:
        yield url


@pytest.fixture
def make() -> Callable[..., Sample]:
    """``make(ttft=..., e2e=..., tokens=..., at=..., error_kind=...)`` -> a Sample."""
    return _make
