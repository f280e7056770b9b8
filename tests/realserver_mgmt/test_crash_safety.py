"""SIGKILL the reference server during create, blob upload and pull; the store survives.

The server runs as ``python -m realserver.server`` on a temporary store. Each
round starts an operation, kills the process at a random moment (seeded, so a
failure replays), restarts it and checks the store: every manifest's blobs exist
and hash to their names, no temporary file is left after the restart, every
listed model answers /api/show, and a pull interrupted by a kill resumes from
its partial file with an HTTP range request.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import ThreadServer, needs_llama

from .conftest import store_is_consistent
from .fake_registry import FakeRegistry, digest_of

pytestmark = [pytest.mark.slow, needs_llama]
MODEL_TYPE = "application/vnd.ollama.image.model"


class Server:
    def __init__(self, root: Path, log: Path, mirror: str) -> None:
        self.root, self.log, self.mirror = root, log, mirror
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OLLAMA_")}
        env["OLLAMA_MODELS"] = str(self.root)
        env["OLLAMA_REGISTRY_MIRROR"] = self.mirror
        env["OLLAMA_HOST"] = "127.0.0.1:0"
        args = [sys.executable, "-m", "ollama_harness.realserver.server"]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            lines = self.log.read_text(errors="replace").splitlines()
            urls = [line.split("listening on ", 1)[1] for line in lines if "listening on " in line]
            if len(urls) > getattr(self, "_starts", 0):
                self._starts = len(urls)
                self.url = urls[-1].strip()
                return
            if self.process.poll() is not None:
                raise RuntimeError(self.log.read_text(errors="replace")[-3000:])
            time.sleep(0.02)
        raise RuntimeError("server did not start")

    def store_blob_exists(self, digest: str) -> bool:
        return (self.root / "blobs" / f"sha256-{digest[7:]}").is_file()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def crash_env(tmp_path: Path) -> Iterator[tuple[Server, FakeRegistry]]:
    registry = FakeRegistry(chunk=32 * 1024, delay=0.01)
    thread = ThreadServer(registry.app()).start()
    server = Server(tmp_path / "models", tmp_path / "server.log", thread.url)
    server.start()
    yield server, registry
    if server.process is not None and server.process.poll() is None:
        server.kill()
    thread.stop()


def _in_background(action: object) -> threading.Thread:
    def run() -> None:
        with contextlib.suppress(httpx.HTTPError):  # the server is killed under it
            action()  # type: ignore[operator]

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _check(server: Server) -> None:
    problems = store_is_consistent(server.root)
    assert problems == [], problems
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for model in client.get("/api/tags").json()["models"]:
            shown = client.post("/api/show", json={"model": model["name"]})
            assert shown.status_code == 200, shown.text


def test_sigkill_during_create_upload_and_pull(
    crash_env: tuple[Server, FakeRegistry], tiny_f16: Path
) -> None:
    server, registry = crash_env
    rng = random.Random(20240601)
    weights = tiny_f16.read_bytes()
    weights_digest = digest_of(weights)
    big = os.urandom(3 << 20)
    registry.add_model("library/crashy:latest", [(MODEL_TYPE, big)])
    kills = 0
    with httpx.Client(base_url=server.url, timeout=60) as client:
        assert client.post(f"/api/blobs/{weights_digest}", content=weights).status_code == 201

    def create(index: int) -> None:
        body = {
            "model": f"made{index % 3}",
            "files": {"m.gguf": weights_digest},
            "system": f"round {index}",
            "parameters": {"seed": index},
        }
        if index % 2:
            body["quantize"] = "q4_K_M"
        with httpx.Client(base_url=server.url, timeout=60) as client:
            client.post("/api/create", json=body)

    def upload(index: int) -> None:
        data = hashlib.sha256(str(index).encode()).digest() * (96 << 10)  # 3 MiB

        def body() -> Iterator[bytes]:
            for offset in range(0, len(data), 64 << 10):
                yield data[offset : offset + (64 << 10)]
                time.sleep(0.003)

        digest = digest_of(data)
        with httpx.Client(base_url=server.url, timeout=60) as client:
            client.post(f"/api/blobs/{digest}", content=body())

    def pull(index: int) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            client.post("/api/pull", json={"model": "crashy"})

    rounds = [(create, 0.02, 0.4)] * 7 + [(upload, 0.02, 0.25)] * 6 + [(pull, 0.1, 0.8)] * 8
    partial = server.root / "partial" / f"sha256-{digest_of(big)[7:]}"
    resumable = 0
    for index, (action, low, high) in enumerate(rounds):
        if action is pull and server.store_blob_exists(digest_of(big)):
            with httpx.Client(base_url=server.url, timeout=30) as client:
                client.request("DELETE", "/api/delete", json={"model": "crashy"})
        worker = _in_background(lambda a=action, i=index: a(i))
        time.sleep(rng.uniform(low, high))
        server.kill()
        kills += 1
        worker.join(timeout=30)
        if action is pull and partial.exists() and partial.stat().st_size > 0:
            resumable += 1
        server.start()
        temporary = list(server.root.rglob(".tmp-*"))
        assert temporary == [], f"round {index}: temporary files survived a restart: {temporary}"
        _check(server)
    assert kills >= 20
    assert resumable > 0, "no kill landed mid-download; the resume path went untested"
    # Every pull after a kill that left a partial file asked only for the rest.
    starts = [int(r.removeprefix("bytes=").rstrip("-")) for r in registry.gets(digest_of(big)) if r]
    assert starts and all(start > 0 for start in starts)
    with httpx.Client(base_url=server.url, timeout=120) as client:
        lines = client.post("/api/pull", json={"model": "crashy"}).text.splitlines()
    assert lines[-1] == '{"status":"success"}'
    assert server.store_blob_exists(digest_of(big)) and not partial.exists()
    _check(server)
