"""Fixtures for the model-management tests of the reference server.

``ref`` is a reference server on a fresh temporary store, run in-process by
uvicorn in a thread (management needs no inference, so llama.cpp never loads a
model here); ``registry`` is the mock in registry mode. Tiny GGUF models are built
with the ``gguf`` package, so quantisation and GGUF parsing are real.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ollama_harness.mockserver.testing import MockServer
from ollama_harness.realserver.app import create_app
from ollama_harness.realserver.settings import RealServerSettings
from ollama_harness.realserver.store import ModelStore
from tests.support import ThreadServer

from .tiny_gguf import write_tiny_llama, write_tiny_lora


@dataclass
class RefServer:
    url: str
    root: Path
    store: ModelStore
    http: httpx.Client

    def upload(self, path: Path) -> str:
        data = path.read_bytes()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        response = self.http.post(f"/api/blobs/{digest}", content=data)
        assert response.status_code in (200, 201), response.text
        return digest

    def lines(self, path: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        """POST and read every NDJSON line (asserting the stream framing)."""
        response = self.http.post(path, json=body)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/x-ndjson")
        return [json.loads(line) for line in response.text.splitlines() if line.strip()]


@contextlib.contextmanager
def running_ref(root: Path, **settings: Any) -> Iterator[RefServer]:
    """A reference server in a thread on a free port, stopped on leaving the block."""
    config = RealServerSettings.model_validate(
        {"models": root, "host": "127.0.0.1:0", "num_thread": 2, **settings}
    )
    thread = ThreadServer(create_app(config)).start()
    client = httpx.Client(base_url=thread.url, timeout=120)
    try:
        yield RefServer(thread.url, root, ModelStore(root), client)
    finally:
        client.close()
        thread.stop()


@pytest.fixture
def ref(tmp_path: Path) -> Iterator[RefServer]:
    with running_ref(tmp_path / "models") as server:
        yield server


@pytest.fixture(scope="session")
def registry() -> Iterator[MockServer]:
    with MockServer(blob_size=4096) as mock:
        yield mock


@pytest.fixture(scope="session")
def tiny_f16(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_llama(tmp_path_factory.mktemp("gguf") / "tiny-f16.gguf")


@pytest.fixture(scope="session")
def tiny_lora(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_lora(tmp_path_factory.mktemp("gguf") / "tiny-lora.gguf")


def registry_host(mock: MockServer) -> str:
    return mock.url.removeprefix("http://")


def store_is_consistent(root: Path) -> list[str]:
    """Problems with a store: unreadable manifests, missing or corrupt blobs, temp files."""
    problems: list[str] = []
    store = ModelStore(root)
    manifests = root / "manifests"
    for path in manifests.rglob("*") if manifests.is_dir() else []:
        if path.is_file():
            if path.name.startswith(".tmp-"):
                problems.append(f"temporary file left: {path}")
                continue
            try:
                doc = json.loads(path.read_bytes())
            except ValueError:
                problems.append(f"unreadable manifest {path}")
                continue
            for layer in [doc["config"], *doc["layers"]]:
                blob = store.blob_path(layer["digest"])
                if not blob.is_file():
                    problems.append(f"{path.name}: missing blob {layer['digest']}")
                    continue
                got = "sha256:" + hashlib.sha256(blob.read_bytes()).hexdigest()
                if got != layer["digest"] or blob.stat().st_size != layer["size"]:
                    problems.append(f"{path.name}: corrupt blob {layer['digest']}")
    blobs = root / "blobs"
    for path in blobs.iterdir() if blobs.is_dir() else []:
        if path.name.startswith(".tmp-"):
            problems.append(f"temporary file left: {path}")
        elif path.name.startswith("sha256-"):
            got = hashlib.sha256(path.read_bytes()).hexdigest()
            if path.name != f"sha256-{got}":
                problems.append(f"blob {path.name} does not hash to its name")
    return problems
