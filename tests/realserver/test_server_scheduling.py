"""Scheduling on a real server: queue limit, disconnects, a free event loop, keep_alive.

This module runs its own server with one slot, a queue of one and one loaded model
at a time, so that every limit is reached with a handful of requests.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest

from tests.realserver.conftest import MODEL, RunningServer, start_server
from tests.support import HAS_LLAMA, wait_for

pytestmark = pytest.mark.reference
BUSY = "server busy, please try again.  maximum pending requests exceeded"


@pytest.fixture(scope="module")
def small(model_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    if not HAS_LLAMA:
        pytest.skip("llama-cpp-python (the reference extra) is not installed")
    log = tmp_path_factory.mktemp("logs") / "small.log"
    running = start_server(
        model_store,
        log,
        num_parallel="1",
        max_queue="1",
        max_loaded_models="1",
        context_length="1024",
        num_thread="2",
    )
    yield running
    running.stop()


@pytest.fixture
def client(small: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=small.url, timeout=60) as http:
        yield http
    assert small.process.poll() is None, small.output()


def long_request(num_predict: int = 2000) -> dict[str, object]:
    return {
        "model": MODEL,
        "prompt": "Tell me a very long story.",
        "options": {"num_predict": num_predict},
    }


class Streamer(threading.Thread):
    """A client streaming a long generation in the background until told to hang up."""

    def __init__(self, url: str, body: dict[str, object]) -> None:
        super().__init__(daemon=True)
        self.url, self.body = url, body
        self.lines: list[dict[str, object]] = []
        self.first_line = threading.Event()
        self.hang_up = threading.Event()
        self.finished = threading.Event()
        self.status = 0

    def run(self) -> None:
        with httpx.Client(timeout=120) as http, http.stream("POST", self.url, json=self.body) as r:
            self.status = r.status_code
            for line in r.iter_lines():
                if line:
                    self.lines.append(json.loads(line))
                    self.first_line.set()
                if self.hang_up.is_set():
                    break  # leaving the block closes the connection mid-stream
        self.first_line.set()
        self.finished.set()


def _lines_or_end(stream: Streamer, count: int) -> bool:
    return len(stream.lines) >= count or stream.finished.is_set()


def quick(client: httpx.Client) -> dict[str, object]:
    response = client.post(
        "/api/generate",
        json={"model": MODEL, "prompt": "Hi", "stream": False, "options": {"num_predict": 3}},
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_queue_beyond_max_queue_is_503_and_nothing_hangs(
    small: RunningServer, client: httpx.Client
) -> None:
    # The holder must still be generating when the third request arrives; the model
    # may sample an end-of-text early, so an attempt where it did is tried again
    # with another seed, and the test fails loudly if the limit was never exercised.
    for seed in range(5):
        holder_body = {**long_request(), "options": {"num_predict": 2000, "seed": seed}}
        holder = Streamer(f"{small.url}/api/generate", holder_body)
        holder.start()
        assert holder.first_line.wait(60)
        waiter = Streamer(f"{small.url}/api/generate", long_request(num_predict=3))
        waiter.start()
        time.sleep(0.5)  # the waiter is now queued behind the holder
        refused = client.post("/api/generate", json={**long_request(5), "stream": False})
        v1 = client.post(
            "/v1/chat/completions",
            json={"model": MODEL, "messages": [{"role": "user", "content": "x"}], "max_tokens": 5},
        )
        held_throughout = not holder.finished.is_set()
        holder.hang_up.set()
        assert waiter.finished.wait(30), "the queued request never ran"
        assert waiter.lines[-1]["done"] is True and waiter.lines[-1]["eval_count"] == 3
        if not held_throughout:
            continue
        assert refused.status_code == 503
        assert refused.json() == {"error": BUSY}
        assert v1.status_code == 503 and v1.json()["error"]["message"] == BUSY
        return
    pytest.fail("the holder ended its answer early on every seed; the queue limit was not tested")


def test_disconnect_mid_stream_frees_the_slot(small: RunningServer, client: httpx.Client) -> None:
    quick(client)  # loaded and warm
    # The client must hang up on a generation that is still running; when the model
    # ends its answer within three lines, another seed gives a longer one.
    for seed in range(5):
        body = {**long_request(), "options": {"num_predict": 2000, "seed": seed}}
        stream = Streamer(f"{small.url}/api/generate", body)
        stream.start()
        assert stream.first_line.wait(60)
        wait_for(partial(_lines_or_end, stream, 3), 60)
        hung_up_mid_stream = not stream.finished.is_set()
        stream.hang_up.set()
        assert stream.finished.wait(10)
        if hung_up_mid_stream and not stream.lines[-1]["done"]:
            break
    else:
        pytest.fail("every generation ended within three lines: the disconnect was never exercised")
    started = time.perf_counter()
    answer = quick(client)
    waited = time.perf_counter() - started
    # The slot was free at once: load_duration is the request's wait for it (the
    # model is loaded), one step of the cancelled sequence at most. 2000 tokens
    # would take minutes here, so the wall time tells it too, with room for a host
    # whose other processes take the CPUs (load 8 on 2 cores slowed a step to 1 s).
    assert int(answer["load_duration"]) < 5_000_000_000  # type: ignore[call-overload]
    assert waited < 30, f"the next request waited {waited:.2f} s"


def test_disconnect_before_a_non_streamed_answer_frees_the_slot(
    small: RunningServer, client: httpx.Client
) -> None:
    quick(client)
    # The model may sample an end-of-text early; a few seeds make sure the client
    # really gives up on a generation that is still running.
    for seed in range(5):
        body = {**long_request(), "stream": False, "options": {"num_predict": 2000, "seed": seed}}
        try:
            with httpx.Client(timeout=1.0) as impatient:
                impatient.post(f"{small.url}/api/generate", json=body)
        except httpx.ReadTimeout:
            break
    else:
        pytest.fail("every generation ended within 1 s: the disconnect was never exercised")
    started = time.perf_counter()
    answer = quick(client)
    assert int(answer["load_duration"]) < 5_000_000_000  # type: ignore[call-overload]
    assert time.perf_counter() - started < 30


def test_event_loop_answers_while_generating(small: RunningServer, client: httpx.Client) -> None:
    # Only a round of checks made while the generation was still running counts;
    # when the model ends its answer early, another seed gives a longer one.
    for seed in range(5):
        body = {**long_request(), "options": {"num_predict": 300, "seed": seed}}
        stream = Streamer(f"{small.url}/api/generate", body)
        stream.start()
        assert stream.first_line.wait(60)
        worst = 0.0
        for _ in range(5):
            for path in ("/", "/api/tags", "/api/ps", "/api/version"):
                started = time.perf_counter()
                assert client.get(path).status_code == 200
                worst = max(worst, time.perf_counter() - started)
        generating_throughout = not stream.finished.is_set()
        stream.hang_up.set()
        assert stream.finished.wait(10)
        if generating_throughout:
            assert worst < 0.5, f"a health check took {worst:.3f} s during generation"
            return
    pytest.fail("every generation ended before the checks did: nothing was measured")


def test_keep_alive_unloads_after_expiry(client: httpx.Client) -> None:
    loaded = client.post("/api/generate", json={"model": MODEL, "keep_alive": "1s"}).json()
    assert loaded["done_reason"] == "load"
    assert [m["name"] for m in client.get("/api/ps").json()["models"]] == [MODEL]
    started = time.perf_counter()
    wait_for(lambda: not client.get("/api/ps").json()["models"], 10, 0.1, "the model to unload")
    assert time.perf_counter() - started > 0.5


def test_max_loaded_models_swaps_models(client: httpx.Client) -> None:
    client.post("/api/generate", json={"model": MODEL, "keep_alive": "5m"})
    client.post("/api/generate", json={"model": "llama3.2", "keep_alive": "5m"})
    assert [m["name"] for m in client.get("/api/ps").json()["models"]] == ["llama3.2:latest"]
    forever = client.post("/api/generate", json={"model": "llama3.2", "keep_alive": -1}).json()
    assert forever["done_reason"] == "load"
    (entry,) = client.get("/api/ps").json()["models"]
    assert entry["expires_at"].startswith("2318-")  # Ollama's "forever"
    client.post("/api/generate", json={"model": "llama3.2", "keep_alive": 0})
    assert client.get("/api/ps").json()["models"] == []


def test_other_num_ctx_reloads_the_model(client: httpx.Client) -> None:
    for num_ctx in (512, 256):
        client.post("/api/generate", json={"model": MODEL, "options": {"num_ctx": num_ctx}})
        (entry,) = client.get("/api/ps").json()["models"]
        assert entry["context_length"] == num_ctx
    client.post("/api/generate", json={"model": MODEL, "keep_alive": 0})
