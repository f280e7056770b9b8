"""Run the reference server with uvicorn (``ollama-harness serve``)."""

from __future__ import annotations

import socket
import sys

import uvicorn

from ollama_harness.realserver.app import create_app
from ollama_harness.realserver.settings import RealServerSettings


def bind_socket(host: str, port: int) -> socket.socket:
    """Bind before serving so that port 0 resolves to a real port we can print."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto must say TCP: asyncio only sets TCP_NODELAY on sockets that do, and a
    # stream of small NDJSON lines under Nagle's algorithm waits ~40 ms per ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited by accepted sockets
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
        server.run(sockets=[sock])  # sets up the configured loop (uvloop when installed)
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(serve(RealServerSettings()))
