"""Parallel requests: all complete; past the queue limit the answer is 503, not a reset."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx

from conformance import expect
from conformance.checks._inference import GENERATE
from conformance.http import Exchange
from conformance.outcome import CheckSkipped
from conformance.registry import check
from conformance.target import Target

BUSY = "server busy, please try again.  maximum pending requests exceeded"


def _burst(t: Target, count: int, num_predict: int) -> list[Exchange | Exception]:
    model = t.model_with("completion")

    def one(index: int) -> Exchange | Exception:
        body = GENERATE.body(model, f"Count to {index + 3}.")
        body["stream"] = index % 2 == 0
        body["options"] = t.options_for_inference(num_predict)
        try:
            return t.client.post(GENERATE.path, body)
        except httpx.HTTPError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


@check("concurrency", "generate", level="core")
def parallel_requests_complete(t: Target) -> None:
    """Four parallel generate requests (streamed and not) all complete validly."""
    for outcome in _burst(t, 4, 4):
        if isinstance(outcome, Exception):
            raise expect.fail(f"a parallel request failed: {type(outcome).__name__}: {outcome}")
        if outcome.status == 503:
            expect.error_body(outcome, "generate", 503, BUSY)
            continue  # a tiny queue may refuse; the refusal itself is checked
        if outcome.request_body["stream"]:
            expect.ndjson_lines(outcome, "generate")
        else:
            expect.json_body(outcome, "generate")


@check("concurrency", "generate", level="core")
def queue_overflow_is_503(t: Target) -> None:
    """Past the queue limit: 503 server busy as {"error"}, never a reset or another status."""
    count = 32 if t.thorough else 10
    outcomes = _burst(t, count, 16)
    refused = 0
    for outcome in outcomes:
        if isinstance(outcome, Exception):
            raise expect.fail(
                f"a request past the limit was dropped ({type(outcome).__name__}: {outcome}), "
                "not refused with 503"
            )
        if outcome.status == 503:
            refused += 1
            expect.error_body(outcome, "generate", 503, BUSY)
        elif outcome.status != 200:
            raise expect.fail(f"status {outcome.status} under load", outcome)
    if not refused:
        raise CheckSkipped(
            f"{count} concurrent requests never reached the queue limit "
            "(start the server with a small OLLAMA_MAX_QUEUE to check it)"
        )
