"""Run the reference server with uvicorn (``ollama-harness serve``)."""

from __future__ import annotations

import asyncio
import socket
import sys

import uvicorn

from realserver.app import create_app
from realserver.settings import RealServerSettings


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind before serving so that port 0 resolves to a real port we can print."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def serve(settings: RealServerSettings, log_level: str = "warning") -> int:
    host, port = settings.bind()
    app = create_app(settings)
    sock = bind_socket(host, port)
    actual = sock.getsockname()[1]
    display = f"[{host}]" if ":" in host else host
    # One line a supervisor (or a test) can wait for.
    print(f"ollama-harness reference server listening on http://{display}:{actual}", flush=True)
    config = uvicorn.Config(app, log_level=log_level, access_log=False, timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    try:
        asyncio.run(server.serve(sockets=[sock]))
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(serve(RealServerSettings()))
