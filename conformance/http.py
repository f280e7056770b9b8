"""The suite's HTTP side: every exchange is recorded so a failure can quote it.

Bodies are read whole (streams included) and kept as bytes: framing defects such
as a pretty-printed line or a missing ``[DONE]`` are only visible in the raw text,
never in a parsed object.

Every request has a total deadline, not only a read timeout: a server that keeps
streaming (one that ignores ``num_predict``) fails the check when the deadline
passes, with what it had sent so far. A request that got nothing back because a
kept-alive connection was already closed is sent once more on a fresh
connection; a request the server never answers raises
:class:`~conformance.outcome.ServerUnreachable`, which is the check's failure.
"""

from __future__ import annotations

import functools
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from ollama_harness.conformance.outcome import CheckFailed, ServerUnreachable

#: How much of a body a failure quotes.
EXCERPT_CHARS = 400
#: Default total deadline of one request: generous for the few tokens checks ask for.
DEFAULT_DEADLINE = 30.0
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
#: Errors that mean "the connection died before the answer began": safe to resend.
_STALE = (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.ConnectError)


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

    def error_message(self) -> str:
        """The ``error`` of a JSON error body (or its OpenAI ``error.message``), else ''."""
        if self.method == "HEAD" or self.media_type != "application/json":
            return ""
        try:
            body = self.json()
        except ValueError:
            return ""
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict):
            error = error.get("message")
        return error if isinstance(error, str) else ""

    def cause(self) -> str:
        """A root-cause key: the same status and message on the same operation.

        Quoted parts of the message (the model a check happened to name) are
        masked, so "model 'a' not found" and "model 'b' not found" are one cause.
        """
        path = self.path.split("?", 1)[0]
        message = _QUOTED.sub("'…'", self.error_message())
        return f"{self.method} {path} answered {self.status}" + (f": {message}" if message else "")


class DeadlineExceeded(ServerUnreachable):
    """The answer did not complete within the request's total deadline."""


class ServerClient:
    """A thin synchronous client that records everything it sees."""

    def __init__(self, base_url: str, timeout: float = DEFAULT_DEADLINE) -> None:
        self.base_url = base_url.rstrip("/")
        self.deadline = timeout
        self._http = self._new_http()
        self.history: list[Exchange] = []
        #: The ``Server`` header of the last answer (what the server calls itself).
        self.server_header = ""

    def _new_http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(self.deadline, connect=min(10.0, self.deadline)),
            # Real Ollama refuses non-local Host headers; httpx sends the URL's host.
            follow_redirects=False,
        )

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
        max_lines: int | None = None,
    ) -> Exchange:
        """Send one request and read the whole answer within the deadline.

        ``max_lines`` bounds a stream the request limited (``num_predict``): a
        server that goes past it fails at once instead of at the deadline.
        """
        if json_body is not None and content is None:
            content = json.dumps(json_body).encode()
            headers = {"content-type": "application/json", **(headers or {})}
        deadline = timeout if timeout is not None else self.deadline
        send = functools.partial(
            self._send,
            method,
            path=path,
            json_body=json_body,
            content=content,
            headers=headers,
            deadline=deadline,
            max_lines=max_lines,
        )
        try:
            return send()
        except _STALE:
            # Nothing came back: a kept-alive connection the server had closed
            # (after an error answer, say). One more try on a fresh connection.
            self._http.close()
            self._http = self._new_http()
            try:
                return send()
            except httpx.TransportError as exc:
                raise self._unreachable(method, path, exc) from None
        except httpx.TimeoutException as exc:
            raise DeadlineExceeded(
                f"{method} {path}: no answer within the {deadline:g} s deadline "
                f"({type(exc).__name__})",
                cause=f"{method} {path} does not answer within {deadline:g} s",
            ) from None
        except httpx.TransportError as exc:
            raise self._unreachable(method, path, exc) from None

    @staticmethod
    def _unreachable(method: str, path: str, exc: Exception) -> ServerUnreachable:
        return ServerUnreachable(
            f"{method} {path}: no answer from the server ({type(exc).__name__}: {exc})",
            cause=f"no answer from the server ({type(exc).__name__})",
        )

    def _send(
        self,
        method: str,
        *,
        path: str,
        json_body: Any,
        content: bytes | None,
        headers: dict[str, str] | None,
        deadline: float,
        max_lines: int | None,
    ) -> Exchange:
        started = time.perf_counter()
        ends = started + deadline
        timeout = httpx.Timeout(deadline, connect=min(10.0, deadline))
        with self._http.stream(
            method, path, content=content, headers=headers, timeout=timeout
        ) as resp:
            chunks: list[bytes] = []
            line_times: list[float] = []
            received = 0
            try:
                # A HEAD answer has no body, whatever its content type says.
                for chunk in () if method == "HEAD" else resp.iter_bytes():
                    chunks.append(chunk)
                    received += len(chunk)
                    now = time.perf_counter()
                    line_times.extend(now - started for _ in range(chunk.count(b"\n")))
                    if max_lines is not None and len(line_times) > max_lines:
                        raise CheckFailed(
                            f"{method} {path}: the stream went past {max_lines} lines although "
                            "the request limited its length: does the server ignore "
                            "num_predict / max_tokens?",
                            excerpt=b"".join(chunks)[-EXCERPT_CHARS:].decode("utf-8", "replace"),
                            cause=f"{method} {path} streams past the requested length",
                        )
                    if now > ends:
                        raise DeadlineExceeded(
                            f"{method} {path}: the answer was still coming after the "
                            f"{deadline:g} s deadline ({received} bytes, {len(line_times)} lines "
                            "so far): does the server ignore num_predict / max_tokens?",
                            excerpt=b"".join(chunks)[-EXCERPT_CHARS:].decode("utf-8", "replace"),
                            cause=f"{method} {path} does not finish within {deadline:g} s",
                        )
            except httpx.TimeoutException:
                raise DeadlineExceeded(
                    f"{method} {path}: the answer stalled ({received} bytes, then nothing "
                    f"until the {deadline:g} s deadline)",
                    excerpt=b"".join(chunks)[-EXCERPT_CHARS:].decode("utf-8", "replace"),
                    cause=f"{method} {path} stalls mid-answer",
                ) from None
            except httpx.TransportError as exc:
                # The answer had begun: resending could repeat a side effect.
                raise ServerUnreachable(
                    f"{method} {path}: the connection broke after {received} bytes of the "
                    f"answer ({type(exc).__name__})",
                    excerpt=b"".join(chunks)[-EXCERPT_CHARS:].decode("utf-8", "replace"),
                    cause=f"{method} {path}: connection broken mid-answer",
                ) from None
            body = b"".join(chunks)
        self.server_header = str(resp.headers.get("server", "")) or self.server_header
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


def server_answers(base_url: str, *, timeout: float = 3.0, tries: int = 2) -> bool:
    """The health probe: does anything answer ``GET /`` (any status counts)?

    Two tries a second apart on fresh connections, so one dropped connection is
    not taken for a dead server.
    """
    for attempt in range(tries):
        if attempt:
            time.sleep(1.0)
        try:
            with httpx.Client(timeout=timeout) as client:
                client.get(base_url.rstrip("/") + "/")
            return True
        except httpx.HTTPError:
            continue
    return False
