"""The reference server as an ASGI app: routes, errors, host guard, CORS, lifespan.

The Host and Origin policy is the protocol core's (the mock applies the same one).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ollama_harness.core.errors import ApiError, openai_error
from ollama_harness.core.protocol import anthropic, messages
from ollama_harness.core.protocol.origins import GuardMiddleware, RequestGuard
from ollama_harness.core.spec import load_spec
from ollama_harness.realserver import (
    compat_routes,
    engine,
    native_inference,
    native_models,
    openai_compat,
)
from ollama_harness.realserver.catalog import ModelCatalog
from ollama_harness.realserver.http import JSONResponse, error_response
from ollama_harness.realserver.management_routes import management_routes
from ollama_harness.realserver.scheduler import Scheduler
from ollama_harness.realserver.settings import RealServerSettings
from ollama_harness.realserver.state import ServerState
from ollama_harness.realserver.store import ModelStore

log = logging.getLogger("realserver")


def _v1_error(path: str, status: int, message: str) -> Response:
    """The /v1 envelope; Anthropic's own (with a request id) on its route."""
    if path == anthropic.PATH:
        envelope = anthropic.error(status, message, anthropic.request_id(message))
        return JSONResponse(envelope, status_code=status)
    return JSONResponse(openai_error(status, message), status_code=status)


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if request.url.path.startswith("/v1/"):
        return _v1_error(request.url.path, exc.status, exc.message)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    # Ollama's router (gin) answers unknown paths and wrong methods in plain text.
    if exc.status_code == 405:
        return PlainTextResponse(messages.METHOD_NOT_ALLOWED, status_code=405)
    if exc.status_code == 404:
        return PlainTextResponse(messages.PAGE_NOT_FOUND, status_code=404)
    return PlainTextResponse(str(exc.detail), status_code=exc.status_code)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("request failed", exc_info=exc)
    message = str(exc) or type(exc).__name__
    if request.url.path.startswith("/v1/"):
        return _v1_error(request.url.path, 500, message)
    return JSONResponse({"error": message}, status_code=500)


def build_state(settings: RealServerSettings) -> ServerState:
    engine.use_extra_buffers(settings.llama_extra_buffers) if _llama_available() else None
    engine.lower_inference_priority(settings.inference_nice)
    store = ModelStore(settings.models)
    store.clean_temporary()
    scheduler = Scheduler(
        num_parallel=settings.num_parallel,
        max_queue=settings.max_queue,
        max_loaded_models=settings.max_loaded_models,
        default_keep_alive=settings.keep_alive_seconds(),
    )
    return ServerState(
        settings=settings,
        spec=load_spec(),
        store=store,
        catalog=ModelCatalog(store),
        scheduler=scheduler,
    )


def _llama_available() -> bool:
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return False
    return True


def create_app(settings: RealServerSettings | None = None) -> Starlette:
    settings = settings or RealServerSettings()
    state = build_state(settings)
    routes = [
        Route("/", native_models.root, methods=["GET", "HEAD"]),
        Route("/api/version", native_models.version, methods=["GET", "HEAD"]),
        Route("/api/tags", native_models.tags, methods=["GET", "HEAD"]),
        Route("/api/ps", native_models.ps, methods=["GET"]),
        Route("/api/show", native_models.show, methods=["POST"]),
        Route("/api/generate", native_inference.generate, methods=["POST"]),
        Route("/api/chat", native_inference.chat, methods=["POST"]),
        Route("/api/embed", native_inference.embed, methods=["POST"]),
        Route("/api/embeddings", native_inference.embeddings, methods=["POST"]),
        Route("/v1/chat/completions", openai_compat.chat_completions, methods=["POST"]),
        Route("/v1/completions", openai_compat.completions, methods=["POST"]),
        Route("/v1/embeddings", openai_compat.embeddings, methods=["POST"]),
        Route("/v1/messages", compat_routes.create_message, methods=["POST"]),
        Route("/v1/responses", compat_routes.create_response, methods=["POST"]),
        Route("/v1/models", openai_compat.list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", openai_compat.retrieve_model, methods=["GET"]),
    ]
    routes += management_routes(state)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await state.scheduler.shutdown()

    host, _ = settings.bind()
    middleware = [Middleware(GuardMiddleware, guard=RequestGuard(host, settings.origins))]
    handlers: dict[Any, Any] = {
        ApiError: _api_error,
        HTTPException: _http_error,
        Exception: _server_error,
    }
    app = Starlette(
        routes=routes, middleware=middleware, exception_handlers=handlers, lifespan=lifespan
    )
    app.state.server = state
    return app
