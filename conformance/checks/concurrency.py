"""Parallel requests: all complete; past the queue limit the answer is 503, not a reset."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from ollama_harness.conformance import expect
from ollama_harness.conformance.checks._inference import GENERATE
from ollama_harness.conformance.http import Exchange
from ollama_harness.conformance.outcome import CheckSkipped, ServerUnreachable
from ollama_harness.conformance.registry import check
from ollama_harness.conformance.target import Target

BUSY = "server busy, please try again.  maximum pending requests exceeded"


def _burst(t: Target, count: int, num_predict: int) -> list[Exchange | ServerUnreachable]:
    model = t.model_with("completion")

    def one(index: int) -> Exchange | ServerUnreachable:
        body = GENERATE.body(model, f"Count to {index + 3}.")
        body["stream"] = index % 2 == 0
        body["options"] = t.options_for_inference(num_predict)
        # Queued requests wait for those before them: the deadline covers them all,
        # and a stream that runs past its length still fails at once.
        budget = 2 * num_predict + 8 if body["stream"] else None
        try:
            return t.client.post(
                GENERATE.path, body, timeout=t.options.timeout * count, max_lines=budget
            )
        except ServerUnreachable as exc:
            return exc

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


@check("concurrency", "generate", level="core")
def parallel_requests_complete(t: Target) -> None:
    """Four parallel generate requests (streamed and not) all complete validly.

    Source: server/sched.go (OLLAMA_NUM_PARALLEL requests per runner, the rest queued);
    server/routes.go GenerateHandler.
    """
    for outcome in _burst(t, 4, 4):
        if isinstance(outcome, ServerUnreachable):
            raise outcome
        if outcome.status == 503:
            expect.error_body(outcome, "generate", 503, BUSY)
            continue  # a tiny queue may refuse; the refusal itself is checked
        if outcome.request_body["stream"]:
            expect.ndjson_lines(outcome, "generate")
        else:
            expect.json_body(outcome, "generate")


@check("concurrency", "generate", level="core")
def queue_overflow_is_503(t: Target) -> None:
    """Past the queue limit: 503 server busy as {"error"}, never a reset or another status.

    Source: server/sched.go ErrMaxQueue ("server busy, please try again.  maximum
    pending requests exceeded") and server/routes.go handleScheduleError (503); wording
    recommended.
    """
    count = 32 if t.thorough else 10
    outcomes = _burst(t, count, 16)
    refused = 0
    for outcome in outcomes:
        if isinstance(outcome, ServerUnreachable):
            raise expect.fail(
                f"a request past the limit was dropped ({outcome.reason}), not refused with 503"
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
