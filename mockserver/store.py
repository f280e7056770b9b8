"""Blobs, manifests and the models built from them: the mock's model store.

Layout follows Ollama: a model is a manifest (OCI-style JSON: ``config`` plus
``layers``) whose digests point at blobs. Catalogue models get deterministic
blobs (weights are ``blob_size`` pseudo-random bytes behind a GGUF magic), so
every digest, size and pull total is stable across runs and machines. The same
blob store backs ``/api/blobs``, ``/api/create``, ``/api/pull``/``push`` and the
``/v2`` registry routes.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from ollama_harness.core.names import ModelName, parse_model_name

from .catalogue import ModelEntry

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_TYPE = "application/vnd.docker.container.image.v1+json"
LAYER_PREFIX = "application/vnd.ollama.image."
MODEL_LAYER = LAYER_PREFIX + "model"


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@lru_cache(maxsize=64)
def weights_blob(name: str, size: int) -> bytes:
    """Stand-in weights: a GGUF v3 magic, then bytes drawn from the model's name."""
    header = b"GGUF\x03\x00\x00\x00"
    return header + hashlib.shake_256(f"mock-weights:{name}".encode()).digest(size - len(header))


class BlobStore:
    """Content-addressed bytes, keyed ``sha256:<hex>``."""

    def __init__(self) -> None:
        self._blobs: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        digest = sha256_digest(data)
        self._blobs.setdefault(digest, data)
        return digest

    def get(self, digest: str) -> bytes | None:
        return self._blobs.get(normalise_digest(digest))

    def __contains__(self, digest: object) -> bool:
        return isinstance(digest, str) and normalise_digest(digest) in self._blobs

    def clear(self) -> None:
        self._blobs.clear()


def normalise_digest(digest: str) -> str:
    """Ollama accepts ``sha256-<hex>`` (file names) as well as ``sha256:<hex>``."""
    return digest.replace("sha256-", "sha256:", 1)


def _params_text(parameters: dict[str, Any]) -> bytes:
    return json.dumps(parameters, sort_keys=True).encode()


def build_manifest(entry: ModelEntry, blobs: BlobStore, weights: bytes) -> bytes:
    """Store the model's layers and return its manifest bytes."""
    layers: list[dict[str, Any]] = []

    def add(kind: str, data: bytes) -> None:
        digest = blobs.put(data)
        layers.append({"mediaType": LAYER_PREFIX + kind, "digest": digest, "size": len(data)})

    add("model", weights)
    if entry.template:
        add("template", entry.template.encode())
    if entry.system:
        add("system", entry.system.encode())
    if entry.parameters:
        add("params", _params_text(entry.parameters))
    if entry.license:
        add("license", entry.license.encode())
    if entry.messages:
        add("messages", json.dumps(entry.messages).encode())
    config = {
        "model_format": entry.format,
        "model_family": entry.family,
        "model_families": entry.all_families(),
        "model_type": entry.parameter_size,
        "file_type": entry.quantization_level,
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]},
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_digest = blobs.put(config_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MANIFEST_TYPE,
        "config": {"mediaType": CONFIG_TYPE, "digest": config_digest, "size": len(config_bytes)},
        "layers": layers,
    }
    return json.dumps(manifest, indent=2).encode()


def manifest_layers(manifest: bytes) -> list[dict[str, Any]]:
    """Config first, then layers: everything a pull or push transfers."""
    doc = json.loads(manifest)
    return [doc["config"], *doc["layers"]]


