"""The mutation middleware itself: request rewriting, response rewriting, passthrough."""

from __future__ import annotations

import json

import httpx
import pytest

from ollama_harness.mockserver.app import create_app
from ollama_harness.mockserver.mutations import MUTATIONS, apply_mutation
from ollama_harness.mockserver.settings import MockSettings
from ollama_harness.mockserver.testing import MockServer

MODEL = "smollm2:135m"


def test_unknown_mutation_is_refused_with_the_known_names() -> None:
    with pytest.raises(ValueError, match="ignore-stop"):
        apply_mutation(create_app(MockSettings.model_validate({})), "no-such-mutation")


def test_request_rewriting_makes_the_server_ignore_num_predict() -> None:
    body = {"model": MODEL, "prompt": "Tell me a story.", "stream": False}
    body["options"] = {"num_predict": 2, "seed": 1, "temperature": 0}
    with MockServer() as correct, MockServer(mutation="ignore-num-predict") as broken:
        bounded = httpx.post(f"{correct.url}/api/generate", json=body).json()
        unbounded = httpx.post(f"{broken.url}/api/generate", json=body).json()
    assert bounded["eval_count"] == 2
    assert unbounded["eval_count"] > 2


def test_response_rewriting_pretty_prints_stream_lines_only_on_its_paths() -> None:
    with MockServer(mutation="pretty-printed-stream") as mock:
        stream = httpx.post(
            f"{mock.url}/api/generate",
            json={"model": MODEL, "prompt": "hi", "options": {"num_predict": 2}},
        )
        tags = httpx.get(f"{mock.url}/api/tags")
    first_line = stream.text.split("\n")[0]
    assert first_line == "{"  # one object now spans several lines
    assert stream.headers["content-length"] == str(len(stream.content))
    assert tags.status_code == 200 and "\n" not in tags.text.strip()
    assert json.loads(tags.text)["models"]


def test_every_mutation_wraps_the_app() -> None:
    app = create_app(MockSettings.model_validate({}))
    for name in MUTATIONS:
        assert callable(apply_mutation(app, name)), name
