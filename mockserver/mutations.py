"""Deliberately broken variants of the mock, to prove the conformance suite catches them.

Each mutation is ASGI middleware around the correct app: it rewrites the request
(the server then "ignores" a field), rewrites the buffered response (a wrong
field, type, status, content type or framing), or answers in place of the app
(an operation that does nothing). ``ollama-harness mock --mutation NAME`` serves
one; ``tests/conformance`` runs the suite against every entry of
:data:`MUTATIONS` and requires each to be caught by at least one named check.

Only the core and third-party libraries are imported: this is the mock's layer.

Why one module of ~660 lines: it is a catalogue, one small entry per mutant, and
the mutation test reads :data:`MUTATIONS` as one list; splitting it by area would
scatter that list without making any entry shorter.
"""

from __future__ import annotations

import json
import random
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from ollama_harness.core.spec import load_spec

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

NDJSON = "application/x-ndjson"
SSE = "text/event-stream"
JSON = "application/json"
INFERENCE = ("/api/generate", "/api/chat")


@dataclass
class Reply:
    """A buffered response the mutation may rewrite before it is sent."""

    method: str
    path: str
    request: Any
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    @property
    def media_type(self) -> str:
        for key, value in self.headers:
            if key.lower() == b"content-type":
                return value.decode("latin-1").split(";")[0].strip().lower()
        return ""

    def set_media_type(self, value: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != b"content-type"]
        self.headers.append((b"content-type", value.encode()))

    def set_json(self, value: Any) -> None:
        self.body = json.dumps(value, separators=(",", ":")).encode()

    def objects(self, fn: Callable[[dict[str, Any]], dict[str, Any] | None]) -> None:
        """Apply ``fn`` to the JSON body or to every NDJSON line (None drops a line)."""
        if self.media_type == NDJSON:
            out = []
            for raw in self.body.decode().splitlines():
                obj = fn(json.loads(raw)) if raw.strip() else None
                if obj is not None:
                    out.append(json.dumps(obj, separators=(",", ":")))
            self.body = "".join(line + "\n" for line in out).encode()
        elif self.media_type == JSON and self.body:
            obj = json.loads(self.body)
            if isinstance(obj, dict):
                changed = fn(obj)
                if changed is not None:
                    self.set_json(changed)

    def lines(self) -> list[str]:
        return [raw for raw in self.body.decode().splitlines() if raw.strip()]

    def set_lines(self, lines: list[str]) -> None:
        self.body = "".join(line + "\n" for line in lines).encode()


RequestRewrite = Callable[[str, str, Any], Any]
ResponseRewrite = Callable[[Reply], None]
Shortcut = Callable[[str, str, Any], tuple[int, Any] | None]


@dataclass(frozen=True)
class Mutation:
    name: str
    description: str
    request: RequestRewrite | None = None
    response: ResponseRewrite | None = None
    shortcut: Shortcut | None = None
    rewrite_host: bool = False
    paths: tuple[str, ...] = field(default=())

    def applies(self, path: str) -> bool:
        return not self.paths or path.startswith(self.paths)


MUTATIONS: dict[str, Mutation] = {}


def _mutation(name: str, description: str, **kwargs: Any) -> None:
    MUTATIONS[name] = Mutation(name, description, **kwargs)


# -- request rewriting: the server "ignores" a field --
def _drop_option(key: str) -> RequestRewrite:
    def rewrite(method: str, path: str, body: Any) -> Any:
        if isinstance(body, dict) and isinstance(body.get("options"), dict):
            body["options"].pop(key, None)
        return body

    return rewrite


def _drop_field(key: str) -> RequestRewrite:
    def rewrite(method: str, path: str, body: Any) -> Any:
        if isinstance(body, dict):
            body.pop(key, None)
        return body

    return rewrite


def _random_seed(method: str, path: str, body: Any) -> Any:
    options = body.get("options") if isinstance(body, dict) else None
    if isinstance(options, dict) and "seed" in options:
        options["seed"] = random.randrange(1, 2**31)
    return body


