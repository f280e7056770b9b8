"""pytest fixtures for the mock (registered as the ``ollama_mock`` pytest11 plugin).

* ``ollama_mock_server`` (session): one :class:`~mockserver.testing.MockServer`
  with a fixed clock, started once.
* ``ollama_mock`` (function): the same server, reset before each test, so every
  test starts from the catalogue with nothing loaded and nothing queued.

    def test_my_client(ollama_mock):
        client = ollama.Client(host=ollama_mock.url)
        assert client.generate(model="smollm2:135m", prompt="hi").done
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .testing import MockServer


@pytest.fixture(scope="session")
def ollama_mock_server() -> Iterator[MockServer]:
    with MockServer(clock="fixed") as server:
        yield server


@pytest.fixture
def ollama_mock(ollama_mock_server: MockServer) -> Iterator[MockServer]:
    ollama_mock_server.reset()
    yield ollama_mock_server
