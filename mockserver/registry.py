"""Registry mode: the OCI distribution routes Ollama's pull and push speak.

``/v2/<namespace>/<model>/manifests/<tag>`` (GET, HEAD, PUT),
``/v2/<namespace>/<model>/blobs/<digest>`` (GET, HEAD; ``Range`` gives 206), and
uploads: ``POST .../blobs/uploads/`` (202 + ``Location``), ``PATCH`` to append,
``PUT ...?digest=`` to finish (201, digest verified). Content is the catalogue's
models plus whatever was pushed (here or through ``/api/push``), so a real
Ollama pointed at the mock (``ollama pull http://127.0.0.1:PORT/library/x``
with ``--insecure``) can pull and push offline.
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any
from urllib.parse import parse_qs

import orjson

from ollama_harness.core.names import ModelNameError, parse_model_name

from .exchange import Exchange
from .http import JSON_TYPE
from .store import MANIFEST_TYPE, RegistryRepo, entry_from_manifest, repo_key, sha256_digest

_PART = r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,79}"
_ROUTE = re.compile(
    rf"^/v2/(?P<ns>{_PART})/(?P<model>{_PART})/"
    rf"(?:manifests/(?P<tag>{_PART}|sha256:[0-9a-f]{{64}})"
    rf"|blobs/uploads/(?P<upload>[0-9a-f-]*)"
    rf"|blobs/(?P<digest>sha256:[0-9a-f]{{64}}))$"
)
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _errors(code: str, message: str) -> bytes:
    return orjson.dumps({"errors": [{"code": code, "message": message, "detail": None}]})


async def _fail(exchange: Exchange, status: int, code: str, message: str) -> None:
    body = b"" if exchange.request.method == "HEAD" else _errors(code, message)
    await exchange.response.full(status, body, JSON_TYPE if body else None)


async def handle(exchange: Exchange) -> None:
    request = exchange.request
    if request.path in ("/v2", "/v2/"):
        await exchange.response.json(200, {})
        return
    match = _ROUTE.match(request.path)
    if match is None:
        await _fail(exchange, 404, "NAME_UNKNOWN", "repository name not known to registry")
        return
    method = request.method
    if match["tag"] is not None:
        if method in ("GET", "HEAD"):
            await _get_manifest(exchange, match["ns"], match["model"], match["tag"])
        elif method == "PUT":
            await _put_manifest(exchange, match["ns"], match["model"], match["tag"])
        else:
            await _fail(exchange, 405, "UNSUPPORTED", "method not allowed")
    elif match["digest"] is not None:
        if method in ("GET", "HEAD"):
            await _get_blob(exchange, match["digest"])
        else:
            await _fail(exchange, 405, "UNSUPPORTED", "method not allowed")
    else:
        await _upload(exchange, match["ns"], match["model"], match["upload"] or "")


def _repo(exchange: Exchange, ns: str, model: str, tag: str) -> RegistryRepo | None:
    try:
        name = parse_model_name(f"{ns}/{model}:{tag}")
    except ModelNameError:
        return None
    return exchange.state.store.registry.get(repo_key(name))


async def _get_manifest(exchange: Exchange, ns: str, model: str, tag: str) -> None:
    if tag.startswith("sha256:"):
        repo = next(
            (r for r in exchange.state.store.registry.values() if sha256_digest(r.manifest) == tag),
            None,
        )
    else:
        repo = _repo(exchange, ns, model, tag)
    if repo is None:
        await _fail(exchange, 404, "MANIFEST_UNKNOWN", f"manifest unknown: {ns}/{model}:{tag}")
        return
    headers = [
        (b"docker-content-digest", sha256_digest(repo.manifest).encode()),
        (b"content-length", str(len(repo.manifest)).encode()),
    ]
    await exchange.response.start(200, MANIFEST_TYPE.encode(), headers)
    await exchange.response.finish(b"" if exchange.request.method == "HEAD" else repo.manifest)


async def _put_manifest(exchange: Exchange, ns: str, model: str, tag: str) -> None:
    state = exchange.state
    data = await exchange.request.body()
    try:
        doc = json.loads(data)
        layers: list[dict[str, Any]] = [doc["config"], *doc["layers"]]
        digests = [str(layer["digest"]) for layer in layers]
    except (ValueError, KeyError, TypeError):
        await _fail(exchange, 400, "MANIFEST_INVALID", "manifest invalid")
        return
    missing = [d for d in digests if d not in state.store.blobs]
    if missing:
        await _fail(
            exchange, 400, "MANIFEST_BLOB_UNKNOWN", f"blob unknown to registry: {missing[0]}"
        )
        return
    try:
        name = parse_model_name(f"{ns}/{model}:{tag}")
    except ModelNameError:
        await _fail(exchange, 400, "NAME_INVALID", "invalid repository name")
        return
    known = state.store.known_entry(name)
    try:
        entry = entry_from_manifest(name.display, data, state.store.blobs, known)
    except (ValueError, KeyError, TypeError):
        await _fail(exchange, 400, "MANIFEST_INVALID", "manifest invalid")
        return
    state.store.registry[repo_key(name)] = RegistryRepo(bytes(data), entry)
    digest = sha256_digest(data)
    headers = [
        (b"location", f"/v2/{ns}/{model}/manifests/{digest}".encode()),
        (b"docker-content-digest", digest.encode()),
    ]
    await exchange.response.full(201, b"", None, headers)


async def _get_blob(exchange: Exchange, digest: str) -> None:
    data = exchange.state.store.blobs.get(digest)
    if data is None:
        await _fail(exchange, 404, "BLOB_UNKNOWN", f"blob unknown to registry: {digest}")
        return
    size = len(data)
    headers = [(b"docker-content-digest", digest.encode()), (b"accept-ranges", b"bytes")]
    requested = exchange.request.headers.get("range")
    status, start, end = 200, 0, size - 1
    if requested:
        match = _RANGE.match(requested.strip())
        bounds = _range_bounds(match, size) if match else None
        if bounds is None:
            headers.append((b"content-range", f"bytes */{size}".encode()))
            await exchange.response.full(416, b"", None, headers)
            return
        status, (start, end) = 206, bounds
        headers.append((b"content-range", f"bytes {start}-{end}/{size}".encode()))
    body = data[start : end + 1]
    headers.append((b"content-length", str(len(body)).encode()))
    await exchange.response.start(status, b"application/octet-stream", headers)
    await exchange.response.finish(b"" if exchange.request.method == "HEAD" else body)


def _range_bounds(match: re.Match[str], size: int) -> tuple[int, int] | None:
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:  # suffix: the last N bytes
        count = int(last)
        if count == 0:
            return None
        return max(0, size - count), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        return None
    return start, min(end, size - 1)


async def _upload(exchange: Exchange, ns: str, model: str, upload: str) -> None:
    state = exchange.state
    method = exchange.request.method
    query = parse_qs(exchange.request.query.decode("latin-1"))
    base = f"/v2/{ns}/{model}/blobs/uploads/"
    if not upload:
        if method != "POST":
            await _fail(exchange, 405, "UNSUPPORTED", "method not allowed")
            return
        mount = (query.get("mount") or [""])[0]
        if mount and mount in state.store.blobs:  # cross-repository mount: already here
            await _created(exchange, ns, model, mount)
            return
        state.upload_counter += 1
        upload = f"{state.upload_counter:08x}-0000-4000-8000-{zlib.crc32(base.encode()):012x}"
        state.uploads[upload] = bytearray(await exchange.request.body())
        digest = (query.get("digest") or [""])[0]
        if digest:  # monolithic upload in one POST
            await _finish_upload(exchange, ns, model, upload, digest)
            return
        await _accepted(exchange, base + upload, upload)
        return
    buffer = state.uploads.get(upload)
    if buffer is None:
        await _fail(exchange, 404, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry")
        return
    if method == "PATCH":
        data = await exchange.request.body()
        # Ollama uploads a blob's parts in parallel, each with its Content-Range.
        match = re.match(
            r"^(?:bytes[ =])?(\d+)-(\d+)", exchange.request.headers.get("content-range", "")
        )
        start = int(match.group(1)) if match else len(buffer)
        if start > len(buffer):
            buffer.extend(bytes(start - len(buffer)))
        buffer[start : start + len(data)] = data
        await _accepted(exchange, base + upload, upload)
    elif method == "PUT":
        buffer.extend(await exchange.request.body())
        await _finish_upload(exchange, ns, model, upload, (query.get("digest") or [""])[0])
    elif method == "DELETE":
        del state.uploads[upload]
        await exchange.response.full(204, b"", None)
    elif method == "GET":
        await _accepted(exchange, base + upload, upload, status=204)
    else:
        await _fail(exchange, 405, "UNSUPPORTED", "method not allowed")


async def _accepted(exchange: Exchange, location: str, upload: str, status: int = 202) -> None:
    size = len(exchange.state.uploads[upload])
    headers = [
        (b"location", location.encode()),
        (b"docker-upload-uuid", upload.encode()),
        (b"range", f"0-{max(size - 1, 0)}".encode()),
    ]
    await exchange.response.full(status, b"", None, headers)


async def _finish_upload(exchange: Exchange, ns: str, model: str, upload: str, digest: str) -> None:
    state = exchange.state
    data = bytes(state.uploads.pop(upload))
    actual = sha256_digest(data)
    if digest != actual:
        await _fail(
            exchange,
            400,
            "DIGEST_INVALID",
            f"provided digest {digest!r} does not match content {actual}",
        )
        return
    state.store.blobs.put(data)
    await _created(exchange, ns, model, digest)


async def _created(exchange: Exchange, ns: str, model: str, digest: str) -> None:
    headers = [
        (b"location", f"/v2/{ns}/{model}/blobs/{digest}".encode()),
        (b"docker-content-digest", digest.encode()),
    ]
    await exchange.response.full(201, b"", None, headers)