_mutation(
    "ignore-num-predict",
    "options.num_predict is dropped: generation runs to its natural length",
    request=_drop_option("num_predict"),
    paths=INFERENCE,
)
_mutation(
    "ignore-stop",
    "options.stop is dropped: stop sequences do not end generation",
    request=_drop_option("stop"),
    paths=INFERENCE,
)
_mutation(
    "ignore-seed",
    "options.seed is replaced by a random one: a fixed seed is not reproducible",
    request=_random_seed,
    paths=INFERENCE,
)
_mutation(
    "ignore-stream-false",
    "stream: false is dropped: every answer streams",
    request=_drop_field("stream"),
    paths=INFERENCE,
)
_mutation(
    "ignore-format",
    "format is dropped: JSON mode and structured outputs are not enforced",
    request=_drop_field("format"),
    paths=INFERENCE,
)
_mutation(
    "ignore-keep-alive",
    "keep_alive is dropped: keep_alive 0 does not unload",
    request=_drop_field("keep_alive"),
    paths=INFERENCE,
)
_mutation(
    "ignore-context",
    "generate's context is dropped: a conversation is not continued",
    request=_drop_field("context"),
    paths=("/api/generate",),
)
_mutation(
    "accept-foreign-host",
    "the Host header is rewritten to loopback: the DNS-rebinding guard never fires",
    rewrite_host=True,
)


# -- response rewriting: fields and types --
def _on_objects(fn: Callable[[dict[str, Any]], dict[str, Any] | None]) -> ResponseRewrite:
    def rewrite(reply: Reply) -> None:
        if reply.status == 200:
            reply.objects(fn)

    return rewrite


