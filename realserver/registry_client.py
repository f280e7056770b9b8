"""``/api/pull`` and ``/api/push`` over the registry (OCI distribution) protocol.

Pull: ``GET /v2/<namespace>/<model>/manifests/<tag>``, then every layer (and the
config) with ``GET /v2/<namespace>/<model>/blobs/<digest>``. A layer downloads
into ``<store>/partial/sha256-<hex>``, hashed as it arrives; when the process
dies (or the client goes) the partial file stays, and the next pull asks for the
rest with ``Range: bytes=N-`` (the hash of the first N bytes is rebuilt from the
file). Only a file whose SHA-256 equals its digest is renamed into ``blobs/``.
Concurrent pulls that need the same layer share one :class:`Download` and see the
same progress; the download stops when its last listener leaves.

Push: for each layer, ``HEAD`` the blob; upload the missing ones with
``POST .../blobs/uploads/``, ``PATCH`` chunks and ``PUT ...?digest=``; then
``PUT`` the manifest bytes exactly as stored, so the registry's digest equals
the local one.

Status lines follow Ollama's ``server/images.go``, ``download.go`` and
``upload.go``. Names on the default registry go to ``registry_mirror`` when one is
set (offline machines pull ``llama3.2`` from a local registry that way); others go
to ``https://<host>``, or ``http://<host>`` with ``insecure``.

Why one module of ~530 lines: pull and push share the registry session (auth,
insecure, mirror), the manifest types and the progress stream; each half alone
would still need all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import os
import queue
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

from ollama_harness.core.names import DEFAULT_HOST, ModelName
from ollama_harness.core.protocol import progress
from ollama_harness.realserver import store as st
from ollama_harness.realserver.blobs import LayerPins, release_pins, replace_manifest

MANIFEST_ACCEPT = st.MANIFEST_MEDIA_TYPE
PROGRESS_INTERVAL = 0.1  # seconds between progress lines of one layer
UPLOAD_CHUNK = 8 << 20
_RETRIES = 3
_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class RegistryError(Exception):
    """A pull or push that failed; the message is what the client sees."""


@dataclass(frozen=True, slots=True)
class Repository:
    """Where one model lives on a registry."""

    base: str  # scheme://host[:port][/prefix]
    namespace: str
    model: str
    tag: str

    def _url(self, *parts: str) -> str:
        return "/".join([self.base, "v2", self.namespace, self.model, *parts])

    def manifest_url(self) -> str:
        return self._url("manifests", self.tag)

    def blob_url(self, digest: str) -> str:
        return self._url("blobs", digest)

    def uploads_url(self) -> str:
        return self._url("blobs", "uploads") + "/"


def repository_for(name: ModelName, insecure: bool, mirror: str = "") -> Repository:
    if name.host == DEFAULT_HOST and mirror:
        base = mirror.rstrip("/")
    else:
        base = f"{'http' if insecure else 'https'}://{name.host}"
    return Repository(base, name.namespace, name.model, name.tag)


short = progress.short_digest


def _client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=_TIMEOUT, follow_redirects=True, trust_env=False)


def _registry_message(response: httpx.Response) -> str:
    with contextlib.suppress(ValueError, KeyError, IndexError, TypeError):
        errors = response.json()["errors"]
        return str(errors[0].get("message") or errors[0].get("code"))
    return f"{response.status_code} {response.reason_phrase}".strip()


async def fetch_manifest(repo: Repository) -> bytes:
    """The manifest bytes; RegistryError with Ollama's ``pull model manifest`` words."""
    try:
        async with _client() as client:
            response = await client.get(repo.manifest_url(), headers={"Accept": MANIFEST_ACCEPT})
    except httpx.HTTPError as exc:
        raise RegistryError(progress.pull_manifest_failed(_transport_text(exc))) from None
    if response.status_code == 404:
        raise RegistryError(progress.pull_manifest_failed("file does not exist"))
    if response.status_code != 200:
        raise RegistryError(progress.pull_manifest_failed(_registry_message(response)))
    return response.content


def _transport_text(exc: httpx.HTTPError) -> str:
    request = getattr(exc, "_request", None)
    where = f'Get "{request.url}": ' if request is not None else ""
    return f"{where}{exc or type(exc).__name__}"


# -- downloads -------------------------------------------------------------------------


