"""Blob uploads (``POST /api/blobs/{digest}``) and the pins that protect work in flight.

An upload streams into a temporary file beside the blobs, hashed as it arrives;
only a body whose SHA-256 equals the digest in the path is renamed into place, so
a mismatch or a dropped connection leaves nothing under a blob's name (Ollama
itself keeps the blob under its real digest; refusing to store it is stricter).
Disk writes and hashing run in a worker thread in batches of about a megabyte:
the event loop stays free while gigabytes arrive.

:class:`LayerPins` counts the blobs that a create or pull is about to reference:
a delete running at the same moment must not collect them in the window before
their manifest is written.
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterable

from ollama_harness.core.errors import ApiError
from ollama_harness.core.names import ModelName
from ollama_harness.realserver import store as st

_BATCH = 1 << 20


def parse_digest(text: str) -> str:
    """``sha256:<hex>`` / ``sha256-<hex>`` -> ``sha256:<hex>``; 400 like Ollama otherwise."""
    try:
        return st.normalize_digest(text)
    except st.StoreError:
        raise ApiError(400, "invalid digest format") from None


class LayerPins:
    """Digests that in-flight operations will reference (a multiset), thread-safe.

    A removal that skips a blob only because it is pinned marks it doomed; the
    operation that drops the last pin collects it (:func:`release_pins`), so a
    delete racing a create leaks nothing.
    """

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._doomed: set[str] = set()
        self._lock = threading.Lock()

    def add(self, digest: str) -> None:
        with self._lock:
            self._counts[st.normalize_digest(digest)] += 1

    def release(self, digests: Iterable[str]) -> set[str]:
        """Drop one pin per digest; returns the doomed digests no longer pinned."""
        freed: set[str] = set()
        with self._lock:
            for digest in digests:
                key = st.normalize_digest(digest)
                self._counts[key] -= 1
                if self._counts[key] <= 0:
                    del self._counts[key]
                    if key in self._doomed:
                        self._doomed.discard(key)
                        freed.add(key)
        return freed

    def doom(self, digests: Iterable[str]) -> None:
        with self._lock:
            self._doomed |= {d for d in map(st.normalize_digest, digests) if d in self._counts}

    def snapshot(self) -> set[str]:
        with self._lock:
            return set(self._counts)


def release_pins(store: st.ModelStore, pins: LayerPins, digests: Iterable[str]) -> list[str]:
    """Release pins and remove the blobs a concurrent removal left to us."""
    freed = pins.release(digests)
    if not freed:
        return []
    return store.remove_layers(freed, pins.snapshot())


def remove_layers(store: st.ModelStore, pins: LayerPins, digests: Iterable[str]) -> list[str]:
    """Remove unreferenced blobs now; pinned ones go when their last pin is released."""
    with store.mutation():
        wanted = set(digests)
        pins.doom(wanted)
        return store.remove_layers(wanted, pins.snapshot())


async def receive_blob(store: st.ModelStore, raw_digest: str, body: AsyncIterator[bytes]) -> int:
    """Store an uploaded blob: 201 when created, 200 when it was already there."""
    digest = parse_digest(raw_digest)
    if store.has_blob(digest):
        return 200
    writer = await asyncio.to_thread(store.blob_writer, digest)
    try:
        pending: list[bytes] = []
        size = 0
        async for chunk in body:
            pending.append(chunk)
            size += len(chunk)
            if size >= _BATCH:
                await asyncio.to_thread(_write_all, writer, pending)
                pending, size = [], 0
        await asyncio.to_thread(_write_all, writer, pending)
        await asyncio.to_thread(writer.commit)
    except st.DigestMismatchError as exc:
        # Ollama quotes the digest as the client wrote it in the path.
        raise ApiError(400, f'digest mismatch, expected "{raw_digest}", got "{exc.got}"') from None
    finally:
        await asyncio.to_thread(writer.abort)
    return 201 if writer.created else 200


def _write_all(writer: st.BlobWriter, chunks: list[bytes]) -> None:
    for chunk in chunks:
        writer.write(chunk)


def replace_manifest(
    store: st.ModelStore,
    pins: LayerPins,
    name: ModelName,
    write: Callable[[], st.StoredModel],
) -> list[str]:
    """Write a manifest and remove the layers only the one it replaces used, atomically.

    Under the store lock, so a create, copy or pull racing another on the same
    name cannot leave the loser's layers behind unreferenced. Returns the removed
    digests.
    """
    with store.mutation():
        previous = store.get(name)
        stored = write()
        if previous is None:
            return []
        return remove_layers(store, pins, previous.manifest.digests() - stored.manifest.digests())
