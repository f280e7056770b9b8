"""Run the seed documents' Python examples, unchanged, against a server under test.

The examples call ``http://localhost:11434`` with ``requests`` and the ``ollama``
module's functions; :func:`route_to` sends both to the server's URL, so the code
itself is never edited. Used by the mock's tests and the reference server's.
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import ollama
import pytest
import requests

from .python_examples import PYTHON_EXAMPLES

DOC_BASE = "http://localhost:11434"
# The module-level functions of ``ollama`` that the examples call.
OLLAMA_FUNCTIONS = (
    "generate",
    "chat",
    "create",
    "list",
    "copy",
    "delete",
    "pull",
    "push",
    "embed",
    "embeddings",
    "show",
    "ps",
)


def route_to(base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Send the documents' localhost:11434 traffic to ``base``, code untouched."""
    original = requests.Session.request

    # ``url`` keeps requests' own parameter name: requests.api passes it by keyword.
    def request(self: requests.Session, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if url.startswith(DOC_BASE):
            url = base + url[len(DOC_BASE) :]
        return original(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", request)
    client = ollama.Client(host=base)
    for function in OLLAMA_FUNCTIONS:
        monkeypatch.setattr(ollama, function, getattr(client, function))


def run_code(code: str, label: str) -> str:
    """Run a script as ``__main__``; what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, f"<seed {label}>", "exec"), {"__name__": "__main__"})
    return out.getvalue()


def run_example(name: str) -> str:
    return run_code(PYTHON_EXAMPLES[name], name)


def route_sdks_to(base: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Send the ``openai`` and ``anthropic`` SDKs' localhost:11434 traffic to ``base``.

    The SDKs send through ``httpx.Client`` (``httpx2`` in their recent releases): its
    ``send`` gets the rewritten URL, so the examples' ``base_url`` stays as written.
    """
    import importlib

    for module_name in ("httpx", "httpx2"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        target = module.URL(base)
        original = module.Client.send

        def send(
            self: Any,
            request: Any,
            *args: Any,
            _original: Any = original,
            _target: Any = target,
            **kwargs: Any,
        ) -> Any:
            if request.url.host == "localhost" and request.url.port == 11434:
                request.url = request.url.copy_with(host=_target.host, port=_target.port)
                request.headers["host"] = f"{_target.host}:{_target.port}"
            return _original(self, request, *args, **kwargs)

        monkeypatch.setattr(module.Client, "send", send)
