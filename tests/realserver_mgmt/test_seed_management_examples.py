"""The seed documents' model-management examples, unchanged, against the reference server.

The scripts call ``localhost:11434`` (``requests``) and the ``ollama`` module; both
are routed to a reference server whose ``registry_mirror`` is the mock in registry
mode. The models the scripts pull (llama3.2, qwen2.5-coder:7b, nomic-embed-text)
were pushed to the mock beforehand as real tiny GGUF models, so what is pulled,
created, copied and deleted is a loadable model on disk.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ollama_harness.mockserver.testing import MockServer
from tests.mock.seed_examples.runner import route_to, run_example

from .conftest import RefServer, running_ref, store_is_consistent

PUBLISHED = ("llama3.2", "qwen2.5-coder:7b", "nomic-embed-text")


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory, tiny_f16: Path) -> Iterator[MockServer]:
    """A mock registry serving real tiny models under the names the seeds use."""
    with MockServer(blob_size=4096) as mock:
        with running_ref(
            tmp_path_factory.mktemp("publisher"), registry_mirror=mock.url
        ) as publisher:
            digest = publisher.upload(tiny_f16)
            for name in PUBLISHED:
                publisher.lines(
                    "/api/create", {"model": name, "files": {"m.gguf": digest}, "system": name}
                )
                assert publisher.lines("/api/push", {"model": name})[-1] == {"status": "success"}
        yield mock


@pytest.fixture
def target(tmp_path: Path, published: MockServer) -> Iterator[RefServer]:
    with running_ref(tmp_path / "models", registry_mirror=published.url) as server:
        yield server


@pytest.fixture
def routed(target: RefServer, monkeypatch: pytest.MonkeyPatch) -> RefServer:
    route_to(target.url, monkeypatch)
    return target


def _names(server: RefServer) -> set[str]:
    return {m["name"] for m in server.http.get("/api/tags").json()["models"]}


def test_pull(routed: RefServer) -> None:
    run_example("000-pull")
    assert "llama3.2:latest" in _names(routed)
    assert store_is_consistent(routed.root) == []


def test_pull_with_progress(routed: RefServer) -> None:
    output = run_example("002-pull-model")
    assert "pulling manifest" in output
    assert "100.0%" in output
    assert output.rstrip().endswith("success")
    assert "qwen2.5-coder:7b" in _names(routed)


def test_create_from_a_model_pulls_it_first(routed: RefServer) -> None:
    run_example("000-create")
    assert {"example:latest", "llama3.2:latest"} <= _names(routed)
    shown = routed.http.post("/api/show", json={"model": "example"}).json()
    assert shown["system"] == "You are Mario from Super Mario Bros."
    assert shown["details"]["parent_model"] == "llama3.2:latest"


def test_create_from_modelfile(routed: RefServer) -> None:
    output = run_example("002-create-modelfile")
    assert output.endswith("writing manifest\nsuccess\n")
    shown = routed.http.post("/api/show", json={"model": "concise-llama"}).json()
    assert shown["system"] == "You are a concise assistant."
    assert "temperature" in shown["parameters"]


def test_copy_then_delete(routed: RefServer) -> None:
    run_example("000-pull")
    blobs = sorted(p.name for p in (routed.root / "blobs").iterdir())
    run_example("000-copy-delete")
    assert _names(routed) == {"llama3.2:latest"}
    assert sorted(p.name for p in (routed.root / "blobs").iterdir()) == blobs


def test_setup_script_pulls_what_is_missing(routed: RefServer) -> None:
    run_example("000-pull")  # llama3.2 is there already
    output = run_example("002-setup-script")
    assert "llama3.2: already available" in output
    assert "nomic-embed-text: pulling..." in output
    assert "qwen2.5-coder:7b: pulling..." in output
    assert output.rstrip().endswith("All models ready.")
    assert {"llama3.2:latest", "nomic-embed-text:latest", "qwen2.5-coder:7b"} <= _names(routed)
    assert store_is_consistent(routed.root) == []