@dataclass(eq=False)
class Download:
    """One layer being fetched; shared by every pull that needs it."""

    digest: str
    total: int
    url: str
    partial: Path
    target: Path
    completed: int = 0
    listeners: int = 0
    task: asyncio.Task[None] | None = None
    error: str | None = None
    finished: asyncio.Event = field(default_factory=asyncio.Event)
    stopping: bool = False
    got: str | None = None  # sha256 of the partial file, computed while it was written
    after: asyncio.Task[None] | None = None  # a stopped download of the same file

    async def run(self) -> None:
        try:
            if self.after is not None:
                # The partial file is ours only once the previous writer has let go.
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait([self.after])
            for attempt in range(_RETRIES):
                try:
                    await self._attempt()
                    break
                except (httpx.TransportError, httpx.RemoteProtocolError) as exc:
                    if attempt == _RETRIES - 1:
                        raise RegistryError(f"download {short(self.digest)}: {exc}") from None
                    await asyncio.sleep(0.2 * (attempt + 1))
            await asyncio.to_thread(self._publish)
        except RegistryError as exc:
            self.error = str(exc)
        except asyncio.CancelledError:
            self.error = "download cancelled"
            raise
        except OSError as exc:
            self.error = str(exc)
        finally:
            self.finished.set()

    async def _attempt(self) -> None:
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        offset = self.partial.stat().st_size if self.partial.exists() else 0
        if offset > self.total:
            self.partial.unlink()
            offset = 0
        self.completed = offset
        if offset == self.total and self.total > 0:
            return
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        async with _client() as client, client.stream("GET", self.url, headers=headers) as resp:
            if resp.status_code == 404:
                raise RegistryError(f"pull {short(self.digest)}: blob unknown to registry")
            if resp.status_code == 200 and offset:
                offset = 0  # the registry ignored the range: start over
            elif resp.status_code not in (200, 206):
                raise RegistryError(f"pull {short(self.digest)}: {_registry_message(resp)}")
            elif resp.status_code == 206 and not resp.headers.get("content-range", "").startswith(
                f"bytes {offset}-"
            ):
                raise RegistryError(f"pull {short(self.digest)}: registry sent the wrong range")
            self.completed = offset
            sink = _Sink(self.partial, offset)
            try:
                async for chunk in resp.aiter_raw():
                    await sink.put(chunk)
                    self.completed += len(chunk)
            finally:
                # Keep what arrived before a drop or a cancel: the next try resumes there.
                # (Shielded: a cancelled pull still waits until its writer let go.)
                await _settled(sink.close())
            self.got = sink.digest()

    def _publish(self) -> None:
        """Verify the digest (hashed while writing), then rename to its content address."""
        got = self.got or _sha256_file(self.partial)
        if got != self.digest:
            self.partial.unlink(missing_ok=True)
            raise RegistryError(
                f"digest mismatch, file must be downloaded again: want {self.digest}, got {got}"
            )
        with self.partial.open("rb") as handle:
            os.fsync(handle.fileno())
        self.target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.partial, self.target)
        st.fsync_dir(self.target.parent)
        self.completed = self.total


class _Sink:
    """Appends to a partial file and hashes it in a thread of its own.

    Receiving never waits on the disk; the queue bounds what a kill can lose (a few
    megabytes, downloaded again on resume). On resume the existing bytes are
    hashed first, so the final digest needs no second pass over the file.
    """

    def __init__(self, path: Path, offset: int) -> None:
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=64)
        self.hash = hashlib.sha256()
        self.error: OSError | None = None
        self.thread = threading.Thread(target=self._run, args=(path, offset), daemon=True)
        self.thread.start()

    def _run(self, path: Path, offset: int) -> None:
        try:
            if offset:
                with path.open("rb") as existing:
                    left = offset
                    while left and (block := existing.read(min(left, 1 << 20))):
                        self.hash.update(block)
                        left -= len(block)
            with path.open("ab" if offset else "wb") as handle:
                while (chunk := self.queue.get()) is not None:
                    handle.write(chunk)
                    self.hash.update(chunk)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError as exc:
            self.error = exc
            while self.queue.get() is not None:  # drain so that put() never blocks forever
                pass

    async def put(self, chunk: bytes) -> None:
        if self.error is not None:
            raise self.error
        try:
            self.queue.put_nowait(chunk)
        except queue.Full:
            await asyncio.to_thread(self.queue.put, chunk)

    async def close(self) -> None:
        await asyncio.to_thread(self.queue.put, None)
        await asyncio.to_thread(self.thread.join)
        if self.error is not None:
            raise self.error

    def digest(self) -> str:
        return f"sha256:{self.hash.hexdigest()}"


async def _settled(work: Any) -> None:
    """Await a write even when cancelled meanwhile: no thread writes after we stop."""
    future = asyncio.ensure_future(work)
    try:
        await asyncio.shield(future)
    except asyncio.CancelledError:
        await asyncio.wait([future])
        raise


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"


