"""/api/blobs and /api/create on the reference server: real files, real GGUF, real quantisation."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import ollama
import pytest

from ollama_harness.core.spec import load_spec
from tests.support import needs_llama

from .conftest import RefServer, store_is_consistent

SPEC = load_spec()
ZERO = "sha256:" + "0" * 64


def _stream_ok(op: str, lines: list[dict[str, object]]) -> None:
    for line in lines:
        assert SPEC.validate_stream_line(op, line) == [], line


def test_blob_upload_created_then_existing_then_head(ref: RefServer, tiny_f16: Path) -> None:
    data = tiny_f16.read_bytes()
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    assert ref.http.head(f"/api/blobs/{digest}").status_code == 404
    assert ref.http.post(f"/api/blobs/{digest}", content=data).status_code == 201
    assert ref.http.post(f"/api/blobs/{digest}", content=data).status_code == 200
    assert ref.http.head(f"/api/blobs/{digest}").status_code == 200
    dashed = digest.replace("sha256:", "sha256-")
    assert ref.http.head(f"/api/blobs/{dashed}").status_code == 200
    assert ref.store.blob_path(digest).read_bytes() == data


def test_blob_digest_mismatch_stores_nothing(ref: RefServer) -> None:
    claimed = "sha256:" + "a" * 64
    body = b"not what the digest says"
    response = ref.http.post(f"/api/blobs/{claimed}", content=body)
    actual = "sha256:" + hashlib.sha256(body).hexdigest()
    assert response.status_code == 400
    assert response.json() == {"error": f'digest mismatch, expected "{claimed}", got "{actual}"'}
    blobs = ref.root / "blobs"
    assert not blobs.exists() or list(blobs.iterdir()) == []


@pytest.mark.parametrize("digest", ["sha256:abc", "md5:" + "a" * 64, "sha256:" + "A" * 64])
def test_blob_invalid_digest(ref: RefServer, digest: str) -> None:
    response = ref.http.post(f"/api/blobs/{digest}", content=b"x")
    assert response.status_code == 400
    assert response.json() == {"error": "invalid digest format"}
    assert ref.http.head(f"/api/blobs/{digest}").status_code == 400


def test_create_from_files_with_every_text_layer(ref: RefServer, tiny_f16: Path) -> None:
    digest = ref.upload(tiny_f16)
    lines = ref.lines(
        "/api/create",
        {
            "model": "tiny",
            "files": {"tiny.gguf": digest},
            "template": "{{ .System }} {{ .Prompt }}",
            "system": "You are tiny.",
            "license": ["MIT", "Apache-2.0"],
            "parameters": {"temperature": 0.5, "stop": ["</s>", "User:"], "num_ctx": 128},
            "messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}],
        },
    )
    _stream_ok("create", lines)
    statuses = [line["status"] for line in lines]
    assert statuses[0] == "parsing GGUF"
    assert statuses[1] == f"using existing layer {digest}"
    assert all(s.startswith("creating new layer sha256:") for s in statuses[2:-2])
    assert len(statuses[2:-2]) == 6  # template, system, 2 licenses, params, messages
    assert statuses[-2:] == ["writing manifest", "success"]

    show = ref.http.post("/api/show", json={"model": "tiny"}).json()
    assert show["template"] == "{{ .System }} {{ .Prompt }}"
    assert show["system"] == "You are tiny."
    assert "MIT" in show["license"] and "Apache-2.0" in show["license"]
    assert show["messages"] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "yo"},
    ]
    assert "temperature" in show["parameters"] and "User:" in show["parameters"]
    assert show["details"]["family"] == "llama"
    assert show["details"]["quantization_level"] == "F16"
    assert show["details"]["format"] == "gguf"
    assert "SYSTEM" in show["modelfile"] and "FROM " in show["modelfile"]
    assert store_is_consistent(ref.root) == []


def test_create_from_model_reuses_layers_and_merges_parameters(
    ref: RefServer, tiny_f16: Path
) -> None:
    digest = ref.upload(tiny_f16)
    ref.lines(
        "/api/create",
        {"model": "base", "files": {"m.gguf": digest}, "parameters": {"top_k": 7, "seed": 1}},
    )
    blobs_before = set((ref.root / "blobs").iterdir())
    lines = ref.lines(
        "/api/create",
        {"model": "child", "from": "base", "system": "Be brief.", "parameters": {"seed": 2}},
    )
    statuses = [line["status"] for line in lines]
    assert f"using existing layer {digest}" in statuses
    created = [s for s in statuses if s.startswith("creating new layer")]
    assert len(created) == 2  # system and merged params; the weights are not copied
    new_blobs = set((ref.root / "blobs").iterdir()) - blobs_before
    assert len(new_blobs) == 3  # system, params, config
    params = ref.http.post("/api/show", json={"model": "child"}).json()["parameters"]
    assert "top_k" in params and "7" in params
    assert any(line.split() == ["seed", "2"] for line in params.splitlines())
    details = ref.http.post("/api/show", json={"model": "child"}).json()["details"]
    assert details["parent_model"] == "base:latest"


def test_create_non_streamed_and_legacy_modelfile(ref: RefServer, tiny_f16: Path) -> None:
    digest = ref.upload(tiny_f16)
    answer = ref.http.post(
        "/api/create", json={"model": "a", "files": {"x.gguf": digest}, "stream": False}
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json() == {"status": "success"}
    modelfile = "FROM a\nSYSTEM You are a concise assistant.\nPARAMETER temperature 0.3\n"
    lines = ref.lines("/api/create", {"name": "concise", "modelfile": modelfile})
    assert lines[-1] == {"status": "success"}
    show = ref.http.post("/api/show", json={"name": "concise"}).json()
    assert show["system"] == "You are a concise assistant."
    assert "temperature" in show["parameters"]


def test_show_modelfile_round_trips_through_create(ref: RefServer, tiny_f16: Path) -> None:
    digest = ref.upload(tiny_f16)
    ref.lines("/api/create", {"model": "one", "files": {"m.gguf": digest}, "system": "S1"})
    modelfile = ref.http.post("/api/show", json={"model": "one"}).json()["modelfile"]
    lines = ref.lines("/api/create", {"model": "two", "modelfile": modelfile})
    assert lines[-1] == {"status": "success"}
    two = ref.http.post("/api/show", json={"model": "two"}).json()
    assert two["system"] == "S1"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"model": "x"}, "neither 'from' or 'files' was specified"),
        (
            {"model": "x", "files": {"/etc/passwd": "sha256:" + "0" * 64}},
            "file path must be relative",
        ),
        (
            {"model": "x", "files": {"../up.gguf": "sha256:" + "0" * 64}},
            "file path must be relative",
        ),
        ({"model": "../../etc/passwd", "from": "a"}, "invalid model name"),
        ({"model": "/abs", "from": "a"}, "invalid model name"),
        ({"model": "x", "from": "../../etc"}, "invalid model name"),
        ({"model": "a" * 81, "from": "a"}, "invalid model name"),
        ({"model": "x", "modelfile": "FROB x"}, None),
        ({"model": "x", "modelfile": "SYSTEM hi"}, "no FROM line"),
        ({"model": "x", "modelfile": "FROM a\nPARAMETER top_k many"}, "invalid int value [many]"),
        ({"model": "x", "modelfile": "FROM a\nPARAMETER nope 1"}, "unknown parameter 'nope'"),
        ({"model": "x", "from": "a", "quantize": "q9_z"}, "unsupported quantization type q9_z"),
        ({"model": "x", "files": {"m.gguf": "sha256:" + "1" * 64}}, None),
    ],
)
def test_create_refusals_touch_nothing(
    ref: RefServer, body: dict[str, object], message: str | None
) -> None:
    response = ref.http.post("/api/create", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    if message is not None:
        assert error == message
    assert not (ref.root / "manifests").exists()


def test_create_nul_byte_name_is_refused(ref: RefServer) -> None:
    response = ref.http.post("/api/create", json={"model": "bad\u0000name", "from": "a"})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid model name"}


def test_create_from_unknown_model_streams_a_pull_error(ref: RefServer) -> None:
    # Ollama pulls a missing base; with no registry reachable the pull fails.
    response = ref.http.post(
        "/api/create", json={"model": "x", "from": "127.0.0.1:9/library/none:latest"}
    )
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines[0] == {"status": "pulling manifest"}
    assert lines[-1]["error"].startswith("pull model manifest: ")


def test_create_invalid_gguf_is_a_streamed_error(ref: RefServer) -> None:
    data = b"definitely not a gguf file"
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    ref.http.post(f"/api/blobs/{digest}", content=data)
    response = ref.http.post("/api/create", json={"model": "x", "files": {"m.gguf": digest}})
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert lines == [{"status": "parsing GGUF"}, {"error": "invalid file magic"}]


@needs_llama
@pytest.mark.parametrize(("quant", "level"), [("q8_0", "Q8_0"), ("q4_K_M", "Q4_K_M")])
def test_quantize_for_real(ref: RefServer, tiny_f16: Path, quant: str, level: str) -> None:
    digest = ref.upload(tiny_f16)
    lines = ref.lines(
        "/api/create", {"model": f"tiny-{quant}", "files": {"m.gguf": digest}, "quantize": quant}
    )
    _stream_ok("create", lines)
    quantizing = [line for line in lines if str(line["status"]).startswith("quantizing")]
    assert quantizing and quantizing[0]["status"] == f"quantizing F16 model to {level}"
    assert quantizing[-1]["completed"] == quantizing[-1]["total"] == tiny_f16.stat().st_size
    assert quantizing[-1]["digest"] == "0"
    show = ref.http.post("/api/show", json={"model": f"tiny-{quant}"}).json()
    assert show["details"]["quantization_level"] == level
    manifest = json.loads(
        (ref.root / "manifests/registry.ollama.ai/library" / f"tiny-{quant}" / "latest").read_text()
    )
    weights = manifest["layers"][0]
    assert weights["digest"] != digest
    assert weights["size"] < tiny_f16.stat().st_size * 0.6
    import llama_cpp

    model = llama_cpp.Llama(str(ref.store.blob_path(weights["digest"])), n_ctx=64, verbose=False)
    assert model.n_vocab() > 256
    assert store_is_consistent(ref.root) == []


@needs_llama
def test_quantize_refuses_already_quantised_weights(ref: RefServer, tiny_f16: Path) -> None:
    digest = ref.upload(tiny_f16)
    ref.lines("/api/create", {"model": "q", "files": {"m.gguf": digest}, "quantize": "q8_0"})
    response = ref.http.post("/api/create", json={"model": "qq", "from": "q", "quantize": "q4_K_M"})
    assert response.status_code == 500  # createModel's errors carry no status in Ollama
    assert response.json() == {"error": "quantization is only supported for F16 and F32 models"}


@needs_llama  # the adapted model generates
def test_adapter_layer(ref: RefServer, tiny_f16: Path, tiny_lora: Path) -> None:
    weights = ref.upload(tiny_f16)
    adapter = ref.upload(tiny_lora)
    lines = ref.lines(
        "/api/create",
        {"model": "lora", "files": {"m.gguf": weights}, "adapters": {"a.gguf": adapter}},
    )
    assert f"using existing layer {adapter}" in [line["status"] for line in lines]
    manifest = json.loads(
        (ref.root / "manifests/registry.ollama.ai/library/lora/latest").read_text()
    )
    kinds = {layer["mediaType"]: layer["digest"] for layer in manifest["layers"]}
    assert kinds["application/vnd.ollama.image.adapter"] == adapter
    assert "ADAPTER " in ref.http.post("/api/show", json={"model": "lora"}).json()["modelfile"]
    # The adapter is applied at load: the same weights answer differently with it.
    ref.lines("/api/create", {"model": "nolora", "files": {"m.gguf": weights}})
    greedy = {"prompt": "a b c", "stream": False, "raw": True}
    greedy["options"] = {"temperature": 0, "num_predict": 12, "seed": 1}
    plain = ref.http.post("/api/generate", json={"model": "nolora", **greedy})
    adapted = ref.http.post("/api/generate", json={"model": "lora", **greedy})
    assert plain.status_code == adapted.status_code == 200, adapted.text
    assert plain.json()["response"] != adapted.json()["response"]
    # A model GGUF is not an adapter.
    response = ref.http.post(
        "/api/create",
        json={"model": "bad", "files": {"m.gguf": weights}, "adapters": {"a.gguf": weights}},
    )
    assert json.loads(response.text.splitlines()[-1])["error"].endswith(
        "is not a LoRA adapter GGUF"
    )


def test_official_client_create_show_list(ref: RefServer, tiny_f16: Path) -> None:
    client = ollama.Client(host=ref.url)
    digest = ref.upload(tiny_f16)
    progress = list(client.create(model="cl", files={"m.gguf": digest}, system="Hi", stream=True))
    assert progress[-1].status == "success"
    client.create(model="mario", from_="cl", system="You are Mario from Super Mario Bros.")
    assert {"cl:latest", "mario:latest"} <= {m.model for m in client.list().models}
    shown = client.show("mario")
    assert shown.modelfile is not None
    assert "SYSTEM" in shown.modelfile and "You are Mario from Super Mario Bros." in shown.modelfile
    assert shown.details is not None and shown.details.family == "llama"
    assert shown.modelinfo is not None  # model_info from the GGUF
    assert shown.modelinfo["general.architecture"] == "llama"
