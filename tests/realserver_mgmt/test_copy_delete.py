"""/api/copy and /api/delete: shared blobs, Ollama's messages, parallel requests."""

from __future__ import annotations

import json
import random
import threading
from pathlib import Path

import httpx
import pytest

from .conftest import RefServer, store_is_consistent


def _make(ref: RefServer, tiny: Path, name: str, system: str) -> str:
    digest = ref.upload(tiny)
    ref.lines("/api/create", {"model": name, "files": {"m.gguf": digest}, "system": system})
    return digest


def test_copy_keeps_manifest_bytes_and_shares_blobs(ref: RefServer, tiny_f16: Path) -> None:
    _make(ref, tiny_f16, "src", "s")
    blobs = sorted(p.name for p in (ref.root / "blobs").iterdir())
    response = ref.http.post("/api/copy", json={"source": "src", "destination": "me/dst:v1"})
    assert response.status_code == 200 and response.content == b""
    assert sorted(p.name for p in (ref.root / "blobs").iterdir()) == blobs
    base = ref.root / "manifests/registry.ollama.ai"
    assert (base / "me/dst/v1").read_bytes() == (base / "library/src/latest").read_bytes()
    names = {m["name"] for m in ref.http.get("/api/tags").json()["models"]}
    assert {"src:latest", "me/dst:v1"} <= names


def test_copy_errors(ref: RefServer) -> None:
    cases = [
        ({"source": "nosuch", "destination": "x"}, 404, 'model "nosuch" not found'),
        ({"source": "../x", "destination": "y"}, 400, 'source "../x" is invalid'),
        ({"source": "a", "destination": "../../etc/passwd"}, 400, None),
        ({"source": "a"}, 400, None),
    ]
    for body, status, message in cases:
        response = ref.http.post("/api/copy", json=body)
        assert response.status_code == status, (body, response.text)
        if message is not None:
            assert response.json() == {"error": message}
    assert not (ref.root / "manifests").exists()


def test_delete_removes_only_unshared_blobs(ref: RefServer, tiny_f16: Path) -> None:
    weights = _make(ref, tiny_f16, "one", "first")
    _make(ref, tiny_f16, "two", "second")
    first_system = ref.store.get("one").manifest.layer("application/vnd.ollama.image.system")  # type: ignore[union-attr]
    assert first_system is not None
    response = ref.http.request("DELETE", "/api/delete", json={"model": "one"})
    assert response.status_code == 200 and response.content == b""
    assert not ref.store.has_blob(first_system.digest)
    assert ref.store.has_blob(weights)  # still used by "two"
    response = ref.http.request("DELETE", "/api/delete", json={"name": "two"})
    assert response.status_code == 200
    assert not ref.store.has_blob(weights)
    assert store_is_consistent(ref.root) == []


def test_delete_keeps_uploaded_blobs_waiting_for_a_create(ref: RefServer, tiny_f16: Path) -> None:
    _make(ref, tiny_f16, "one", "x")
    pending = b"an uploaded blob no manifest uses yet"
    import hashlib

    digest = "sha256:" + hashlib.sha256(pending).hexdigest()
    assert ref.http.post(f"/api/blobs/{digest}", content=pending).status_code == 201
    ref.http.request("DELETE", "/api/delete", json={"model": "one"})
    assert ref.store.has_blob(digest)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"model": "nosuch"}, 404, "model 'nosuch' not found"),
        ({"model": "../../etc/passwd"}, 400, 'name "../../etc/passwd" is invalid'),
        ({}, 400, "model is required"),
    ],
)
def test_delete_errors(ref: RefServer, body: dict[str, str], status: int, message: str) -> None:
    response = ref.http.request("DELETE", "/api/delete", json=body)
    assert response.status_code == status
    assert response.json() == {"error": message}


def test_wrong_methods_and_empty_bodies(ref: RefServer) -> None:
    assert ref.http.get("/api/pull").status_code == 405
    assert ref.http.post("/api/delete", json={"model": "x"}).status_code == 405
    for path in ("/api/create", "/api/copy", "/api/pull", "/api/push"):
        response = ref.http.post(path, content=b"")
        assert response.status_code == 400
        assert response.json() == {"error": "missing request body"}
        response = ref.http.post(path, content=b"{bad json")
        assert response.status_code == 400 and "error" in response.json()


def test_parallel_create_copy_delete_never_corrupt_the_store(
    ref: RefServer, tiny_f16: Path
) -> None:
    weights = ref.upload(tiny_f16)
    ref.lines("/api/create", {"model": "base", "files": {"m.gguf": weights}})
    names = ["n0", "n1", "n2"]
    rng = random.Random(7)
    plan = []
    for index in range(60):
        op = rng.choice(["create", "copy", "delete", "create-from"])
        plan.append((op, rng.choice(names), rng.choice(names), index))
    errors: list[str] = []

    def worker(part: list[tuple[str, str, str, int]]) -> None:
        with httpx.Client(base_url=ref.url, timeout=60) as client:
            for op, a, b, index in part:
                if op == "create":
                    r = client.post(
                        "/api/create",
                        json={"model": a, "files": {"m.gguf": weights}, "system": f"s{index}"},
                    )
                elif op == "create-from":
                    r = client.post("/api/create", json={"model": a, "from": b, "system": "f"})
                elif op == "copy":
                    r = client.post("/api/copy", json={"source": a, "destination": b})
                else:
                    r = client.request("DELETE", "/api/delete", json={"model": a})
                if r.status_code >= 500:
                    errors.append(f"{op} {a} {b}: {r.status_code} {r.text}")
                for line in r.text.splitlines():
                    with_error = line.startswith("{") and "error" in json.loads(line)
                    if with_error and "not found" not in line and "pull" not in line:
                        errors.append(f"{op} {a} {b}: {line}")

    threads = [threading.Thread(target=worker, args=(plan[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert store_is_consistent(ref.root) == []
    for model in ref.http.get("/api/tags").json()["models"]:
        shown = ref.http.post("/api/show", json={"model": model["name"]})
        assert shown.status_code == 200, shown.text
    # Nothing leaks: once every model is gone, so is every blob.
    for model in ref.http.get("/api/tags").json()["models"]:
        ref.http.request("DELETE", "/api/delete", json={"model": model["name"]})
    left = [p.read_bytes()[:60] for p in (ref.root / "blobs").iterdir()]
    assert left == []