class Downloads:
    """The layer downloads in flight, by digest (one per digest, however many pulls)."""

    def __init__(self, store: st.ModelStore) -> None:
        self.store = store
        self.partial_dir = store.root / "partial"
        self._active: dict[str, Download] = {}

    def partial_path(self, digest: str) -> Path:
        return self.partial_dir / f"sha256-{digest.removeprefix('sha256:')}"

    def clean(self) -> list[Path]:
        """Drop partial files of blobs that are complete (kept: those a pull may resume)."""
        removed: list[Path] = []
        if not self.partial_dir.is_dir():
            return removed
        for path in self.partial_dir.iterdir():
            digest = "sha256:" + path.name.removeprefix("sha256-")
            try:
                complete = self.store.has_blob(digest)
            except st.StoreError:
                complete = True  # not a name this module writes
            if complete:
                path.unlink(missing_ok=True)
                removed.append(path)
        return removed

    def join(self, digest: str, total: int, url: str) -> Download:
        download = self._active.get(digest)
        if download is None or download.finished.is_set() or download.stopping:
            previous = download.task if download is not None else None
            download = Download(
                digest=digest,
                total=total,
                url=url,
                partial=self.partial_path(digest),
                target=self.store.blob_path(digest),
                after=previous if previous is not None and not previous.done() else None,
            )
            with contextlib.suppress(OSError):
                # A resumed download starts where the partial file ends.
                download.completed = min(download.partial.stat().st_size, total)
            self._active[digest] = download
            download.task = asyncio.create_task(download.run())
            download.task.add_done_callback(functools.partial(self._forget, download))
        download.listeners += 1
        return download

    def leave(self, download: Download) -> None:
        download.listeners -= 1
        if download.listeners <= 0 and download.task is not None and not download.task.done():
            download.stopping = True
            download.task.cancel()  # nobody waits: stop, keep the partial file for later

    def _forget(self, download: Download, _task: object = None) -> None:
        if self._active.get(download.digest) is download:
            del self._active[download.digest]

    def active(self) -> list[Download]:
        return list(self._active.values())


# -- pull --------------------------------------------------------------------------------


def _progress(layer: st.Layer, completed: int) -> dict[str, Any]:
    line: dict[str, Any] = {
        "status": progress.layer_transfer("pulling", layer.digest),
        "digest": layer.digest,
        "total": layer.size,
    }
    if completed:
        line["completed"] = completed
    return line


@dataclass
class PullContext:
    store: st.ModelStore
    downloads: Downloads
    pins: LayerPins
    mirror: str = ""


async def pull_model(
    ctx: PullContext, name: ModelName, insecure: bool = False
) -> AsyncGenerator[dict[str, Any], None]:
    """Pull ``name``: yields Ollama's status lines; RegistryError on failure."""
    yield progress.status(progress.PULLING_MANIFEST)
    repo = repository_for(name, insecure, ctx.mirror)
    raw = await fetch_manifest(repo)
    try:
        manifest = st.Manifest.from_bytes(raw)
    except st.StoreError as exc:
        raise RegistryError(progress.pull_manifest_failed(exc)) from None
    layers = [*manifest.layers, manifest.config]
    pinned = sorted(manifest.digests())
    for digest in pinned:
        ctx.pins.add(digest)
    try:
        waiting: list[tuple[st.Layer, Download]] = []
        try:
            for layer in layers:
                if ctx.store.has_blob(layer.digest):
                    yield _progress(layer, layer.size)
                elif all(layer.digest != d.digest for _, d in waiting):
                    url = repo.blob_url(layer.digest)
                    waiting.append((layer, ctx.downloads.join(layer.digest, layer.size, url)))
            async for line in _watch(waiting):
                yield line
        finally:
            for _, download in waiting:
                ctx.downloads.leave(download)
        yield progress.status(progress.VERIFYING_DIGEST)
        missing = [d for d in sorted(manifest.digests()) if not ctx.store.has_blob(d)]
        if missing:
            raise RegistryError(f"{progress.VERIFYING_DIGEST}: {missing[0]} is missing")
        yield progress.status(progress.WRITING_MANIFEST)
        previous = ctx.store.get(name)
        removed = await asyncio.to_thread(
            replace_manifest,
            ctx.store,
            ctx.pins,
            name,
            lambda: ctx.store.write_manifest_bytes(name, raw),
        )
        stale = previous.manifest.digests() - manifest.digests() if previous else set()
        if stale or removed:
            yield progress.status(progress.REMOVING_UNUSED_LAYERS)
    finally:
        await asyncio.to_thread(release_pins, ctx.store, ctx.pins, pinned)
    yield progress.status(progress.SUCCESS)


