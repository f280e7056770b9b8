"""The mock's ASGI application: routing, the Host guard, errors, the catch-all.

Routing is one dict lookup for the fixed paths and the spec's patterns for the
parameterised ones (``/api/blobs/{digest}``, ``/v1/models/{model}``); a known path
with the wrong method is a 405 and an unknown path a 404, with the plain-text
bodies Ollama's router gives. Every refused request answers with Ollama's status
and ``{"error": ...}`` body (the OpenAI envelope on ``/v1``); an unexpected
exception becomes a 500 with an error body, never a traceback on the wire.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from ollama_harness.core.errors import ApiError, openai_error
from ollama_harness.core.protocol import anthropic, framing, messages
from ollama_harness.core.protocol.origins import RequestGuard

from . import anthropic_compat, inference, management, openai_compat, registry, responses_compat
from .clock import Clock
from .exchange import Exchange
from .faults import DroppedConnectionError
from .http import JSON_TYPE, TEXT_TYPE, ClientGoneError, Receive, Request, Response, Scope, Send
from .settings import MockSettings
from .state import MockState

log = logging.getLogger("mockserver")

Handler = Callable[[Exchange], Awaitable[None]]

# (method, path) -> (operationId, handler, applies faults itself once it knows the model)
_ROUTES: dict[tuple[str, str], tuple[str, Handler, bool]] = {
    ("GET", "/"): ("getRoot", management.root, False),
    ("HEAD", "/"): ("headRoot", management.root, False),
    ("GET", "/api/version"): ("getVersion", management.version, False),
    ("HEAD", "/api/version"): ("headVersion", management.version, False),
    ("GET", "/api/tags"): ("listModels", management.tags, False),
    ("HEAD", "/api/tags"): ("headTags", management.tags, False),
    ("GET", "/api/ps"): ("listRunning", management.ps, False),
    ("POST", "/api/generate"): ("generate", inference.generate, True),
    ("POST", "/api/chat"): ("chat", inference.chat, True),
    ("POST", "/api/embed"): ("embed", inference.embed, True),
    ("POST", "/api/embeddings"): ("embeddings", inference.embeddings, True),
    ("POST", "/api/show"): ("show", management.show, True),
    ("POST", "/api/create"): ("create", management.create, True),
    ("POST", "/api/copy"): ("copy", management.copy, True),
    ("POST", "/api/pull"): ("pull", management.pull, True),
    ("POST", "/api/push"): ("push", management.push, True),
    ("DELETE", "/api/delete"): ("delete", management.delete, True),
    ("POST", "/v1/chat/completions"): (
        "openaiChatCompletions",
        openai_compat.chat_completions,
        True,
    ),
    ("POST", "/v1/completions"): ("openaiCompletions", openai_compat.completions, True),
    ("POST", "/v1/embeddings"): ("openaiEmbeddings", openai_compat.embeddings, True),
    ("GET", "/v1/models"): ("openaiListModels", openai_compat.list_models, False),
    ("POST", "/v1/responses"): ("openaiResponses", responses_compat.create_response, True),
    ("POST", "/v1/messages"): ("anthropicMessages", anthropic_compat.create_message, True),
}
_PATTERN_HANDLERS: dict[str, tuple[Handler, bool]] = {
    "headBlob": (management.head_blob, False),
    "createBlob": (management.create_blob, False),
    "openaiRetrieveModel": (openai_compat.retrieve_model, False),
}


class _QuietDrops(logging.Filter):
    """An injected dropped connection is the point of the fault, not a server error."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, DroppedConnectionError)


# The mock's own request headers, which a browser page may send too.
_MOCK_HEADERS = ("X-Mock-Timing", "X-Mock-Fault")


