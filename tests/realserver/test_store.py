"""The model store: layout, atomic writes, digests, shared blobs, locking."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import pytest

from ollama_harness.core.names import parse_model_name
from ollama_harness.realserver import store as st
from ollama_harness.realserver.store import DigestMismatchError, Manifest, ModelStore, StoreError


def make_model(store: ModelStore, name: str, weights: bytes, system: str) -> st.StoredModel:
    layers = (
        store.write_blob(weights, st.MEDIA_MODEL),
        store.write_blob(system.encode(), st.MEDIA_SYSTEM),
    )
    config = store.write_blob(json.dumps({"model_format": "gguf"}).encode(), st.CONFIG_MEDIA_TYPE)
    return store.write_manifest(parse_model_name(name), Manifest(config=config, layers=layers))


def test_layout_is_ollamas(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    stored = make_model(store, "me/tiny:v1", b"weights", "be brief")
    digest = hashlib.sha256(b"weights").hexdigest()
    assert (tmp_path / "blobs" / f"sha256-{digest}").read_bytes() == b"weights"
    manifest_path = tmp_path / "manifests" / "registry.ollama.ai" / "me" / "tiny" / "v1"
    raw = manifest_path.read_bytes()
    assert stored.digest == hashlib.sha256(raw).hexdigest()
    data = json.loads(raw)
    assert data["schemaVersion"] == 2
    assert data["mediaType"] == st.MANIFEST_MEDIA_TYPE
    assert data["layers"][0] == {
        "mediaType": st.MEDIA_MODEL,
        "digest": f"sha256:{digest}",
        "size": 7,
    }


def test_lookup_is_case_insensitive_and_defaults_fill_in(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    make_model(store, "Tiny", b"w", "s")
    found = store.get("tiny:LATEST")
    assert found is not None
    assert found.name.display == "Tiny:latest"
    assert store.get("registry.ollama.ai/library/tiny:latest") is not None
    assert store.get("other") is None


def test_manifest_needs_its_blobs(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    missing = st.Layer(st.MEDIA_MODEL, "sha256:" + "0" * 64, 1)
    config = store.write_blob(b"{}", st.CONFIG_MEDIA_TYPE)
    with pytest.raises(StoreError, match="missing blob"):
        store.write_manifest(parse_model_name("x"), Manifest(config=config, layers=(missing,)))
    assert store.list_models() == []


def test_blob_writer_verifies_digest_and_leaves_nothing_on_mismatch(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    wrong = "sha256:" + hashlib.sha256(b"other").hexdigest()
    writer = store.blob_writer(wrong)
    writer.write(b"data")
    with pytest.raises(DigestMismatchError, match='digest mismatch, expected "sha256:'):
        writer.commit()
    assert list((tmp_path / "blobs").iterdir()) == []
    right = "sha256-" + hashlib.sha256(b"data").hexdigest()
    with store.blob_writer(right) as writer:
        writer.write(b"da")
        writer.write(b"ta")
        layer = writer.commit()
    assert writer.created
    assert store.read_blob(layer.digest) == b"data"


@pytest.mark.parametrize("digest", ["sha256:abc", "md5:" + "0" * 64, "sha256:" + "G" * 64, "../x"])
def test_bad_digests_are_refused(tmp_path: Path, digest: str) -> None:
    with pytest.raises(StoreError, match="invalid digest format"):
        ModelStore(tmp_path).blob_path(digest)


def test_shared_blobs_are_reference_counted(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    first = make_model(store, "a", b"same weights", "one")
    make_model(store, "b", b"same weights", "two")
    weights = first.manifest.layers[0].digest
    assert store.blob_refcounts()[weights] == 2
    assert store.delete(parse_model_name("a"))
    assert store.has_blob(weights)  # b still uses it
    assert not any(store.has_blob(layer.digest) for layer in first.manifest.layers[1:])
    assert store.delete(parse_model_name("b"))
    assert list(store.iter_blobs()) == []
    assert not (tmp_path / "manifests" / "registry.ollama.ai").exists()  # empty dirs pruned
    assert not store.delete(parse_model_name("b"))


def test_crashed_writes_leave_only_temporary_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ModelStore(tmp_path)
    stored = make_model(store, "x", b"w", "old")
    before = stored.path.read_bytes()

    def crash(*args: object) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="power cut"):
        make_model(store, "x", b"w", "new system")
    monkeypatch.undo()
    assert stored.path.read_bytes() == before  # the old manifest is intact
    # A writer killed before its rename leaves a .tmp- file behind; start-up removes it.
    (tmp_path / "blobs" / f"{st.TMP_PREFIX}abc").write_bytes(b"half")
    (stored.path.parent / f"{st.TMP_PREFIX}def").write_bytes(b"{")
    assert [m.name.display for m in store.list_models()] == ["x:latest"]
    assert len(store.clean_temporary()) == 2
    assert not list(tmp_path.rglob(f"{st.TMP_PREFIX}*"))


def test_concurrent_writers_never_expose_a_partial_manifest(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    make_model(store, "race", b"w0", "s0")
    errors: list[BaseException] = []
    reads = 0
    stop = threading.Event()

    def writer(index: int) -> None:
        for step in range(20):
            make_model(store, "race", f"w{index}-{step}".encode(), "s")

    def reader() -> None:
        nonlocal reads
        while not stop.is_set():
            try:
                found = store.get("race")
                assert found is not None
                # Blobs are written before the manifest that names them: a manifest a
                # reader can see never points at a missing layer.
                assert all(store.has_blob(d) for d in found.manifest.digests())
                reads += 1
            except BaseException as exc:
                errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    stop.set()
    watcher.join()
    assert errors == []
    assert reads > 0
    assert len(store.list_models()) == 1


def test_manifest_paths_stay_inside_the_store(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store")
    for name in ("x", "ns/x:tag", "host.example:5000/ns/x:tag"):
        path = store.manifest_path(parse_model_name(name))
        assert (tmp_path / "store" / "manifests") in path.parents


def test_mutation_lock_is_reentrant(tmp_path: Path) -> None:
    store = ModelStore(tmp_path)
    with store.mutation(), store.mutation():
        make_model(store, "nested", b"w", "s")
    assert store.get("nested") is not None


def test_a_replaced_manifest_is_read_again(tmp_path: Path) -> None:
    """Lookups reuse a parsed manifest only while its file is unchanged."""
    store = ModelStore(tmp_path)
    first = make_model(store, "tiny", b"weights", "be brief")
    assert store.get("tiny") == first
    second = make_model(store, "tiny", b"weights", "be verbose")  # same size, same tick
    assert second.digest != first.digest
    assert store.get("tiny") == second
    # A manifest rewritten behind the store's back (another process) is noticed too.
    path = second.path
    path.write_bytes(json.dumps(json.loads(path.read_bytes())).encode())
    again = store.get("tiny")
    assert again is not None and again.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert store.delete(parse_model_name("tiny"))
    assert store.get("tiny") is None


@pytest.mark.parametrize("part", ["..", ".", "", "a/b", "a\0b"])
def test_a_name_that_escapes_the_store_is_refused_even_past_the_grammar(
    tmp_path: Path, part: str
) -> None:
    from ollama_harness.core.names import ModelName

    with pytest.raises(StoreError):
        ModelStore(tmp_path).manifest_path(ModelName("registry.ollama.ai", part, "x", "latest"))
