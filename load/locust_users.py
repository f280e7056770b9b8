"""Locust users that speak Ollama's native API (NDJSON) and its /v1 routes (SSE).

Each user holds one keep-alive connection (geventhttpclient, the client under
Locust's ``FastHttpUser``) and reads a streamed body line by line, stamping each
complete line with ``perf_counter()``. Locust would time a streamed request when
its headers arrive, so these users time requests themselves and report two
entries to Locust's statistics (``POST <path>`` with the E2E time, ``TTFT <path>``
with the time to first token) while the raw samples go to the run's store.
"""

from __future__ import annotations

import random
from time import perf_counter
from typing import ClassVar
from urllib.parse import urlsplit

import gevent
from geventhttpclient import HTTPClient
from geventhttpclient.response import HTTPConnectionClosed
from locust import FastHttpUser, constant, task

from ollama_harness.load.locust_runtime import STATE, RunState
from ollama_harness.load.samples import Sample, epoch_of
from ollama_harness.load.streams import (
    ResponseRecord,
    feed_anthropic,
    feed_ndjson,
    feed_responses,
    feed_sse,
    read_whole,
)
from ollama_harness.load.workload import PreparedRequest, Workload


class RequestError(Exception):
    """What Locust's statistics show for a failed request: the error kind and message."""


def _error_message(body: bytes) -> str:
    import orjson

    try:
        obj = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:200].decode("utf-8", "replace")
    error = obj.get("error") if isinstance(obj, dict) else None
    if isinstance(error, dict):
        return str(error.get("message", error))
    return str(error) if error is not None else body[:200].decode("utf-8", "replace")


