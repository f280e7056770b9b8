"""The on-disk model store, laid out like Ollama's.

::

    <root>/blobs/sha256-<hex>                          content-addressed layers
    <root>/manifests/<host>/<namespace>/<model>/<tag>  one JSON manifest per name

Every write goes to a temporary file beside its target, is fsynced, then renamed:
a crash never leaves a half-written blob or manifest visible under its real name.
Temporary files carry the ``.tmp-`` prefix and are removed by :meth:`ModelStore.
clean_temporary` on start. Mutations (writing or removing manifests, collecting
blobs) take :meth:`ModelStore.mutation`: a thread lock plus an ``flock`` on
``<root>/.lock`` so two servers sharing a store do not interleave either.

Blobs are shared between manifests; :meth:`ModelStore.blob_refcounts` counts the
manifests that reference each one and :meth:`ModelStore.remove_unreferenced`
deletes only blobs no manifest uses.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from ollama_harness.core.names import ModelName, parse_model_name
from ollama_harness.core.protocol import messages

MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_MEDIA_TYPE = "application/vnd.docker.container.image.v1+json"
MEDIA_MODEL = "application/vnd.ollama.image.model"
MEDIA_TEMPLATE = "application/vnd.ollama.image.template"
MEDIA_SYSTEM = "application/vnd.ollama.image.system"
MEDIA_PARAMS = "application/vnd.ollama.image.params"
MEDIA_LICENSE = "application/vnd.ollama.image.license"
MEDIA_MESSAGES = "application/vnd.ollama.image.messages"
MEDIA_ADAPTER = "application/vnd.ollama.image.adapter"
MEDIA_PROJECTOR = "application/vnd.ollama.image.projector"

TMP_PREFIX = ".tmp-"
_DIGEST_RE = re.compile(r"^sha256[:-]([0-9a-f]{64})$")
_CHUNK = 1 << 20


class StoreError(Exception):
    """The store cannot do what was asked (bad digest, unreadable manifest...)."""


class DigestMismatchError(StoreError):
    def __init__(self, expected: str, got: str) -> None:
        super().__init__(f'digest mismatch, expected "{expected}", got "{got}"')
        self.expected = expected
        self.got = got


def normalize_digest(digest: str) -> str:
    """``sha256:<hex>`` or ``sha256-<hex>`` -> ``sha256:<hex>``; StoreError otherwise."""
    match = _DIGEST_RE.match(digest)
    if match is None:
        raise StoreError("invalid digest format")
    return f"sha256:{match[1]}"


@dataclass(frozen=True, slots=True)
class Layer:
    media_type: str
    digest: str  # sha256:<hex>
    size: int
    from_: str | None = None  # Ollama records the parent model a layer came from

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": self.digest}
        out["size"] = self.size
        if self.from_:
            out["from"] = self.from_
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Layer:
        return cls(
            media_type=str(data["mediaType"]),
            digest=normalize_digest(str(data["digest"])),
            size=int(data["size"]),
            from_=data.get("from"),
        )


@dataclass(frozen=True, slots=True)
class Manifest:
    config: Layer
    layers: tuple[Layer, ...]
    schema_version: int = 2
    media_type: str = MANIFEST_MEDIA_TYPE

    def to_bytes(self) -> bytes:
        data = {
            "schemaVersion": self.schema_version,
            "mediaType": self.media_type,
            "config": self.config.to_json(),
            "layers": [layer.to_json() for layer in self.layers],
        }
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
            return cls(
                config=Layer.from_json(data["config"]),
                layers=tuple(Layer.from_json(item) for item in data.get("layers", [])),
                schema_version=int(data.get("schemaVersion", 2)),
                media_type=str(data.get("mediaType", MANIFEST_MEDIA_TYPE)),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"invalid manifest: {exc}") from exc

    def digests(self) -> set[str]:
        return {self.config.digest, *(layer.digest for layer in self.layers)}

    def layer(self, media_type: str) -> Layer | None:
        """The last layer of a kind wins, as in Ollama (a child overrides its parent)."""
        found = None
        for layer in self.layers:
            if layer.media_type == media_type:
                found = layer
        return found

    @property
    def size(self) -> int:
        return self.config.size + sum(layer.size for layer in self.layers)


@dataclass(frozen=True, slots=True)
class StoredModel:
    """A manifest found in the store, with where and when it was written."""

    name: ModelName
    manifest: Manifest
    digest: str  # sha256 hex of the manifest bytes, as /api/tags shows it
    modified_at: datetime
    path: Path = field(repr=False)


def fsync_dir(path: Path) -> None:
    # The rename is durable only once the directory entry is on disk.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class BlobWriter:
    """Stream bytes into a temporary file, hashing as they come; publish on commit."""

    def __init__(self, store: ModelStore, expected: str | None) -> None:
        self._store = store
        self.expected = normalize_digest(expected) if expected else None
        store.blobs_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=store.blobs_dir)
        self._tmp = Path(name)
        self._file: IO[bytes] = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self.size = 0
        self.created = False

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def commit(self) -> Layer:
        """Verify the digest, then rename into place; returns the blob as a layer."""
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        got = f"sha256:{self._hash.hexdigest()}"
        if self.expected is not None and got != self.expected:
            self._tmp.unlink(missing_ok=True)
            raise DigestMismatchError(self.expected, got)
        target = self._store.blob_path(got)
        if target.exists():
            self._tmp.unlink(missing_ok=True)
        else:
            os.replace(self._tmp, target)
            fsync_dir(target.parent)
            self.created = True
        return Layer(media_type="", digest=got, size=self.size)

    def abort(self) -> None:
        if not self._file.closed:
            self._file.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None or not self._file.closed:
            self.abort()


class ModelStore:
    """Blobs and manifests under one root directory."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser()
        self.blobs_dir = self.root / "blobs"
        self.manifests_dir = self.root / "manifests"
        self._thread_lock = threading.RLock()
        self._depth = 0
        # Every inference request looks its model up; the manifest is read again only
        # when its file changed. Manifests are replaced by rename, so a new one has a
        # new inode even within one mtime tick.
        self._loaded: dict[Path, tuple[tuple[int, int, int], StoredModel]] = {}

    # -- locking ---------------------------------------------------------------
    @contextlib.contextmanager
    def mutation(self) -> Iterator[None]:
        """Exclusive access for changes that span several files (re-entrant)."""
        with self._thread_lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self.root.mkdir(parents=True, exist_ok=True)
            with (self.root / ".lock").open("a+b") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                self._depth = 1
                try:
                    yield
                finally:
                    self._depth = 0
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    # -- blobs -------------------------------------------------------------------
    def blob_path(self, digest: str) -> Path:
        hexdigest = normalize_digest(digest).split(":", 1)[1]
        return self.blobs_dir / f"sha256-{hexdigest}"

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def blob_writer(self, expected: str | None = None) -> BlobWriter:
        return BlobWriter(self, expected)

    def write_blob(self, data: bytes, media_type: str) -> Layer:
        with self.blob_writer() as writer:
            writer.write(data)
            layer = writer.commit()
        return Layer(media_type, layer.digest, layer.size)

    def import_file(self, source: Path, media_type: str, expected: str | None = None) -> Layer:
        """Copy a file into the store as a blob (hash verified while copying)."""
        with source.open("rb") as handle, self.blob_writer(expected) as writer:
            while chunk := handle.read(_CHUNK):
                writer.write(chunk)
            layer = writer.commit()
        return Layer(media_type, layer.digest, layer.size)

    def read_blob(self, digest: str) -> bytes:
        return self.blob_path(digest).read_bytes()

    def iter_blobs(self) -> Iterator[str]:
        if not self.blobs_dir.is_dir():
            return
        for entry in self.blobs_dir.iterdir():
            if entry.name.startswith("sha256-") and entry.is_file():
                yield "sha256:" + entry.name.removeprefix("sha256-")

    # -- manifests ---------------------------------------------------------------
    def manifest_path(self, name: ModelName) -> Path:
        # Every part passed the name grammar (no '/', never '.' or '..'), so the
        # path stays inside manifests_dir; the check below is belt and braces, on
        # the strings (resolving the path on disk cost more than the rest of a
        # lookup, which every inference request makes).
        parts = name.manifest_parts()
        for part in parts:
            if part in ("", ".", "..") or os.sep in part or "\0" in part:
                raise StoreError(messages.INVALID_MODEL_NAME)
        return self.manifests_dir.joinpath(*parts)

    def _find_manifest_path(self, name: ModelName) -> Path | None:
        exact = self.manifest_path(name)
        if exact.is_file():
            return exact
        # Names are case-insensitive for lookup: walk the store once.
        for path in self._manifest_files():
            if self._name_of(path).key == name.key:
                return path
        return None

    def _manifest_files(self) -> Iterator[Path]:
        if not self.manifests_dir.is_dir():
            return
        for path in self.manifests_dir.glob("*/*/*/*"):
            if path.is_file() and not path.name.startswith(TMP_PREFIX):
                yield path

    def _name_of(self, path: Path) -> ModelName:
        host, namespace, model, tag = path.relative_to(self.manifests_dir).parts
        return ModelName(host, namespace, model, tag)

    def _load(self, path: Path) -> StoredModel:
        stat = path.stat()
        signature = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        cached = self._loaded.get(path)
        if cached is not None and cached[0] == signature:
            return cached[1]
        raw = path.read_bytes()
        stored = StoredModel(
            name=self._name_of(path),
            manifest=Manifest.from_bytes(raw),
            digest=hashlib.sha256(raw).hexdigest(),
            modified_at=datetime.fromtimestamp(stat.st_mtime, UTC).astimezone(),
            path=path,
        )
        if len(raw) == stat.st_size:  # not caught between a truncation and a write
            if len(self._loaded) > 1024:
                self._loaded.clear()
            self._loaded[path] = (signature, stored)
        return stored

    def get(self, name: ModelName | str) -> StoredModel | None:
        """The stored model under a name, or None (a missing blob makes it unusable)."""
        parsed = parse_model_name(name) if isinstance(name, str) else name
        path = self._find_manifest_path(parsed)
        if path is None:
            return None
        try:
            return self._load(path)
        except (OSError, StoreError):
            return None

    def list_models(self) -> list[StoredModel]:
        out = []
        for path in self._manifest_files():
            with contextlib.suppress(OSError, StoreError, ValueError):
                out.append(self._load(path))
        out.sort(key=lambda model: model.modified_at, reverse=True)
        return out

    def write_manifest(self, name: ModelName, manifest: Manifest) -> StoredModel:
        """Write (or replace) the manifest of ``name``; every blob it names must exist."""
        missing = [d for d in sorted(manifest.digests()) if not self.has_blob(d)]
        if missing:
            raise StoreError(f"manifest references missing blob {missing[0]}")
        with self.mutation():
            existing = self._find_manifest_path(name)
            path = existing or self.manifest_path(name)
            atomic_write(path, manifest.to_bytes())
            return self._load(path)

    def delete(self, name: ModelName) -> bool:
        """Remove a manifest and every blob no other manifest references."""
        with self.mutation():
            path = self._find_manifest_path(name)
            if path is None:
                return False
            path.unlink()
            _prune_empty_dirs(path.parent, self.manifests_dir)
            self.remove_unreferenced()
            return True

    def blob_refcounts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for model in self.list_models():
            for digest in model.manifest.digests():
                counts[digest] = counts.get(digest, 0) + 1
        return counts

    def remove_unreferenced(self, keep: Iterable[str] = ()) -> list[str]:
        """Delete blobs that no manifest references (``keep``: in-flight uploads)."""
        with self.mutation():
            used = set(self.blob_refcounts()) | {normalize_digest(d) for d in keep}
            removed = []
            for digest in list(self.iter_blobs()):
                if digest not in used:
                    self.blob_path(digest).unlink(missing_ok=True)
                    removed.append(digest)
            return removed

    def clean_temporary(self) -> list[Path]:
        """Remove temporary files a crashed writer left behind (run on start)."""
        removed = []
        for folder in (self.blobs_dir, self.manifests_dir):
            if not folder.is_dir():
                continue
            for path in folder.rglob(f"{TMP_PREFIX}*"):
                with contextlib.suppress(OSError):
                    path.unlink()
                    removed.append(path)
        return removed

    # -- model management: copy, delete, pull (exact bytes, targeted removal) -----
    def manifest_bytes(self, name: ModelName) -> tuple[StoredModel, bytes] | None:
        """The stored model and its manifest exactly as written (None when absent)."""
        path = self._find_manifest_path(name)
        if path is None:
            return None
        try:
            return self._load(path), path.read_bytes()
        except (OSError, StoreError):
            return None

    def write_manifest_bytes(self, name: ModelName, raw: bytes) -> StoredModel:
        """Write a manifest byte for byte, so a pulled or copied model keeps its digest."""
        manifest = Manifest.from_bytes(raw)
        missing = [d for d in sorted(manifest.digests()) if not self.has_blob(d)]
        if missing:
            raise StoreError(f"manifest references missing blob {missing[0]}")
        with self.mutation():
            path = self._find_manifest_path(name) or self.manifest_path(name)
            atomic_write(path, raw)
            return self._load(path)

    def remove_manifest(self, name: ModelName) -> tuple[bool, Manifest | None]:
        """Remove a name only: (whether it existed, its manifest when readable)."""
        with self.mutation():
            path = self._find_manifest_path(name)
            if path is None:
                return False, None
            manifest: Manifest | None
            try:
                manifest = Manifest.from_bytes(path.read_bytes())
            except (OSError, StoreError):
                manifest = None
            path.unlink()
            _prune_empty_dirs(path.parent, self.manifests_dir)
            fsync_dir(path.parent if path.parent.is_dir() else self.manifests_dir)
            return True, manifest

    def remove_layers(self, digests: Iterable[str], keep: Iterable[str] = ()) -> list[str]:
        """Delete these blobs unless a manifest or ``keep`` (in-flight work) uses them.

        Unlike :meth:`remove_unreferenced` this leaves alone blobs that were uploaded
        for a create still to come, as Ollama's ``Manifest.RemoveLayers`` does.
        """
        with self.mutation():
            used = set(self.blob_refcounts()) | {normalize_digest(d) for d in keep}
            removed = []
            for digest in sorted({normalize_digest(d) for d in digests} - used):
                path = self.blob_path(digest)
                if path.is_file():
                    path.unlink()
                    removed.append(digest)
            return removed


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def _prune_empty_dirs(folder: Path, stop: Path) -> None:
    while folder != stop and folder.is_dir():
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
