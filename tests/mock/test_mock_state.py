"""Model management is one consistent state across create, copy, delete, tags, show, ps."""

from __future__ import annotations

import hashlib

import httpx

from ollama_harness.core.spec import Spec
from ollama_harness.mockserver.testing import MockServer

from .conftest import ndjson

M = "smollm2:135m"


def names(http: httpx.Client) -> set[str]:
    return {m["name"] for m in http.get("/api/tags").json()["models"]}


def test_create_from_model_is_reflected_everywhere(http: httpx.Client, spec: Spec) -> None:
    lines = ndjson(
        http.post(
            "/api/create",
            json={
                "model": "mario",
                "from": M,
                "system": "You are Mario.",
                "parameters": {"temperature": 0.3, "stop": ["END"]},
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "assistant", "content": "wahoo"},
                ],
                "license": ["MIT"],
            },
        )
    )
    statuses = [line["status"] for line in lines]
    assert statuses[-2:] == ["writing manifest", "success"]
    assert any(s.startswith("using existing layer sha256:") for s in statuses)
    assert any(s.startswith("creating new layer sha256:") for s in statuses)
    for line in lines:
        assert spec.validate_stream_line("create", line) == []
    assert "mario:latest" in names(http)
    shown = http.post("/api/show", json={"model": "mario"}).json()
    assert shown["system"] == "You are Mario."
    assert shown["license"] == "MIT"
    assert "temperature                    0.3" in shown["parameters"]
    assert 'stop                           "END"' in shown["parameters"]
    assert shown["messages"][1] == {"role": "assistant", "content": "wahoo"}
    assert "\nSYSTEM You are Mario.\n" in shown["modelfile"]
    assert shown["details"]["family"] == "llama"
    assert spec.validate_response("show", 200, shown) == []
    # The weights layer is shared with the base model.
    base = http.post("/api/show", json={"model": M}).json()["modelfile"].splitlines()[4]
    assert shown["modelfile"].splitlines()[4] == base


def test_create_from_legacy_modelfile(http: httpx.Client) -> None:
    modelfile = "FROM llama3.2\nSYSTEM You are a concise assistant.\nPARAMETER temperature 0.3\n"
    response = http.post("/api/create", json={"name": "concise-llama", "modelfile": modelfile})
    assert ndjson(response)[-1] == {"status": "success"}
    shown = http.post("/api/show", json={"name": "concise-llama"}).json()
    assert shown["system"] == "You are a concise assistant."
    assert shown["parameters"] == "temperature                    0.3"
    bad = http.post("/api/create", json={"model": "x", "modelfile": "FROM a\nBOGUS line\n"})
    assert bad.status_code == 400


def test_create_from_blob_files_and_blob_endpoints(http: httpx.Client) -> None:
    data = b"GGUF\x03\x00\x00\x00" + b"weights" * 100
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert http.head(f"/api/blobs/{digest}").status_code == 404
    assert http.post(f"/api/blobs/{digest}", content=data).status_code == 201
    assert http.post(f"/api/blobs/{digest}", content=data).status_code == 200
    assert http.head(f"/api/blobs/{digest.replace(':', '-')}").status_code == 200
    created = http.post(
        "/api/create", json={"model": "imported", "files": {"model.gguf": digest}, "stream": False}
    )
    assert created.json() == {"status": "success"}
    tagged = {m["name"]: m for m in http.get("/api/tags").json()["models"]}
    assert tagged["imported:latest"]["size"] >= len(data)
    missing = http.post(
        "/api/create", json={"model": "y", "files": {"m.gguf": "sha256:" + "2" * 64}}
    )
    assert missing.status_code == 400


def test_quantize(http: httpx.Client) -> None:
    lines = ndjson(
        http.post("/api/create", json={"model": "small", "from": M, "quantize": "q4_K_M"})
    )
    assert lines[0]["status"] == "quantizing F16 model to Q4_K_M"
    assert (
        http.post("/api/show", json={"model": "small"}).json()["details"]["quantization_level"]
        == "Q4_K_M"
    )
    refused = ndjson(
        http.post("/api/create", json={"model": "s2", "from": "llama3.2", "quantize": "q8_0"})
    )
    assert refused[-1] == {"error": "quantization is only supported for F16 and F32 models"}
    assert (
        http.post("/api/create", json={"model": "s3", "from": M, "quantize": "q1"}).status_code
        == 400
    )