def entry_from_manifest(
    name: str, manifest: bytes, blobs: BlobStore, known: ModelEntry | None
) -> ModelEntry:
    """A model described by a manifest someone pushed: the catalogue entry of the same
    weights when there is one, with the text layers (template, system, ...) read back."""
    doc = json.loads(manifest)
    config_blob = blobs.get(doc["config"]["digest"]) or b"{}"
    config = json.loads(config_blob)
    fields: dict[str, Any] = known.model_dump() if known else {}
    fields["name"] = name
    fields["installed"] = True
    if not known:
        fields["family"] = config.get("model_family") or "llama"
        fields["families"] = config.get("model_families") or None
        fields["parameter_size"] = config.get("model_type") or "unknown"
        fields["quantization_level"] = config.get("file_type") or "unknown"
        fields["template"] = "{{ .Prompt }}"
    for layer in doc["layers"]:
        kind = str(layer.get("mediaType", "")).removeprefix(LAYER_PREFIX)
        data = blobs.get(layer["digest"])
        if data is None or kind == "model":
            continue
        text = data.decode("utf-8", "replace")
        if kind in ("template", "system", "license"):
            fields[kind] = text
        elif kind == "params":
            fields["parameters"] = json.loads(text)
        elif kind == "messages":
            fields["messages"] = json.loads(text)
    return ModelEntry.model_validate(fields)


@dataclass
class InstalledModel:
    """A model present in the store: its name, its manifest and how it behaves."""

    name: ModelName
    entry: ModelEntry
    manifest: bytes
    modified_at: datetime
    digest: str = field(init=False)
    size: int = field(init=False)
    # ``name.key`` and ``name.display.lower()``, asked on every request: computed once.
    key: str = field(init=False, repr=False, compare=False)
    seed_name: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.key = self.name.key
        self.seed_name = self.name.display.lower()
        self.digest = hashlib.sha256(self.manifest).hexdigest()
        self.size = sum(int(layer["size"]) for layer in manifest_layers(self.manifest))

    @property
    def weights_digest(self) -> str:
        return str(json.loads(self.manifest)["layers"][0]["digest"])

    def details(self) -> dict[str, Any]:
        entry = self.entry
        return {
            "parent_model": "",
            "format": entry.format,
            "family": entry.family,
            "families": entry.all_families(),
            "parameter_size": entry.parameter_size,
            "quantization_level": entry.quantization_level,
        }


@dataclass
class RegistryRepo:
    """A manifest the mock's registry serves, with the entry it was built from."""

    manifest: bytes
    entry: ModelEntry | None


def repo_key(name: ModelName) -> str:
    return f"{name.namespace}/{name.model}:{name.tag}".lower()


class ModelStore:
    """Installed models plus the mock registry's content, over one blob store."""

    def __init__(self, catalogue: list[ModelEntry], blob_size: int, now: datetime) -> None:
        self.blobs = BlobStore()
        self.models: dict[str, InstalledModel] = {}
        self.registry: dict[str, RegistryRepo] = {}
        for entry in catalogue:
            name = parse_model_name(entry.name)
            weights = weights_blob(name.display, blob_size)
            manifest = build_manifest(entry, self.blobs, weights)
            self.registry[repo_key(name)] = RegistryRepo(manifest, entry)
            if entry.installed:
                self.models[name.key] = InstalledModel(name, entry, manifest, now)
        # Hashing megabytes of weights on every reset would make per-test resets slow.
        self._initial = (dict(self.blobs._blobs), dict(self.models), dict(self.registry))

    def reset(self) -> None:
        """Back to the catalogue: created, pulled and pushed models are forgotten."""
        blobs, models, registry = self._initial
        self.blobs._blobs = dict(blobs)
        self.models = dict(models)
        self.registry = dict(registry)

    def get(self, name: ModelName) -> InstalledModel | None:
        return self.models.get(name.key)

    def known_entry(self, name: ModelName) -> ModelEntry | None:
        repo = self.registry.get(repo_key(name))
        return repo.entry if repo else None

    def install(
        self, name: ModelName, entry: ModelEntry, manifest: bytes, now: datetime
    ) -> InstalledModel:
        entry = entry.model_copy(update={"name": name.display, "installed": True})
        model = InstalledModel(name, entry, manifest, now)
        self.models[name.key] = model
        return model

    def remove(self, name: ModelName) -> bool:
        return self.models.pop(name.key, None) is not None

    def listing(self) -> list[InstalledModel]:
        """Newest first, as /api/tags orders them."""
        return sorted(
            self.models.values(), key=lambda m: (m.modified_at, m.name.display), reverse=True
        )
