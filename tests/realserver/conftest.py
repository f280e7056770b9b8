"""Fixtures for the reference server's tests.

The bundled model is installed once per session into a temporary store (from the
download cache, so nothing is fetched twice). Servers run as subprocesses of
``ollama-harness serve`` on a free port: a crash in llama.cpp cannot take pytest
down, and the server is the one users run. A server that dies early shows its
output in the failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ollama_harness.core.names import parse_model_name
from tests.support import HAS_LLAMA

MODEL = "smollm2:135m"


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[str]
    store: Path
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(store: Path, log: Path, **settings: str) -> RunningServer:
    """``ollama-harness serve`` on a free port; waits for its "listening" line."""
    env = {**os.environ, "OLLAMA_MODELS": str(store)}
    for key in list(env):
        if key.startswith("OLLAMA_") and key != "OLLAMA_MODELS":
            del env[key]  # the developer's own settings must not leak into tests
    args = [sys.executable, "-m", "ollama_harness", "serve", "--host", "127.0.0.1:0"]
    for key, value in settings.items():
        args += [f"--{key.replace('_', '-')}", value]
    handle = log.open("w")
    process = subprocess.Popen(args, stdout=handle, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        for line in text.splitlines():
            if "listening on " in line:
                url = line.split("listening on ", 1)[1].strip()
                return RunningServer(url, process, store, log)
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{text[-4000:]}")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"server did not start within 60 s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="session")
def model_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A temporary store holding smollm2:135m and two aliases the seeds use."""
    from ollama_harness.realserver.bundled import install
    from ollama_harness.realserver.store import MEDIA_PARAMS, Manifest, ModelStore

    root = tmp_path_factory.mktemp("models")
    store = ModelStore(root)
    stored = install(store)
    # The seed documents ask for llama3.2 and nomic-embed-text: copies of the bundled
    # model (as `ollama cp` + a num_predict PARAMETER would make) keep those examples
    # runnable unchanged and short.
    params = json.loads(store.read_blob(stored.manifest.layer(MEDIA_PARAMS).digest))  # type: ignore[union-attr]
    params["num_predict"] = 24
    short = store.write_blob(json.dumps(params).encode(), MEDIA_PARAMS)
    layers = tuple(
        short if layer.media_type == MEDIA_PARAMS else layer for layer in stored.manifest.layers
    )
    for alias in ("llama3.2", "nomic-embed-text"):
        store.write_manifest(
            parse_model_name(alias), Manifest(config=stored.manifest.config, layers=layers)
        )
    return root


@pytest.fixture(scope="session")
def server(model_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    if not HAS_LLAMA:
        pytest.skip("llama-cpp-python (the reference extra) is not installed")
    log = tmp_path_factory.mktemp("logs") / "server.log"
    running = start_server(model_store, log, context_length="2048", num_thread="2")
    yield running
    running.stop()


@pytest.fixture
def http(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client
    if server.process.poll() is not None:
        pytest.fail(f"the server died:\n{server.output()}")


def ndjson(response: httpx.Response) -> list[dict[str, object]]:
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]