async def _watch(waiting: list[tuple[st.Layer, Download]]) -> AsyncIterator[dict[str, Any]]:
    """Progress lines until every download finished; the first failure is raised."""
    shown: dict[str, int] = {}
    for layer, download in waiting:
        shown[layer.digest] = download.completed
        yield _progress(layer, download.completed)
    while True:
        for layer, download in waiting:
            if download.completed != shown[layer.digest]:
                shown[layer.digest] = download.completed
                yield _progress(layer, download.completed)
            if download.finished.is_set() and download.error is not None:
                raise RegistryError(download.error)
        if all(download.finished.is_set() for _, download in waiting):
            return
        pending = [asyncio.create_task(d.finished.wait()) for _, d in waiting]
        try:
            await asyncio.wait(pending, timeout=PROGRESS_INTERVAL, return_when="FIRST_COMPLETED")
        finally:
            for task in pending:
                task.cancel()


# -- push --------------------------------------------------------------------------------


async def push_model(
    store: st.ModelStore,
    name: ModelName,
    insecure: bool = False,
    mirror: str = "",
    read_chunk: Callable[[Path, int, int], bytes] | None = None,
) -> AsyncGenerator[dict[str, Any], None]:
    """Push ``name``: yields Ollama's status lines; RegistryError on failure."""
    yield progress.status(progress.RETRIEVING_MANIFEST)
    found = store.manifest_bytes(name)
    if found is None:
        yield progress.status(progress.RETRIEVE_MANIFEST_FAILED)
        raise RegistryError(f"open {store.manifest_path(name)}: no such file or directory")
    stored, raw = found
    repo = repository_for(name, insecure, mirror)
    reader = read_chunk or _read_chunk
    async with _client() as client:
        for layer in [*stored.manifest.layers, stored.manifest.config]:
            async for line in _upload(client, repo, store, layer, reader):
                yield line
        yield progress.status(progress.PUSHING_MANIFEST)
        try:
            response = await client.put(
                repo.manifest_url(), content=raw, headers={"Content-Type": MANIFEST_ACCEPT}
            )
        except httpx.HTTPError as exc:
            raise RegistryError(f"push manifest: {exc}") from None
        if response.status_code not in (200, 201, 202):
            raise RegistryError(_registry_message(response))
    yield progress.status(progress.SUCCESS)


def _read_chunk(path: Path, offset: int, size: int) -> bytes:
    with path.open("rb") as handle:
        handle.seek(offset)
        return handle.read(size)


async def _upload(
    client: httpx.AsyncClient,
    repo: Repository,
    store: st.ModelStore,
    layer: st.Layer,
    read_chunk: Callable[[Path, int, int], bytes],
) -> AsyncIterator[dict[str, Any]]:
    status = progress.layer_transfer("pushing", layer.digest)
    line: dict[str, Any] = {"status": status, "digest": layer.digest, "total": layer.size}
    try:
        head = await client.head(repo.blob_url(layer.digest))
        if head.status_code == 200:
            yield {**line, "completed": layer.size}
            return
        yield line
        started = await client.post(repo.uploads_url())
        if started.status_code not in (201, 202):
            raise RegistryError(f"push {short(layer.digest)}: {_registry_message(started)}")
        location = urljoin(repo.base + "/", started.headers.get("location", ""))
        path = store.blob_path(layer.digest)
        offset = 0
        while offset < layer.size:
            chunk = await asyncio.to_thread(read_chunk, path, offset, UPLOAD_CHUNK)
            if not chunk:
                raise RegistryError(f"push {short(layer.digest)}: blob is shorter than its size")
            end = offset + len(chunk) - 1
            patched = await client.patch(
                location,
                content=chunk,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Range": f"{offset}-{end}",
                },
            )
            if patched.status_code not in (202, 204):
                raise RegistryError(f"push {short(layer.digest)}: {_registry_message(patched)}")
            location = urljoin(location, patched.headers.get("location", location))
            offset += len(chunk)
            yield {**line, "completed": offset}
        separator = "&" if "?" in location else "?"
        done = await client.put(f"{location}{separator}digest={layer.digest}")
        if done.status_code not in (201, 204):
            raise RegistryError(f"push {short(layer.digest)}: {_registry_message(done)}")
    except httpx.HTTPError as exc:
        raise RegistryError(f"push {short(layer.digest)}: {exc}") from None
