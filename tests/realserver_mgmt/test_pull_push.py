"""/api/pull and /api/push against registries: the mock in registry mode and a fake one."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import ollama
import pytest

from ollama_harness.core.spec import load_spec
from ollama_harness.mockserver.testing import MockServer
from tests.support import ThreadServer

from .conftest import RefServer, registry_host, running_ref, store_is_consistent
from .fake_registry import FakeRegistry, digest_of

SPEC = load_spec()
MODEL_TYPE = "application/vnd.ollama.image.model"
SYSTEM_TYPE = "application/vnd.ollama.image.system"


@pytest.fixture
def second(tmp_path: Path) -> Iterator[RefServer]:
    with running_ref(tmp_path / "second") as server:
        yield server


@pytest.fixture
def fake() -> Iterator[tuple[FakeRegistry, str]]:
    registry = FakeRegistry()
    thread = ThreadServer(registry.app()).start()
    yield registry, thread.url.removeprefix("http://")
    thread.stop()


def _statuses(lines: list[dict[str, object]]) -> list[str]:
    return [str(line.get("status")) for line in lines]


def _push_tiny(ref: RefServer, tiny: Path, target: str, system: str = "v1") -> None:
    digest = ref.upload(tiny)
    ref.lines("/api/create", {"model": target, "files": {"m.gguf": digest}, "system": system})
    lines = ref.lines("/api/push", {"model": target, "insecure": True})
    for line in lines:
        assert SPEC.validate_stream_line("push", line) == [], line
    statuses = _statuses(lines)
    assert statuses[0] == "retrieving manifest"
    assert statuses[-2:] == ["pushing manifest", "success"]
    assert any(s.startswith("pushing ") and s != "pushing manifest" for s in statuses)


def test_push_then_pull_into_another_store(
    ref: RefServer, second: RefServer, registry: MockServer, tiny_f16: Path
) -> None:
    name = f"{registry_host(registry)}/library/tiny-pp:latest"
    _push_tiny(ref, tiny_f16, name)
    lines = second.lines("/api/pull", {"model": name, "insecure": True})
    for line in lines:
        assert SPEC.validate_stream_line("pull", line) == [], line
    statuses = _statuses(lines)
    assert statuses[0] == "pulling manifest"
    assert statuses[-3:] == ["verifying sha256 digest", "writing manifest", "success"]
    weights = digest_of(tiny_f16.read_bytes())
    layer_lines = [line for line in lines if line.get("digest") == weights]
    assert layer_lines[0]["status"] == f"pulling {weights[7:19]}"
    assert layer_lines[-1]["completed"] == layer_lines[-1]["total"] == tiny_f16.stat().st_size
    # Same manifest bytes on both sides: the digest /api/tags shows is the same.
    tags_a = {m["name"]: m["digest"] for m in ref.http.get("/api/tags").json()["models"]}
    tags_b = {m["name"]: m["digest"] for m in second.http.get("/api/tags").json()["models"]}
    assert tags_b[name] == tags_a[name]
    assert second.http.post("/api/show", json={"model": name}).json()["system"] == "v1"
    assert store_is_consistent(second.root) == []
    # Pulling again downloads nothing: every layer is reported complete at once.
    again = second.lines("/api/pull", {"model": name, "insecure": True})
    assert all(line.get("completed") == line.get("total") for line in again if "digest" in line)


def test_repull_of_a_changed_tag_removes_unused_layers(
    ref: RefServer, second: RefServer, registry: MockServer, tiny_f16: Path
) -> None:
    name = f"{registry_host(registry)}/library/tiny-rm:latest"
    _push_tiny(ref, tiny_f16, name, system="first")
    second.lines("/api/pull", {"model": name, "insecure": True})
    old_system = digest_of(b"first")
    assert second.store.has_blob(old_system)
    _push_tiny(ref, tiny_f16, name, system="second")
    statuses = _statuses(second.lines("/api/pull", {"model": name, "insecure": True}))
    assert statuses[-4:] == [
        "verifying sha256 digest",
        "writing manifest",
        "removing unused layers",
        "success",
    ]
    assert not second.store.has_blob(old_system)
    assert second.store.has_blob(digest_of(tiny_f16.read_bytes()))
    assert second.http.post("/api/show", json={"model": name}).json()["system"] == "second"


def test_pull_unknown_model(ref: RefServer, registry: MockServer) -> None:
    name = f"{registry_host(registry)}/library/no-such-model:latest"
    response = ref.http.post("/api/pull", json={"model": name, "insecure": True})
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert response.status_code == 200
    assert lines == [
        {"status": "pulling manifest"},
        {"error": "pull model manifest: file does not exist"},
    ]
    quiet = ref.http.post("/api/pull", json={"model": name, "insecure": True, "stream": False})
    assert quiet.status_code == 500
    assert quiet.json() == {"error": "pull model manifest: file does not exist"}


def test_pull_without_insecure_uses_https(ref: RefServer, registry: MockServer) -> None:
    name = f"{registry_host(registry)}/library/llama3.2:latest"
    response = ref.http.post("/api/pull", json={"model": name, "stream": False})
    assert response.status_code == 500
    assert response.json()["error"].startswith("pull model manifest: ")
    assert not (ref.root / "manifests").exists()


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "a/b/c/d", "x:" + "t" * 81])
def test_pull_push_refuse_bad_names(ref: RefServer, name: str) -> None:
    for path in ("/api/pull", "/api/push"):
        response = ref.http.post(path, json={"model": name})
        assert response.status_code == 400
        assert response.json() == {"error": "invalid model name"}
    assert not (ref.root / "manifests").exists()


def test_pull_with_mirror_gets_default_registry_names(tmp_path: Path, registry: MockServer) -> None:
    with running_ref(tmp_path / "m", registry_mirror=registry.url) as server:
        lines = server.lines("/api/pull", {"model": "llama3.2"})
        assert lines[-1] == {"status": "success"}
        assert (tmp_path / "m/manifests/registry.ollama.ai/library/llama3.2/latest").is_file()
        assert store_is_consistent(tmp_path / "m") == []


def test_interrupted_pull_resumes_from_partial_file(
    ref: RefServer, fake: tuple[FakeRegistry, str]
) -> None:
    registry, host = fake
    weights = os.urandom(600_000)
    registry.add_model("library/big:latest", [(MODEL_TYPE, weights)])
    digest = digest_of(weights)
    # What a killed pull leaves behind: the first part of the layer.
    partial = ref.root / "partial" / f"sha256-{digest[7:]}"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(weights[:250_000])
    lines = ref.lines("/api/pull", {"model": f"{host}/library/big", "insecure": True})
    assert lines[-1] == {"status": "success"}
    assert registry.gets(digest) == ["bytes=250000-"]
    first = next(line for line in lines if line.get("digest") == digest)
    assert first["completed"] == 250_000
    assert ref.store.blob_path(digest).read_bytes() == weights
    assert not partial.exists()


def test_dropped_connection_is_resumed_within_the_pull(
    ref: RefServer, fake: tuple[FakeRegistry, str]
) -> None:
    registry, host = fake
    weights = os.urandom(500_000)
    registry.add_model("library/flaky:latest", [(MODEL_TYPE, weights)])
    digest = digest_of(weights)
    registry.drop_after[digest] = 200_000
    lines = ref.lines("/api/pull", {"model": f"{host}/library/flaky", "insecure": True})
    assert lines[-1] == {"status": "success"}
    ranges = registry.gets(digest)
    assert ranges[0] == "" and len(ranges) == 2 and ranges[1].startswith("bytes=")
    assert int(ranges[1].removeprefix("bytes=").rstrip("-")) > 0
    assert hashlib.sha256(ref.store.blob_path(digest).read_bytes()).hexdigest() == digest[7:]


def test_corrupt_download_is_refused(ref: RefServer, fake: tuple[FakeRegistry, str]) -> None:
    registry, host = fake
    weights = os.urandom(100_000)
    registry.add_model("library/bad:latest", [(MODEL_TYPE, weights)])
    digest = digest_of(weights)
    registry.corrupt.add(digest)
    response = ref.http.post("/api/pull", json={"model": f"{host}/library/bad", "insecure": True})
    last = json.loads(response.text.splitlines()[-1])
    assert last["error"].startswith(
        f"digest mismatch, file must be downloaded again: want {digest}"
    )
    assert not ref.store.has_blob(digest)
    assert not (ref.root / "manifests").exists()
    assert not (ref.root / "partial" / f"sha256-{digest[7:]}").exists()


def test_concurrent_pulls_share_one_download(
    ref: RefServer, fake: tuple[FakeRegistry, str]
) -> None:
    registry, host = fake
    registry.delay = 0.01  # ~6 MB/s: the pulls overlap
    weights = os.urandom(1_200_000)
    registry.add_model("library/shared:latest", [(MODEL_TYPE, weights)])
    digest = digest_of(weights)
    results: list[list[dict[str, object]]] = []

    def pull() -> None:
        with httpx.Client(base_url=ref.url, timeout=60) as client:
            response = client.post(
                "/api/pull", json={"model": f"{host}/library/shared", "insecure": True}
            )
            results.append([json.loads(line) for line in response.text.splitlines()])

    threads = [threading.Thread(target=pull) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 3
    for lines in results:
        assert lines[-1] == {"status": "success"}
        progress = [
            int(str(line["completed"]))
            for line in lines
            if line.get("digest") == digest and "completed" in line
        ]
        assert progress == sorted(progress) and progress[-1] == len(weights)
    assert len(registry.gets(digest)) == 1
    assert store_is_consistent(ref.root) == []


def test_official_client_pull_push_copy_delete(
    ref: RefServer, second: RefServer, registry: MockServer, tiny_f16: Path
) -> None:
    name = f"{registry_host(registry)}/library/tiny-client:latest"
    client = ollama.Client(host=ref.url)
    digest = ref.upload(tiny_f16)
    client.create(model="local", files={"m.gguf": digest})
    client.copy("local", name)
    pushed = list(client.push(name, insecure=True, stream=True))
    assert pushed[0].status == "retrieving manifest" and pushed[-1].status == "success"
    other = ollama.Client(host=second.url)
    progress = list(other.pull(name, insecure=True, stream=True))
    assert progress[-1].status == "success"
    assert any(p.completed == p.total and p.digest == digest for p in progress)
    assert name in {m.model for m in other.list().models}
    assert other.pull(name, insecure=True).status == "success"
    other.delete(name)
    assert name not in {m.model for m in other.list().models}
    with pytest.raises(ollama.ResponseError) as info:
        other.delete(name)
    assert info.value.status_code == 404


def test_cancelled_pull_resumes(ref: RefServer, fake: tuple[FakeRegistry, str]) -> None:
    registry, host = fake
    registry.delay = 0.01
    weights = os.urandom(1_500_000)
    registry.add_model("library/cancel:latest", [(MODEL_TYPE, weights)])
    digest = digest_of(weights)
    body = {"model": f"{host}/library/cancel", "insecure": True}
    with (
        httpx.Client(base_url=ref.url, timeout=60) as client,
        client.stream("POST", "/api/pull", json=body) as response,
    ):
        for line in response.iter_lines():
            if json.loads(line).get("completed", 0) > 300_000:
                break  # the client goes away mid-download
    partial = ref.root / "partial" / f"sha256-{digest[7:]}"
    # The abandoned download stops: its partial file soon stops growing.
    sizes = [-1]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (len(sizes) < 4 or len(set(sizes[-4:])) > 1):
        time.sleep(0.1)
        sizes.append(partial.stat().st_size if partial.exists() else -1)
    assert partial.exists() and 0 < partial.stat().st_size < len(weights)
    registry.delay = 0.0
    lines = ref.lines("/api/pull", body)
    assert lines[-1] == {"status": "success"}
    resumed = registry.gets(digest)[-1]
    assert resumed.startswith("bytes=") and int(resumed[6:].rstrip("-")) > 0
    assert ref.store.blob_path(digest).read_bytes() == weights


def test_push_without_a_model_is_model_is_required(ref: RefServer) -> None:
    # Ollama's PushHandler checks presence first ("model is required"), unlike pull.
    response = ref.http.post("/api/push", json={"insecure": True})
    assert response.status_code == 400
    assert response.json() == {"error": "model is required"}
    response = ref.http.post("/api/pull", json={"insecure": True})
    assert response.json() == {"error": "invalid model name"}
