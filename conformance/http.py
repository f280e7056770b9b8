"""The suite's HTTP side: every exchange is recorded so a failure can quote it.

Bodies are read whole (streams included) and kept as bytes: framing defects such
as a pretty-printed line or a missing ``[DONE]`` are only visible in the raw text,
never in a parsed object.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

#: How much of a body a failure quotes.
EXCERPT_CHARS = 400


@dataclass
class Exchange:
    """One request and the server's whole answer."""

    method: str
    path: str
    request_body: Any
    status: int
    headers: httpx.Headers
    body: bytes
    elapsed: float
    line_times: list[float] = field(default_factory=list)

    @property
    def media_type(self) -> str:
        """The content type without parameters (``; charset=utf-8``), lower-cased."""
        return str(self.headers.get("content-type", "")).split(";")[0].strip().lower()

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.body)

    def excerpt(self, limit: int = EXCERPT_CHARS) -> str:
        text = self.text
        head = f"{self.method} {self.path} -> {self.status} {self.media_type or '(no type)'}"
        if len(text) > limit:
            text = text[:limit] + f"... ({len(self.body)} bytes)"
        return f"{head}\n{text}" if text else head


class ServerClient:
    """A thin synchronous client that records everything it sees."""

    def __init__(self, base_url: str, timeout: float = 120.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(timeout, connect=10.0),
            # Real Ollama refuses non-local Host headers; httpx sends the URL's host.
            follow_redirects=False,
        )
        self.history: list[Exchange] = []

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        json_body: Any = None,
        *,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Exchange:
        """Send one request and read the whole answer, noting when each line arrived."""
        if json_body is not None and content is None:
            content = json.dumps(json_body).encode()
            headers = {"content-type": "application/json", **(headers or {})}
        started = time.perf_counter()
        extra: dict[str, Any] = {}
        if timeout is not None:
            extra["timeout"] = timeout
        with self._http.stream(method, path, content=content, headers=headers, **extra) as resp:
            chunks: list[bytes] = []
            line_times: list[float] = []
            for chunk in resp.iter_bytes():
                chunks.append(chunk)
                line_times.extend(time.perf_counter() - started for _ in range(chunk.count(b"\n")))
            body = b"".join(chunks)
        exchange = Exchange(
            method=method,
            path=path,
            request_body=json_body if json_body is not None else content,
            status=resp.status_code,
            headers=resp.headers,
            body=body,
            elapsed=time.perf_counter() - started,
            line_times=line_times,
        )
        self.history.append(exchange)
        del self.history[:-50]  # only recent exchanges are ever quoted
        return exchange

    def get(self, path: str, **kwargs: Any) -> Exchange:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Exchange:
        return self.request("POST", path, body, **kwargs)