def _without(key: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda obj: {k: v for k, v in obj.items() if k != key}


def _final(fn: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[dict[str, Any]], Any]:
    return lambda obj: fn(obj) if obj.get("done") is True else obj


_mutation(
    "missing-model-field",
    "generate and chat answers lack the required 'model' field",
    response=_on_objects(_without("model")),
    paths=INFERENCE,
)
_mutation(
    "eval-count-as-string",
    "the final line's eval_count is a string",
    response=_on_objects(_final(lambda o: {**o, "eval_count": str(o.get("eval_count", 0))})),
    paths=INFERENCE,
)
_mutation(
    "eval-count-off-by-three",
    "streamed final lines report eval_count 3 higher than generated",
    response=lambda r: (
        r.objects(_final(lambda o: {**o, "eval_count": o.get("eval_count", 0) + 3}))
        if r.media_type == NDJSON
        else None
    ),
    paths=INFERENCE,
)
_mutation(
    "created-at-not-rfc3339",
    "created_at is written '2024-06-01 00:00:00' (no T, no zone)",
    response=_on_objects(
        lambda o: {**o, "created_at": "2024-06-01 00:00:00"} if "created_at" in o else o
    ),
    paths=INFERENCE,
)
_mutation(
    "done-reason-finished",
    "done_reason 'finished' instead of stop/length",
    response=_on_objects(
        lambda o: (
            {**o, "done_reason": "finished"} if o.get("done_reason") in ("stop", "length") else o
        )
    ),
    paths=INFERENCE,
)
_mutation(
    "total-duration-too-small",
    "total_duration is 1 ns, less than the durations it should cover",
    response=_on_objects(_final(lambda o: {**o, "total_duration": 1})),
    paths=INFERENCE,
)
_mutation(
    "load-reported-as-stop",
    "loading and unloading report done_reason 'stop'",
    response=_on_objects(
        lambda o: {**o, "done_reason": "stop"} if o.get("done_reason") in ("load", "unload") else o
    ),
    paths=INFERENCE,
)
_mutation(
    "tags-size-as-string",
    "/api/tags gives each model's size as a string",
    response=_on_objects(
        lambda o: {**o, "models": [{**m, "size": str(m.get("size"))} for m in o.get("models", [])]}
    ),
    paths=("/api/tags",),
)
_mutation(
    "ps-always-empty",
    "/api/ps never lists a loaded model",
    response=_on_objects(lambda o: {**o, "models": []}),
    paths=("/api/ps",),
)
_mutation(
    "show-drops-system",
    "/api/show leaves out the model's system prompt",
    response=_on_objects(_without("system")),
    paths=("/api/show",),
)
_mutation(
    "embeddings-not-normalised",
    "/api/embed vectors are scaled by 2 (not L2-normalised)",
    response=_on_objects(
        lambda o: {**o, "embeddings": [[2 * x for x in v] for v in o.get("embeddings", [])]}
    ),
    paths=("/api/embed",),
)
_mutation(
    "openai-no-usage",
    "/v1 completions carry no usage (body or usage chunk)",
    response=lambda r: _sse_objects(r, _without("usage")) if r.status == 200 else None,
    paths=("/v1/chat/completions", "/v1/completions"),
)


# -- framing and content types --
def _reorder_final_first(reply: Reply) -> None:
    if reply.media_type == NDJSON:
        lines = reply.lines()
        reply.set_lines(lines[-1:] + lines[:-1])


def _drop_final(reply: Reply) -> None:
    if reply.media_type == NDJSON:
        reply.set_lines(reply.lines()[:-1])


def _pretty(reply: Reply) -> None:
    if reply.media_type == NDJSON:
        reply.set_lines([json.dumps(json.loads(raw), indent=2) for raw in reply.lines()])


def _retype(source: str, target: str, status: int | None = 200) -> ResponseRewrite:
    def rewrite(reply: Reply) -> None:
        if reply.media_type == source and (status is None or reply.status == status):
            reply.set_media_type(target)

    return rewrite


def _sse_events(reply: Reply) -> list[str]:
    return [e for e in reply.body.decode().split("\n\n") if e.strip()]


def _sse_objects(reply: Reply, fn: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    if reply.media_type == SSE:
        out = []
        for event in _sse_events(reply):
            payload = event.removeprefix("data: ")
            if payload.startswith("{"):
                obj = fn(json.loads(payload))
                if obj.get("choices") == [] and "usage" not in obj:
                    continue  # a usage chunk with its usage removed is no chunk at all
                event = "data: " + json.dumps(obj, separators=(",", ":"))
            out.append(event)
        reply.body = "".join(e + "\n\n" for e in out).encode()
    else:
        reply.objects(fn)


def _sse_drop_done(reply: Reply) -> None:
    if reply.media_type == SSE:
        events = [e for e in _sse_events(reply) if e.strip() != "data: [DONE]"]
        reply.body = "".join(e + "\n\n" for e in events).encode()


def _sse_no_prefix(reply: Reply) -> None:
    if reply.media_type == SSE:
        events = [e.removeprefix("data: ") for e in _sse_events(reply)]
        reply.body = "".join(e + "\n\n" for e in events).encode()


def _error_then_done(reply: Reply) -> None:
    lines = reply.lines()
    if reply.media_type == NDJSON and lines and '"error"' in lines[-1]:
        model = json.loads(lines[0]).get("model", "") if len(lines) > 1 else ""
        done = {"model": model, "created_at": "2024-06-01T00:00:00Z", "done": True}
        reply.set_lines([*lines, json.dumps({**done, "done_reason": "stop"})])


_mutation(
    "stream-without-final-line",
    "generate and chat streams end without their done: true line",
    response=_drop_final,
    paths=INFERENCE,
)
_mutation(
    "final-line-first",
    "the done: true line comes before the content lines",
    response=_reorder_final_first,
    paths=INFERENCE,
)
_mutation(
    "pretty-printed-stream",
    "NDJSON lines are pretty-printed over several lines",
    response=_pretty,
    paths=INFERENCE,
)
_mutation(
    "stream-as-application-json",
    "streams are labelled application/json instead of application/x-ndjson",
    response=_retype(NDJSON, JSON),
    paths=INFERENCE,
)
_mutation(
    "json-as-text-plain",
    "non-streamed JSON answers are labelled text/plain",
    response=_retype(JSON, "text/plain"),
)
_mutation(
    "error-after-content-then-done",
    "a mid-stream error line is followed by a done: true line",
    response=_error_then_done,
    paths=INFERENCE,
)
_mutation(
    "openai-drops-done",
    "/v1 event streams end without data: [DONE]",
    response=_sse_drop_done,
    paths=("/v1/",),
)
_mutation(
    "openai-no-data-prefix",
    "/v1 events are sent without the 'data: ' prefix",
    response=_sse_no_prefix,
    paths=("/v1/",),
)


# -- statuses and error bodies --
def _html_errors(reply: Reply) -> None:
    if reply.status >= 400:
        reply.set_media_type("text/html")
        reply.body = f"<html><body><h1>{reply.status} Error</h1></body></html>".encode()


def _status_map(mapping: dict[int, int]) -> ResponseRewrite:
    def rewrite(reply: Reply) -> None:
        reply.status = mapping.get(reply.status, reply.status)

    return rewrite


def _unknown_path_ok(reply: Reply) -> None:
    if reply.status == 404 and not load_spec().methods_for(reply.path):
        reply.status = 200
        reply.set_media_type(JSON)
        reply.body = b"{}"


def _reword(reply: Reply) -> None:
    if reply.status >= 400 and reply.media_type == JSON:
        body = json.loads(reply.body)
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            reply.set_json({"error": "Error: " + body["error"]})


def _error_shape(reply: Reply) -> None:
    if reply.status >= 400 and reply.media_type == JSON:
        body = json.loads(reply.body)
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            reply.set_json({"message": body["error"]})


def _native_openai_errors(reply: Reply) -> None:
    if reply.status >= 400 and reply.media_type == JSON:
        body = json.loads(reply.body)
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            reply.set_json({"error": error.get("message", "")})


def _blob_mismatch_accepted(reply: Reply) -> None:
    if reply.status == 400 and b"digest mismatch" in reply.body:
        reply.status = 201
        reply.body = b""


def _root_text(reply: Reply) -> None:
    if reply.status == 200 and reply.method == "GET" and reply.path == "/":
        reply.body = b"OK"


_mutation(
    "html-error-pages",
    'errors come back as an HTML page instead of {"error": ...}',
    response=_html_errors,
)
_mutation("bad-input-is-500", "a 400 for bad input becomes a 500", response=_status_map({400: 500}))
_mutation(
    "not-found-is-400", "a 404 for an unknown model becomes a 400", response=_status_map({404: 400})
)
_mutation(
    "wrong-method-is-404",
    "a wrong method on a known path is a 404, not a 405",
    response=_status_map({405: 404}),
)
_mutation(
    "unknown-path-is-200",
    "an unknown path answers 200 {} instead of 404",
    response=_unknown_path_ok,
)
_mutation(
    "busy-is-500", "a full queue answers 500 instead of 503", response=_status_map({503: 500})
)
_mutation(
    "error-messages-reworded",
    "error messages are prefixed 'Error: ' (clients match Ollama's exact words)",
    response=_reword,
)
_mutation(
    "error-key-renamed",
    'errors are {"message": ...} instead of {"error": ...}',
    response=_error_shape,
)
_mutation(
    "openai-errors-native-shape",
    '/v1 errors use the native {"error": "..."} instead of OpenAI\'s envelope',
    response=_native_openai_errors,
    paths=("/v1/",),
)
_mutation(
    "blob-digest-unchecked",
    "a blob whose bytes do not match its digest is accepted (201)",
    response=_blob_mismatch_accepted,
    paths=("/api/blobs/",),
)
_mutation(
    "root-says-ok",
    "GET / answers 'OK' instead of 'Ollama is running'",
    response=_root_text,
    paths=("/",),
)


# -- operations that do nothing --
def _noop(path: str) -> Shortcut:
    def answer(method: str, request_path: str, body: Any) -> tuple[int, Any] | None:
        return (200, None) if request_path == path else None

    return answer


_mutation("copy-does-nothing", "copy answers 200 without copying", shortcut=_noop("/api/copy"))
_mutation(
    "delete-does-nothing", "delete answers 200 without deleting", shortcut=_noop("/api/delete")
)


# -- defects only a check that does not trust advertised capabilities can see --
def _on_reply_200(fn: ResponseRewrite) -> ResponseRewrite:
    def rewrite(reply: Reply) -> None:
        if reply.status == 200:
            fn(reply)

    return rewrite


def _hide_embedding_and_scale(reply: Reply) -> None:
    if reply.path == "/api/show":
        reply.objects(
            lambda o: {
                **o,
                "capabilities": [c for c in o.get("capabilities", []) if c != "embedding"],
            }
        )
    elif reply.path == "/api/embed":
        reply.objects(
            lambda o: {**o, "embeddings": [[2 * x for x in v] for v in o.get("embeddings", [])]}
        )


_mutation(
    "embeddings-unnormalised-unadvertised",
    "no model advertises 'embedding' in /api/show, and /api/embed vectors are scaled by 2",
    response=_on_reply_200(_hide_embedding_and_scale),
    paths=("/api/show", "/api/embed"),
)
_mutation(
    "done-reason-always-stop",
    "done_reason is 'stop' even when num_predict cut the answer (should be 'length')",
    response=_on_objects(
        lambda o: {**o, "done_reason": "stop"} if o.get("done_reason") == "length" else o
    ),
    paths=INFERENCE,
)


# -- the middleware --
async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


def apply_mutation(app: ASGIApp, name: str) -> ASGIApp:
    """``app`` with the defect ``name`` injected (see :data:`MUTATIONS`)."""
    try:
        mutation = MUTATIONS[name]
    except KeyError:
        known = ", ".join(sorted(MUTATIONS))
        raise ValueError(f"unknown mutation {name!r}; known: {known}") from None

    async def mutated(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not mutation.applies(scope["path"]):
            await app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        raw = await _read_body(receive)
        try:
            body: Any = json.loads(raw) if raw.strip() else None
        except ValueError:
            body = None
        if mutation.rewrite_host:
            scope = {**scope, "headers": _with_header(scope["headers"], b"host", b"127.0.0.1")}
        if mutation.shortcut is not None:
            answer = mutation.shortcut(method, path, body)
            if answer is not None:
                status, payload = answer
                content = b"" if payload is None else json.dumps(payload).encode()
                await _send(send, status, [(b"content-type", JSON.encode())], content)
                return
        if mutation.request is not None and body is not None:
            raw = json.dumps(mutation.request(method, path, body)).encode()
            scope = {
                **scope,
                "headers": _with_header(
                    scope["headers"], b"content-length", str(len(raw)).encode()
                ),
            }
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        if mutation.response is None:
            await app(scope, replay, send)
            return
        started: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                started.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await app(scope, replay, capture)
        reply = Reply(
            method,
            path,
            body,
            started.get("status", 500),
            list(started.get("headers", [])),
            b"".join(chunks),
        )
        mutation.response(reply)
        await _send(send, reply.status, reply.headers, reply.body)

    return mutated


def _with_header(
    headers: list[tuple[bytes, bytes]], name: bytes, value: bytes
) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in headers if k.lower() != name] + [(name, value)]


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = _with_header(headers, b"content-length", str(len(body)).encode())
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


__all__ = ["MUTATIONS", "Mutation", "Reply", "apply_mutation"]


# -- /v1/messages (Anthropic) and /v1/responses (OpenAI Responses) --
MESSAGES = ("/v1/messages",)
RESPONSES = ("/v1/responses",)
EventRewrite = Callable[[dict[str, Any]], dict[str, Any] | None]


def _named_events(fn: EventRewrite, *, keep_names: bool = True) -> ResponseRewrite:
    """Rewrite each ``event: <type>`` + ``data: <json>`` event (None drops it), or the
    JSON body of a whole answer."""

    def rewrite(reply: Reply) -> None:
        if reply.status != 200:
            return
        if reply.media_type != SSE:
            reply.objects(lambda obj: fn(obj) or obj)
            return
        out = []
        for block in reply.body.decode().split("\n\n"):
            data = [line[6:] for line in block.split("\n") if line.startswith("data: ")]
            if not data:
                continue
            obj = fn(json.loads(data[0]))
            if obj is None:
                continue
            payload = "data: " + json.dumps(obj, separators=(",", ":"))
            out.append(f"event: {obj.get('type')}\n{payload}" if keep_names else payload)
        reply.body = "".join(e + "\n\n" for e in out).encode()

    return rewrite


def _set_stop_reason(reason: str) -> EventRewrite:
    def fn(obj: dict[str, Any]) -> dict[str, Any]:
        if obj.get("type") == "message" and "stop_reason" in obj:
            obj["stop_reason"] = reason
        if obj.get("type") == "message_delta":
            obj["delta"]["stop_reason"] = reason
        return obj

    return fn


def _drop_event(kind: str) -> EventRewrite:
    return lambda obj: None if obj.get("type") == kind else obj


def _native_error_envelope(reply: Reply) -> None:
    if reply.status >= 400 and reply.media_type == JSON:
        body = json.loads(reply.body)
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            reply.set_json({"error": error.get("message", "")})


def _anthropic_usage(obj: dict[str, Any]) -> dict[str, Any]:
    usage = obj.get("usage") if obj.get("type") in ("message", "message_delta") else None
    if isinstance(usage, dict):
        usage["output_tokens"] = 0
    return obj


def _tool_input_as_text(obj: dict[str, Any]) -> dict[str, Any]:
    for block in obj.get("content") or []:
        if isinstance(block, dict) and block.get("type") == "tool_use":
            block["input"] = json.dumps(block.get("input"))
    return obj


def _drop_last_text_delta(reply: Reply) -> None:
    if reply.status != 200 or reply.media_type != SSE:
        return
    blocks = [b for b in reply.body.decode().split("\n\n") if b.strip()]
    last = max((i for i, b in enumerate(blocks) if '"text_delta"' in b), default=None)
    if last is not None:
        del blocks[last]
    reply.body = "".join(b + "\n\n" for b in blocks).encode()


def _set_max_tokens(value: int) -> RequestRewrite:
    def rewrite(method: str, path: str, body: Any) -> Any:
        if isinstance(body, dict) and "max_tokens" in body:
            body["max_tokens"] = value
        return body

    return rewrite


def _shift_sequence(obj: dict[str, Any]) -> dict[str, Any]:
    if isinstance(obj.get("sequence_number"), int):
        obj["sequence_number"] += 1
    return obj


def _responses_total(obj: dict[str, Any]) -> dict[str, Any]:
    response = obj.get("response") if obj.get("type") == "response.completed" else obj
    usage = response.get("usage") if isinstance(response, dict) else None
    if isinstance(usage, dict):
        usage["total_tokens"] = usage.get("output_tokens", 0)
    return obj


def _arguments_as_object(obj: dict[str, Any]) -> dict[str, Any]:
    for item in obj.get("output") or []:
        if isinstance(item, dict) and item.get("type") == "function_call":
            item["arguments"] = json.loads(item["arguments"] or "{}")
    return obj


def _status(value: str) -> EventRewrite:
    def fn(obj: dict[str, Any]) -> dict[str, Any]:
        if obj.get("object") == "response":
            obj["status"] = value
        return obj

    return fn


_mutation(
    "anthropic-stop-reason-always-end-turn",
    "/v1/messages says stop_reason end_turn even when max_tokens cut the answer",
    response=_named_events(_set_stop_reason("end_turn")),
    paths=MESSAGES,
)
_mutation(
    "anthropic-no-message-start",
    "/v1/messages streams start without their message_start event",
    response=_named_events(_drop_event("message_start")),
    paths=MESSAGES,
)
_mutation(
    "anthropic-blocks-never-stopped",
    "/v1/messages streams never send content_block_stop",
    response=_named_events(_drop_event("content_block_stop")),
    paths=MESSAGES,
)
_mutation(
    "anthropic-unnamed-events",
    "/v1/messages events lack their 'event: <type>' line (data only, as /v1 chat)",
    response=_named_events(lambda obj: obj, keep_names=False),
    paths=MESSAGES,
)
_mutation(
    "anthropic-native-error-envelope",
    '/v1/messages errors use {"error": "..."} instead of Anthropic\'s type/error envelope',
    response=_native_error_envelope,
    paths=MESSAGES,
)
_mutation(
    "anthropic-usage-without-output",
    "/v1/messages report output_tokens 0 for a generated answer",
    response=_named_events(_anthropic_usage),
    paths=MESSAGES,
)
_mutation(
    "anthropic-ignores-max-tokens",
    "/v1/messages generates as if max_tokens were 1024 whatever the request says",
    request=_set_max_tokens(1024),
    paths=MESSAGES,
)
_mutation(
    "anthropic-tool-input-as-text",
    "/v1/messages tool_use blocks carry their input as a JSON string, not an object",
    response=_named_events(_tool_input_as_text),
    paths=MESSAGES,
)
_mutation(
    "anthropic-stream-loses-last-delta",
    "/v1/messages streams drop their last text_delta (streamed text != whole answer)",
    response=_drop_last_text_delta,
    paths=MESSAGES,
)
_mutation(
    "responses-sequence-from-one",
    "/v1/responses events are numbered from 1 instead of 0",
    response=_named_events(_shift_sequence),
    paths=RESPONSES,
)
_mutation(
    "responses-no-completed-event",
    "/v1/responses streams end without response.completed",
    response=_named_events(_drop_event("response.completed")),
    paths=RESPONSES,
)
_mutation(
    "responses-total-tokens-wrong",
    "/v1/responses usage.total_tokens leaves out the input tokens",
    response=_named_events(_responses_total),
    paths=RESPONSES,
)
_mutation(
    "responses-ignores-max-output-tokens",
    "/v1/responses ignores max_output_tokens (it never becomes num_predict)",
    request=_drop_field("max_output_tokens"),
    paths=RESPONSES,
)
_mutation(
    "responses-arguments-as-object",
    "/v1/responses function_call items carry arguments as an object, not JSON text",
    response=_named_events(_arguments_as_object),
    paths=RESPONSES,
)
_mutation(
    "responses-native-error-envelope",
    '/v1/responses errors use {"error": "..."} instead of the /v1 envelope',
    response=_native_error_envelope,
    paths=RESPONSES,
)
_mutation(
    "responses-status-in-progress",
    "/v1/responses answers a finished response with status in_progress",
    response=_named_events(_status("in_progress")),
    paths=RESPONSES,
)
