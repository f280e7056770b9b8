"""The reference server as an ASGI app: routes, errors, host guard, CORS, lifespan."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ollama_harness.core.errors import ApiError, openai_error
from ollama_harness.core.spec import load_spec
from realserver import engine, native_inference, native_models, openai_compat
from realserver.catalog import ModelCatalog
from realserver.http import JSONResponse, error_response
from realserver.management_routes import management_routes
from realserver.scheduler import Scheduler
from realserver.settings import RealServerSettings
from realserver.state import ServerState
from realserver.store import ModelStore

log = logging.getLogger("realserver")

_LOCAL_NAMES = ("localhost", "127.0.0.1", "::1", "[::1]", "0.0.0.0")


def _host_allowed(host_header: str) -> bool:
    """Ollama's allowedHost: loopback names, the machine's own names, .localhost etc."""
    host = host_header.strip()
    if host.startswith("["):
        host = host[1 : host.find("]")]
    elif host.count(":") == 1:
        host = host.split(":")[0]
    host = host.lower()
    if not host or host in _LOCAL_NAMES:
        return True
    import socket

    if host == socket.gethostname().lower():
        return True
    if host.endswith((".localhost", ".local", ".internal")):
        return True
    with contextlib.suppress(ValueError):
        address = ipaddress.ip_address(host)
        return address.is_loopback or address.is_private or address.is_unspecified
    return False


class HostGuard:
    """403 for a foreign Host header when listening on loopback (DNS rebinding)."""

    def __init__(self, app: ASGIApp, loopback: bool) -> None:
        self.app = app
        self.loopback = loopback

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.loopback:
            headers = dict(scope.get("headers") or [])
            host = headers.get(b"host", b"").decode("latin-1")
            if not _host_allowed(host):
                await Response(status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    if request.url.path.startswith("/v1/"):
        return JSONResponse(openai_error(exc.status, exc.message), status_code=exc.status)
    return error_response(exc)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    # Ollama's router (gin) answers unknown paths and wrong methods in plain text.
    if exc.status_code == 405:
        return PlainTextResponse("405 method not allowed", status_code=405)
    if exc.status_code == 404:
        return PlainTextResponse("404 page not found", status_code=404)
    return PlainTextResponse(str(exc.detail), status_code=exc.status_code)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("request failed", exc_info=exc)
    message = str(exc) or type(exc).__name__
    if request.url.path.startswith("/v1/"):
        return JSONResponse(openai_error(500, message), status_code=500)
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
        Route("/v1/models", openai_compat.list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", openai_compat.retrieve_model, methods=["GET"]),
    ]
    routes += management_routes(state)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        await state.scheduler.shutdown()

    host, _ = settings.bind()
    origins = settings.origin_list()
    middleware = [
        Middleware(HostGuard, loopback=_is_loopback(host)),
        Middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_origin_regex=r"^(https?://(localhost|127\.0\.0\.1|0\.0\.0\.0)(:\d+)?"
            r"|(app|file|tauri|vscode-webview)://.*)$",
            allow_methods=["*"],
            allow_headers=["*"],
        ),
    ]
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