class MockApp:
    """An ASGI callable; ``state`` is exposed for in-process tests and the fixtures."""

    def __init__(self, settings: MockSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.state = MockState(settings, clock)
        self._guard = RequestGuard(settings.host, settings.origins, _MOCK_HEADERS)
        uvicorn_log = logging.getLogger("uvicorn.error")
        if not any(isinstance(f, _QuietDrops) for f in uvicorn_log.filters):
            uvicorn_log.addFilter(_QuietDrops())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        response = Response(send)
        path = request.path
        is_openai = path.startswith("/v1/")
        is_anthropic = path == anthropic.PATH
        try:
            headers = request.headers
            refused, extra = self._guard.verdict(
                request.method, headers.get("host", ""), headers.get("origin")
            )
            if refused is not None:  # a foreign Host or Origin (403), or a preflight (204)
                await response.full(refused, b"", None, extra)
                return
            if extra:
                response.send = _with_headers(send, extra)
            route = _ROUTES.get((request.method, path))
            if route is not None:
                operation_id, handler, self_faulting = route
            else:
                found = self._pattern_route(request)
                if found is None:
                    return await self._unrouted(request, response)
                operation_id, handler, self_faulting = found
            exchange = Exchange(self.state, request, response, operation_id)
            if not self_faulting:
                await exchange.preflight(None)
            await handler(exchange)
        except ApiError as exc:
            await self._refuse(response, exc.status, exc.message, is_openai, is_anthropic)
        except (DroppedConnectionError, ClientGoneError):
            raise
        except Exception as exc:  # the last line of defence: never a traceback on the wire
            log.exception("unexpected error serving %s %s", request.method, path)
            message = f"internal error: {type(exc).__name__}"
            await self._refuse(response, 500, message, is_openai, is_anthropic)

    def _pattern_route(self, request: Request) -> tuple[str, Handler, bool] | None:
        if request.path.startswith("/v2/") or request.path in ("/v2", "/v2/"):
            return ("registry", registry.handle, False)
        op = self.state.spec.route(request.method, request.path)
        if op is None or op.operation_id not in _PATTERN_HANDLERS:
            return None
        handler, self_faulting = _PATTERN_HANDLERS[op.operation_id]
        return (op.operation_id, handler, self_faulting)

    async def _unrouted(self, request: Request, response: Response) -> None:
        if self.state.spec.methods_for(request.path):
            await response.full(405, messages.METHOD_NOT_ALLOWED.encode(), TEXT_TYPE)
        else:
            await response.full(404, messages.PAGE_NOT_FOUND.encode(), TEXT_TYPE)

    async def _refuse(
        self, response: Response, status: int, message: str, openai: bool, anthropic_api: bool
    ) -> None:
        if anthropic_api:
            # Anthropic's own envelope, also for the errors raised before the route ran.
            if response.started:
                await response.finish(anthropic.stream_error(message))
            else:
                envelope = anthropic.error(status, message, anthropic.request_id(message))
                await response.full(status, orjson.dumps(envelope), JSON_TYPE)
            return
        if response.started:
            # Headers are gone: the error becomes the stream's last line.
            if openai:
                await response.finish(framing.sse_event(openai_error(status, message)))
            else:
                await response.finish(framing.error_line(message))
            return
        body: Any = openai_error(status, message) if openai else {"error": message}
        await response.full(status, orjson.dumps(body), JSON_TYPE)


def _with_headers(send: Send, extra: list[tuple[bytes, bytes]]) -> Send:
    async def wrapped(message: Any) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *extra]}
        await send(message)

    return wrapped


def freeze_startup_objects() -> None:
    """For a server process: the catalogue and compiled validators live as long as it
    does, so move them out of the cycle collector's way (shorter GC pauses). Not for
    in-process test servers, whose host process keeps creating and dropping objects."""
    gc.collect()
    gc.freeze()


def create_app(settings: MockSettings | None = None, *, clock: Clock | None = None) -> Any:
    """The mock as an ASGI app; wrapped by a named mutation when ``settings.mutation`` is set."""
    settings = settings or MockSettings()
    app: Any = MockApp(settings, clock)
    if settings.mutation:
        from ollama_harness.mockserver.mutations import (
            apply_mutation,  # owned by the conformance suite
        )

        wrapped = apply_mutation(app, settings.mutation)
        with contextlib.suppress(AttributeError):  # fixtures reach state through the wrapper
            setattr(wrapped, "state", app.state)  # noqa: B010
        return wrapped
    return app
