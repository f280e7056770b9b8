"""Quirky but legitimate servers: the mock behind a small stdlib proxy that changes one thing.

Each quirk is something a real, independent Ollama-compatible server does (or real
Ollama itself) that the suite must accept: connections closed after error answers,
models named by file path, no capabilities in ``/api/show``, HEAD errors labelled
``application/json``, Ollama's 500 for wrongly typed options, the current
capability wording, an inference-only deployment that routes nothing but
generate and chat. Three more are not legitimate, and the suite must cope with
them without losing the run or the reader: a server that dies after N requests,
one whose streams never end (it ignores ``num_predict``), and one without
``/api/create`` (one root cause behind many failures).

The proxy is plain ``http.server`` and ``http.client``: it shares no code with
the mock, and each quirk is a few lines at the HTTP level, where it lives in the
real servers too. ``applied`` counts how often each quirk fired, so a test can
show that its fixture really exhibited the quirk.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit

QUIRKS = (
    "close-after-error",
    "path-names",
    "no-capabilities",
    "head-errors-json",
    "options-500",
    "qualified-capability-words",
    "endless-streams",
    "core-routes-only",
    "create-501",
)

CORE_ROUTES = ("/api/generate", "/api/chat")
#: Headers the proxy sets itself (it sends every answer whole, with a length).
_HOP_HEADERS = ("content-length", "content-type", "connection", "date", "transfer-encoding")


def path_name(name: str) -> str:
    """How a server that names models by file path would list ``name``."""
    return f"/srv/models/{name.replace(':', '-')}.gguf"


class QuirkProxy:
    """A proxy in front of ``upstream`` with the given quirks; ``die_after`` requests, if set."""

    def __init__(self, upstream: str, *quirks: str, die_after: int | None = None) -> None:
        unknown = set(quirks) - set(QUIRKS)
        if unknown:
            raise ValueError(f"unknown quirks {unknown}")
        self.upstream = urlsplit(upstream)
        self.quirks = frozenset(quirks)
        self.die_after = die_after
        self.requests = 0
        self.died_at: float | None = None
        self.applied: Counter[str] = Counter()
        self.names: dict[str, str] = {}  # real name -> path name
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return  # quiet: the test output is the suite's

            def _any(self) -> None:
                proxy.handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _any  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> QuirkProxy:
        if "path-names" in self.quirks:
            tags = self._upstream("GET", "/api/tags", b"", {})[2]
            for entry in json.loads(tags)["models"]:
                self.names[entry["name"]] = path_name(entry["name"])
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def kill(self) -> None:
        """Stop listening and drop every connection: the server is gone."""
        with self._lock:
            if self.died_at is not None:
                return
            self.died_at = time.monotonic()
        threading.Thread(target=self.server.shutdown, daemon=True).start()
        self.server.server_close()

    # -- one request --
    def _upstream(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        host = self.upstream.hostname or "127.0.0.1"
        conn = http.client.HTTPConnection(host, self.upstream.port, timeout=60)
        try:
            conn.request(method, path, body=body or None, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, resp.getheaders(), data
        finally:
            conn.close()

    def handle(self, h: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests += 1
            dying = self.die_after is not None and self.requests > self.die_after
        if dying:
            h.close_connection = True
            self.kill()
            return
        length = int(h.headers.get("content-length") or 0)
        body = h.rfile.read(length) if length else b""
        path = h.path
        if "endless-streams" in self.quirks and h.command == "POST" and _inference(path, body):
            self._endless(h, body)
            return
        if "core-routes-only" in self.quirks and path.split("?")[0] not in CORE_ROUTES:
            # An inference-only deployment: nothing but generate and chat is routed.
            self.applied["core-routes-only"] += 1
            self._answer(h, 404, "application/json", b'{"error":"not found"}')
            return
        if "create-501" in self.quirks and path == "/api/create":
            self.applied["create-501"] += 1
            self._answer(h, 501, "application/json", b'{"error":"not implemented"}')
            return
        if self.names:
            body, path = self._real_names(body, path)
        # http.client sets the length of the (possibly rewritten) body itself.
        dropped = ("host", "connection", "content-length", "transfer-encoding")
        headers = {k: v for k, v in h.headers.items() if k.lower() not in dropped}
        headers["host"] = h.headers.get("host", "127.0.0.1")
        status, response_headers, data = self._upstream(h.command, path, body, headers)
        content_type = next((v for k, v in response_headers if k.lower() == "content-type"), "")
        status, content_type, data = self._rewrite(h.command, path, status, content_type, data)
        h.send_response(status)
        for key, value in response_headers:
            if key.lower() not in _HOP_HEADERS:
                h.send_header(key, value)
        if content_type:
            h.send_header("content-type", content_type)
        h.send_header("content-length", str(len(data)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(data)
        h.wfile.flush()
        if status >= 400 and "close-after-error" in self.quirks:
            # Closed without a "Connection: close" header, as some servers do after
            # an error: the client's kept-alive connection is dead without warning.
            self.applied["close-after-error"] += 1
            h.close_connection = True

    @staticmethod
    def _answer(h: BaseHTTPRequestHandler, status: int, content_type: str, data: bytes) -> None:
        h.send_response(status)
        h.send_header("content-type", content_type)
        h.send_header("content-length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
        h.wfile.flush()

    def _real_names(self, body: bytes, path: str) -> tuple[bytes, str]:
        reverse = {v: k for k, v in self.names.items()}
        if body[:1] == b"{":
            try:
                obj = json.loads(body)
            except ValueError:
                obj = None
            if isinstance(obj, dict):
                for key in ("model", "from", "source", "name"):
                    if obj.get(key) in reverse:
                        obj[key] = reverse[obj[key]]
                        self.applied["path-names"] += 1
                body = json.dumps(obj).encode()
        if path.startswith("/v1/models/"):
            wanted = unquote(path[len("/v1/models/") :])
            if wanted in reverse:
                path = "/v1/models/" + reverse[wanted]
        return body, path

    def _rewrite(
        self, method: str, path: str, status: int, content_type: str, data: bytes
    ) -> tuple[int, str, bytes]:
        for real, fake in self.names.items():
            if real.encode() in data:
                data = data.replace(f'"{real}"'.encode(), json.dumps(fake).encode())
                # Quoted inside an error message: "\"smollm2:135m\" does not support ..."
                data = data.replace(
                    f'\\"{real}\\"'.encode(), json.dumps(f'"{fake}"')[1:-1].encode()
                )
        if "no-capabilities" in self.quirks and path == "/api/show" and status == 200:
            obj = json.loads(data)
            obj.pop("capabilities", None)
            data = json.dumps(obj).encode()
            self.applied["no-capabilities"] += 1
        if "head-errors-json" in self.quirks and method == "HEAD" and status >= 400:
            content_type = "application/json; charset=utf-8"
            self.applied["head-errors-json"] += 1
        if status == 400 and content_type.startswith("application/json") and data:
            message = json.loads(data).get("error")
            is_text = isinstance(message, str)
            if "options-500" in self.quirks and is_text and message.startswith('option "'):
                status = 500
                self.applied["options-500"] += 1
            if "qualified-capability-words" in self.quirks and isinstance(message, str):
                match = re.fullmatch(
                    r'"([^"/:]+):([^"/:]+)" does not support (insert|tools)', message
                )
                if match:
                    model, tag, what = match.groups()
                    message = f"registry.ollama.ai/library/{model}:{tag} does not support {what}"
                    data = json.dumps({"error": message}).encode()
                    self.applied["qualified-capability-words"] += 1
        return status, content_type, data

    def _endless(self, h: BaseHTTPRequestHandler, body: bytes) -> None:
        """A server that ignores num_predict: tokens until the client gives up (or 60 s)."""
        self.applied["endless-streams"] += 1
        request = json.loads(body)
        model = request.get("model", "")
        h.send_response(200)
        h.send_header("content-type", "application/x-ndjson")
        h.send_header("transfer-encoding", "chunked")
        h.end_headers()
        started = time.monotonic()
        chat = "messages" in request
        try:
            while time.monotonic() - started < 60 and self.died_at is None:
                token = {"model": model, "created_at": "2024-06-01T00:00:00Z", "done": False}
                if chat:
                    token["message"] = {"role": "assistant", "content": " and"}
                else:
                    token["response"] = " and"
                line = json.dumps(token).encode() + b"\n"
                h.wfile.write(f"{len(line):x}\r\n".encode() + line + b"\r\n")
                h.wfile.flush()
                time.sleep(0.02)
        except OSError:
            pass  # the client gave up: exactly what the suite should do
        h.close_connection = True


def _inference(path: str, body: bytes) -> bool:
    return path in ("/api/generate", "/api/chat") and b'"prompt": ""' not in body
