"""The Python examples of Ollama's OpenAI and Anthropic compatibility pages, unchanged,
against the mock (their SDKs' localhost:11434 traffic routed to it)."""

from __future__ import annotations

import httpx
import pytest

from ollama_harness.mockserver.testing import MockServer

from .compat_examples import COMPAT_EXAMPLES
from .runner import route_sdks_to, run_code

# The pages tell the reader to pull these first; the mock's catalogue has none of
# them, so a copy of a catalogue model with the same capabilities stands in.
STAND_INS = {
    "gpt-oss:20b": "qwen3:0.6b",  # thinking, tools
    "qwen3:8b": "qwen3:0.6b",
    "qwen3-vl:8b": "llava:latest",  # vision
    "qwen3-coder": "llama3.2:latest",  # tools
}


@pytest.fixture
def routed(ollama_mock: MockServer, monkeypatch: pytest.MonkeyPatch) -> MockServer:
    with httpx.Client(base_url=ollama_mock.url) as http:
        for name, source in STAND_INS.items():
            copied = http.post("/api/copy", json={"source": source, "destination": name})
            assert copied.status_code == 200, copied.text
    route_sdks_to(ollama_mock.url, monkeypatch)
    return ollama_mock


@pytest.mark.parametrize("name", COMPAT_EXAMPLES)
def test_compat_example(routed: MockServer, name: str) -> None:
    printed = run_code(COMPAT_EXAMPLES[name], name)
    assert printed.strip(), name
    if name == "anthropic-tools.py":
        assert "Tool: get_weather" in printed and "Input: {'location':" in printed
