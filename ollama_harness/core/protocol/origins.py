"""Ollama's Host and Origin policy (server/routes.go ``allowedHostsMiddleware``, CORS).

* Listening on loopback, a request whose Host header names a foreign machine is a
  403 with an empty body: that is how DNS rebinding is refused.
* A browser's Origin must be a local one (``localhost``, ``127.0.0.1``,
  ``0.0.0.0``, ``app://`` ...) or one of ``OLLAMA_ORIGINS`` (``*`` wildcards);
  another is a 403 (gin-contrib/cors aborts). An allowed origin is echoed back, and
  an ``OPTIONS`` preflight is answered 204 with the allowed methods and headers.

:class:`RequestGuard` decides; :class:`GuardMiddleware` applies it to any ASGI app.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

DEFAULT_ORIGINS = (
    "http://localhost",
    "https://localhost",
    "http://localhost:*",
    "https://localhost:*",
    "http://127.0.0.1",
    "https://127.0.0.1",
    "http://127.0.0.1:*",
    "https://127.0.0.1:*",
    "http://0.0.0.0",
    "https://0.0.0.0",
    "http://0.0.0.0:*",
    "https://0.0.0.0:*",
    "app://*",
    "file://*",
    "tauri://*",
    "vscode-webview://*",
    "vscode-file://*",
)
ALLOWED_METHODS = b"GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"
ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "User-Agent",
    "Accept",
    "X-Requested-With",
    # what the OpenAI SDKs send from a browser page
    "OpenAI-Beta",
    "x-stainless-arch",
    "x-stainless-async",
    "x-stainless-custom-poll-interval",
    "x-stainless-helper-method",
    "x-stainless-lang",
    "x-stainless-os",
    "x-stainless-package-version",
    "x-stainless-poll-helper",
    "x-stainless-retry-count",
    "x-stainless-runtime",
    "x-stainless-runtime-version",
    "x-stainless-timeout",
)

Headers = list[tuple[bytes, bytes]]


def is_loopback(host: str) -> bool:
    """Whether a bind address is loopback-only (the Host check applies then)."""
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@functools.lru_cache(maxsize=256)
def host_allowed(header: str) -> bool:
    """Ollama's allowedHost: local names and addresses, the machine's own name."""
    host = header.strip()
    if host.startswith("["):
        host = host[1:].split("]", 1)[0]
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    host = host.lower()
    if not host or host in ("localhost", socket.gethostname().lower()):
        return True
    if host.endswith((".localhost", ".local", ".internal")):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return address.is_loopback or address.is_private or address.is_unspecified


class RequestGuard:
    """The verdict on one request's Host and Origin headers."""

    def __init__(
        self, bind_host: str, extra_origins: str = "", extra_headers: Iterable[str] = ()
    ) -> None:
        self.check_host = is_loopback(bind_host)
        patterns = [*DEFAULT_ORIGINS, *(o.strip() for o in extra_origins.split(",") if o.strip())]
        self._any_origin = "*" in patterns
        self._origins = [re.compile(re.escape(p).replace(r"\*", ".*") + "$") for p in patterns]
        self.preflight_headers: Headers = [
            (b"access-control-allow-methods", ALLOWED_METHODS),
            (
                b"access-control-allow-headers",
                ", ".join([*ALLOWED_HEADERS, *extra_headers]).encode(),
            ),
            (b"access-control-max-age", b"43200"),
        ]
        self.origin_allowed = functools.lru_cache(maxsize=256)(self._origin_allowed)

    def _origin_allowed(self, origin: str) -> bool:
        return self._any_origin or any(p.match(origin) for p in self._origins)

    def verdict(self, method: str, host: str, origin: str | None) -> tuple[int | None, Headers]:
        """``(403, [])`` refused; ``(204, headers)`` a preflight answered here;
        ``(None, headers)`` go on, adding ``headers`` to the answer."""
        if self.check_host and not host_allowed(host):
            return 403, []
        if origin is None:
            return None, []
        if not self.origin_allowed(origin):
            return 403, []
        allow = [(b"access-control-allow-origin", origin.encode()), (b"vary", b"Origin")]
        if method == "OPTIONS":
            return 204, [*allow, *self.preflight_headers]
        return None, allow


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class GuardMiddleware:
    """:class:`RequestGuard` around an ASGI app (the reference server's Starlette app)."""

    def __init__(self, app: ASGIApp, guard: RequestGuard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        host = origin = None
        for key, value in scope.get("headers") or ():
            if key == b"host":
                host = value.decode("latin-1")
            elif key == b"origin":
                origin = value.decode("latin-1")
        status, headers = self.guard.verdict(scope["method"], host or "", origin)
        if status is not None:
            headers = [*headers, (b"content-length", b"0")]
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        if not headers:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