def test_copy_and_delete(http: httpx.Client) -> None:
    assert http.post("/api/copy", json={"source": M, "destination": "copy:v1"}).status_code == 200
    tags = {m["name"]: m for m in http.get("/api/tags").json()["models"]}
    assert tags["copy:v1"]["digest"] == tags[M]["digest"]
    shown = http.post("/api/show", json={"model": "COPY:V1"})  # lookup ignores case
    assert shown.status_code == 200
    assert http.request("DELETE", "/api/delete", json={"model": "copy:v1"}).status_code == 200
    assert "copy:v1" not in names(http)
    assert http.request("DELETE", "/api/delete", json={"model": "copy:v1"}).status_code == 404
    assert http.post("/api/generate", json={"model": "copy:v1", "prompt": "x"}).status_code == 404


def test_delete_unloads(http: httpx.Client) -> None:
    http.post("/api/copy", json={"source": M, "destination": "tmp"})
    http.post("/api/generate", json={"model": "tmp", "prompt": "hi", "stream": False})
    assert "tmp:latest" in {m["name"] for m in http.get("/api/ps").json()["models"]}
    http.request("DELETE", "/api/delete", json={"model": "tmp"})
    assert http.get("/api/ps").json()["models"] == []


def test_keep_alive_expiry_with_the_fixed_clock(
    ollama_mock: MockServer, http: httpx.Client, spec: Spec
) -> None:
    http.post(
        "/api/generate", json={"model": M, "prompt": "hi", "stream": False, "keep_alive": "10m"}
    )
    http.post("/api/embed", json={"model": "nomic-embed-text", "input": "x", "keep_alive": 30})
    running = http.get("/api/ps").json()
    assert spec.validate_response("listRunning", 200, running) == []
    expiry = {m["name"]: m["expires_at"] for m in running["models"]}
    assert expiry == {
        M: "2024-06-01T00:10:00.000000Z",
        "nomic-embed-text:latest": "2024-06-01T00:00:30.000000Z",
    }
    ollama_mock.advance(31)
    assert [m["name"] for m in http.get("/api/ps").json()["models"]] == [M]
    ollama_mock.advance(600)
    assert http.get("/api/ps").json()["models"] == []
    http.post("/api/generate", json={"model": M, "prompt": "hi", "stream": False, "keep_alive": -1})
    ollama_mock.advance(10**7)
    assert [m["name"] for m in http.get("/api/ps").json()["models"]] == [M]


def test_max_loaded_models_evicts_the_least_recent() -> None:
    with (
        MockServer(clock="fixed", max_loaded_models=2) as mock,
        httpx.Client(base_url=mock.url) as http,
    ):
        for model in ("smollm2:135m", "llama3.2", "llama3"):
            http.post("/api/generate", json={"model": model, "prompt": "hi", "stream": False})
            mock.advance(1)
        loaded = {m["name"] for m in http.get("/api/ps").json()["models"]}
        assert loaded == {"llama3.2:latest", "llama3:latest"}


def test_reset_restores_the_catalogue(ollama_mock: MockServer, http: httpx.Client) -> None:
    before = http.get("/api/tags").content
    http.post("/api/copy", json={"source": M, "destination": "extra"})
    http.post("/api/generate", json={"model": M, "prompt": "hi", "stream": False})
    ollama_mock.reset()
    assert http.get("/api/tags").content == before
    assert http.get("/api/ps").json()["models"] == []


def test_version_and_tags_schema(http: httpx.Client, spec: Spec) -> None:
    assert http.get("/api/version").json() == {"version": "0.13.0"}
    tags = http.get("/api/tags").json()
    assert spec.validate_response("listModels", 200, tags) == []
    assert spec.validate_response("openaiListModels", 200, http.get("/v1/models").json()) == []
