"""A server with four sequences per model: concurrent streams, cancellation, chat turns.

This module runs its own server (num_parallel 4) so that four requests are decoded
in one batch and a chat's next turn finds its history in the cache.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.realserver.conftest import MODEL, RunningServer, start_server
from tests.support import HAS_LLAMA

pytestmark = pytest.mark.reference


@pytest.fixture(scope="module")
def wide(model_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    if not HAS_LLAMA:
        pytest.skip("llama-cpp-python (the reference extra) is not installed")
    log = tmp_path_factory.mktemp("logs") / "wide.log"
    running = start_server(
        model_store, log, num_parallel="4", context_length="1024", num_thread="2"
    )
    yield running
    running.stop()


@pytest.fixture
def client(wide: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=wide.url, timeout=120) as http:
        yield http
    assert wide.process.poll() is None, wide.output()


def stream_lines(url: str, body: dict[str, Any], out: list[dict[str, Any]]) -> None:
    with (
        httpx.Client(base_url=url, timeout=120) as http,
        http.stream("POST", "/api/generate", json=body) as response,
    ):
        assert response.status_code == 200
        out.extend(json.loads(line) for line in response.iter_lines() if line.strip())


def test_four_concurrent_streams_complete_with_metrics_that_add_up(
    wide: RunningServer, client: httpx.Client
) -> None:
    prompts = [
        "Write a poem about the sea.",
        "Explain how rain forms.",
        "Describe a busy city street.",
        "Tell me about the moon.",
    ]
    outputs: list[list[dict[str, Any]]] = [[] for _ in prompts]
    threads = [
        threading.Thread(
            target=stream_lines,
            args=(
                wide.url,
                {"model": MODEL, "prompt": p, "options": {"num_predict": 20, "temperature": 0}},
                out,
            ),
        )
        for p, out in zip(prompts, outputs, strict=True)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    for lines in outputs:
        final = lines[-1]
        assert final["done"] and final["done_reason"] == "length" and final["eval_count"] == 20
        assert all(not line["done"] for line in lines[:-1])
        text = "".join(line["response"] for line in lines)
        assert text and final["load_duration"] > 0  # its wait for the model, never omitted
        assert final["total_duration"] >= (
            final["load_duration"] + final["prompt_eval_duration"] + final["eval_duration"]
        )
        prompt_length = len(final["context"]) - 20
        assert 0 < final["prompt_eval_count"] <= prompt_length
    # /api/ps: one loaded model, its size the one context (weights + four sequences).
    running = client.get("/api/ps").json()["models"]
    assert len(running) == 1 and running[0]["size"] > 0


def test_a_client_that_leaves_mid_batch_does_not_change_the_others(
    wide: RunningServer, client: httpx.Client
) -> None:
    options = {"num_predict": 24, "temperature": 0}
    prompts = ["Explain how rain forms.", "Describe a busy city street."]
    alone = [
        client.post(
            "/api/generate",
            json={"model": MODEL, "prompt": p, "stream": False, "options": options},
        ).json()
        for p in prompts
    ]
    outputs: list[list[dict[str, Any]]] = [[] for _ in prompts]
    threads = [
        threading.Thread(
            target=stream_lines,
            args=(wide.url, {"model": MODEL, "prompt": p, "options": options}, out),
        )
        for p, out in zip(prompts, outputs, strict=True)
    ]
    for thread in threads:
        thread.start()
    body = {"model": MODEL, "prompt": "Tell me a very long story.", "options": {"num_predict": 500}}
    with (
        httpx.Client(base_url=wide.url, timeout=120) as http,
        http.stream("POST", "/api/generate", json=body) as leaving,
    ):
        for count, _ in enumerate(leaving.iter_lines()):
            if count >= 3:
                break  # hang up mid-generation
    for thread in threads:
        thread.join(120)
    for lines, reference in zip(outputs, alone, strict=True):
        assert lines[-1]["eval_count"] == 24
        assert "".join(line["response"] for line in lines) == reference["response"]
    # The server is free again: all four sequences serve new requests at once.
    assert client.get("/api/ps").json()["models"]


def test_a_chats_second_turn_evaluates_only_the_new_tokens(client: httpx.Client) -> None:
    # num_ctx 768: a fresh load, so the first turn finds nothing cached.
    options = {"num_predict": 12, "temperature": 0, "num_ctx": 768}
    turn = [{"role": "user", "content": "My name is Ada. Please remember it."}]
    first = client.post(
        "/api/chat", json={"model": MODEL, "messages": turn, "stream": False, "options": options}
    ).json()
    history = [*turn, first["message"], {"role": "user", "content": "What is my name?"}]
    second = client.post(
        "/api/chat",
        json={"model": MODEL, "messages": history, "stream": False, "options": options},
    ).json()
    # The same turn on a freshly loaded model (another num_ctx) evaluates it whole.
    cold = client.post(
        "/api/chat",
        json={
            "model": MODEL,
            "messages": history,
            "stream": False,
            "options": {**options, "num_ctx": 640},
        },
    ).json()
    whole = cold["prompt_eval_count"]
    assert second["prompt_eval_count"] < whole
    # At most the new turn (and the reply's end, re-rendered by the template) is new.
    assert second["prompt_eval_count"] <= whole - first["prompt_eval_count"] + 1
