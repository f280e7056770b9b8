"""Ollama's wire protocol, written once for both servers.

What a server says on the wire, independent of when it says it: Ollama's refusal
messages (:mod:`.messages`), the status lines of pull / push / create
(:mod:`.progress`), the Host and Origin policy (:mod:`.origins`), the metrics of
a final line (:mod:`.metrics`), NDJSON and Server-Sent Events framing
(:mod:`.framing`), the answer to an empty request (:mod:`.native`), the order in
which a generate or chat request is checked (:mod:`.checks`), the ``/v1`` <->
native translation (:mod:`.openai`) and the Anthropic Messages (:mod:`.anthropic`)
and OpenAI Responses (:mod:`.responses`) translations.

The mock and the reference server both import these; each only decides *when* to
say something. The conformance suite does not: it keeps its own expectations, so
that a mistake made here cannot hide itself.

:data:`WIRE_STRINGS` lists the fragments that no server module may spell out
itself (tests/test_protocol_core.py greps for them).
"""

from __future__ import annotations

from ollama_harness.core.protocol import anthropic, framing, messages, openai, progress, responses

WIRE_STRINGS: tuple[str, ...] = (
    *messages.WIRE_STRINGS,
    *progress.WIRE_STRINGS,
    *framing.WIRE_STRINGS,
    *openai.WIRE_STRINGS,
    *anthropic.WIRE_STRINGS,
    *responses.WIRE_STRINGS,
)