class OllamaUser(FastHttpUser):
    """Base class: sends the run's workload, closed loop or on the arrival schedule."""

    abstract = True
    api: ClassVar[str] = "native"
    wait_time = constant(0)

    _run: RunState
    _workload: Workload
    _rng: random.Random
    _http: HTTPClient
    _prefix: str

    def on_start(self) -> None:
        self._run = STATE
        self._workload = STATE.workloads[self.api]
        self._rng = random.Random(STATE.options.seed * 1_000_003 + next(STATE.user_seq))
        self._prefix = urlsplit(self.host or "").path.rstrip("/")
        self._http = self._connect()

    def _connect(self) -> HTTPClient:
        return HTTPClient.from_url(
            self.host or "",
            concurrency=1,
            connection_timeout=min(10.0, self._run.options.request_timeout),
            network_timeout=self._run.options.request_timeout,
        )

    def on_stop(self) -> None:
        self._http.close()

    @task
    def send(self) -> None:
        state = self._run
        schedule = state.schedule
        if schedule is not None:
            slot = schedule.next_slot(perf_counter())
            if slot is None:  # the schedule has ended; wait for the run to stop us
                gevent.sleep(0.1)
                return
            delay = slot - perf_counter()
            if delay > 0:
                gevent.sleep(delay)
            scheduled = slot
        else:
            scheduled = perf_counter()
        request = self._workload.pick(self._rng)
        state.in_flight += 1
        recorded = False
        try:
            sample = self._measure(request, scheduled)
            state.record(sample)
            recorded = True
            self._report(sample)
        finally:
            state.in_flight -= 1
            if not recorded:  # killed mid-request at the end of the run
                state.cut_off += 1

    def _measure(self, request: PreparedRequest, scheduled: float) -> Sample:
        state = self._run
        record = ResponseRecord()
        request_id = state.next_request_id()
        headers = {"Content-Type": "application/json", "X-Request-Id": request_id}
        status = 0
        size = 0
        sent = perf_counter()
        now = sent
        try:
            response = self._http.request(
                "POST", self._prefix + request.path, body=request.body, headers=headers
            )
            status = response.status_code
            if status >= 400:
                body = response.read()
                now = perf_counter()
                size = len(body)
                record.fail(f"http_{status}", _error_message(body), now)
            elif request.stream:
                feed = _FEEDS[self.api]
                while not record.finished:
                    line = response.readline(b"\n")
                    now = perf_counter()
                    if not line:
                        break
                    size += len(line)
                    feed(record, line, now)
                if record.finished:
                    response.read()  # the chunked terminator, so the connection is reusable
                else:
                    record.fail("incomplete_stream", "stream ended before its final chunk", now)
            else:
                body = response.read()
                now = perf_counter()
                size = len(body)
                read_whole(record, body, self.api, request.kind, now)
        except TimeoutError as exc:
            record.fail("timeout", f"no data for {state.options.request_timeout:g}s ({exc})", now)
            self._reconnect()
        except (OSError, HTTPConnectionClosed) as exc:  # refused, reset, closed early
            kind = "incomplete_stream" if status and request.stream else "connection"
            record.fail(kind, f"{type(exc).__name__}: {exc}", perf_counter())
            self._reconnect()
        except Exception as exc:  # the HTTP parser's errors: a malformed or cut response
            kind = "incomplete_stream" if status and request.stream else "protocol"
            record.fail(kind, f"{type(exc).__name__}: {exc}", perf_counter())
            self._reconnect()
        end = record.last_at if record.last_at is not None else perf_counter()
        first = record.first_text_at
        return Sample(
            request_id=request_id,
            worker=state.worker_index,
            kind=request.kind,
            endpoint=request.path,
            stream=request.stream,
            users=self.environment.runner.user_count if self.environment.runner else 0,
            scheduled_at=epoch_of(scheduled),
            queue_ms=(sent - scheduled) * 1000.0,
            ttft_ms=(first - scheduled) * 1000.0 if request.stream and first else None,
            e2e_ms=(end - scheduled) * 1000.0,
            output_tokens=record.output_tokens,
            token_source=record.token_source,
            prompt_tokens=record.prompt_tokens,
            chunks=record.chunks,
            chunk_gaps_ms=tuple(record.gaps_ms),
            eval_count=record.server.get("eval_count"),
            eval_duration_ns=record.server.get("eval_duration_ns"),
            prompt_eval_count=record.server.get("prompt_eval_count"),
            prompt_eval_duration_ns=record.server.get("prompt_eval_duration_ns"),
            total_duration_ns=record.server.get("total_duration_ns"),
            load_duration_ns=record.server.get("load_duration_ns"),
            status=status,
            error_kind=record.error_kind,
            error=record.error,
            response_bytes=size,
        )

    def _reconnect(self) -> None:
        # a failed exchange leaves the socket in an unknown state: never reuse it
        self._http.close()
        self._http = self._connect()

    def _report(self, sample: Sample) -> None:
        fire = self.environment.events.request.fire
        exception = None if sample.ok else RequestError(f"{sample.error_kind}: {sample.error}")
        fire(
            request_type="POST",
            name=sample.endpoint,
            response_time=sample.e2e_ms,
            response_length=sample.response_bytes,
            exception=exception,
            context={},
        )
        if sample.ttft_ms is not None:
            fire(
                request_type="TTFT",
                name=sample.endpoint,
                response_time=sample.ttft_ms,
                response_length=0,
                exception=None,
                context={},
            )


class NativeUser(OllamaUser):
    """Ollama's native API: /api/generate and /api/chat as NDJSON, /api/embed."""

    api = "native"


class OpenAIUser(OllamaUser):
    """The OpenAI-compatible routes: /v1/completions and /v1/chat/completions as SSE,
    /v1/embeddings."""

    api = "openai"


class AnthropicUser(OllamaUser):
    """The Anthropic Messages API: /v1/messages with named SSE events."""

    api = "anthropic"


class ResponsesUser(OllamaUser):
    """The OpenAI Responses API: /v1/responses with named SSE events."""

    api = "responses"


_FEEDS = {
    "native": feed_ndjson,
    "openai": feed_sse,
    "anthropic": feed_anthropic,
    "responses": feed_responses,
}
USER_CLASSES: dict[str, type[OllamaUser]] = {
    "native": NativeUser,
    "openai": OpenAIUser,
    "anthropic": AnthropicUser,
    "responses": ResponsesUser,
}
