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
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator

from ollama_harness.errors import ApiError
from realserver import store as st

_BATCH = 1 << 20


def parse_digest(text: str) -> str:
    """``sha256:<hex>`` / ``sha256-<hex>`` -> ``sha256:<hex>``; 400 like Ollama otherwise."""
    try:
        return st.normalize_digest(text)
    except st.StoreError:
        raise ApiError(400, "invalid digest format") from None


class LayerPins:
    """Digests that in-flight operations will reference (a multiset)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    @contextlib.contextmanager
    def hold(self, digests: Iterable[str]) -> Iterator[None]:
        held = [st.normalize_digest(d) for d in digests]
        self._counts.update(held)
        try:
            yield
        finally:
            self._counts.subtract(held)
            self._counts += Counter()  # drop zero counts

    def add(self, digest: str) -> None:
        self._counts[st.normalize_digest(digest)] += 1

    def discard(self, digest: str) -> None:
        key = st.normalize_digest(digest)
        self._counts[key] -= 1
        if self._counts[key] <= 0:
            del self._counts[key]

    def snapshot(self) -> set[str]:
        return set(self._counts)


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
