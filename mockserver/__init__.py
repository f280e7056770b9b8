"""A deterministic mock of the Ollama REST API (native ``/api``, ``/v1``, ``/v2`` registry).

Same request, same bytes: text, embeddings and tool calls are derived from a hash
of the request (model, prompt or messages, system, ``options.seed``, format), and
with ``clock="fixed"`` timestamps and durations are reproducible too.

Two request headers steer a single request:

``X-Mock-Timing: ttft=100ms, itl=10ms, jitter=2ms, seed=7``
    time to first token, delay between tokens, uniform +/- jitter drawn from the
    seed (values are Go durations or bare milliseconds). The effective plan is
    echoed in the response's ``X-Mock-Timing`` header.

``X-Mock-Fault: status=503`` (or ``500``, ``429``, ...), ``error-after=5``,
``drop-after=5``, ``stall=2s`` (with ``stall-after=N``), ``slow-first-byte=1s``,
``message=...``
    an error before the first byte, an ``{"error"}`` line after 5 tokens, a
    dropped connection after 5 tokens, a pause mid-stream, a slow first byte.

A scenario file (``--faults``) applies faults by route, model and probability
with a seed; see :mod:`mockserver.faults`. Run it with ``ollama-harness mock``,
or in tests with :class:`mockserver.testing.MockServer` or the ``ollama_mock``
pytest fixture.
"""

from __future__ import annotations

from .app import MockApp, create_app
from .settings import MockSettings
from .testing import MockServer

__all__ = ["MockApp", "MockServer", "MockSettings", "create_app"]
