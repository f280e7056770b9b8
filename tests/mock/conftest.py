"""Helpers for the mock's own tests (the fixtures come from mockserver.pytest_plugin)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from ollama_harness.core.spec import Spec, load_spec
from ollama_harness.mockserver.testing import MockServer


@pytest.fixture(scope="session")
def spec() -> Spec:
    return load_spec()


@pytest.fixture
def http(ollama_mock: MockServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=ollama_mock.url, timeout=10) as client:
        yield client


def ndjson(response: httpx.Response) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in response.content.splitlines() if line.strip()]


def sse(response: httpx.Response) -> list[Any]:
    events = []
    for line in response.text.splitlines():
        if line.startswith("data: "):
            data = line.removeprefix("data: ")
            events.append(data if data == "[DONE]" else orjson.loads(data))
    return events
