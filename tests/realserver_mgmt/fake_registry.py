"""A small registry whose behaviour tests control: slow, flaky, counted.

Serves manifests and blobs from dictionaries over the registry routes Ollama
pulls from, records every request (method, path, ``Range``), and can stream
slowly (so that two pulls overlap), drop the connection after some bytes of a
blob (so that a pull must resume), or serve bytes that do not match the digest.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class FakeRegistry:
    manifests: dict[str, bytes] = field(default_factory=dict)  # "ns/model:tag" -> bytes
    blobs: dict[str, bytes] = field(default_factory=dict)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, range
    chunk: int = 64 * 1024
    delay: float = 0.0  # seconds between chunks
    drop_after: dict[str, int] = field(default_factory=dict)  # digest -> bytes, once
    corrupt: set[str] = field(default_factory=set)

    def add_model(self, repo: str, layers: list[tuple[str, bytes]]) -> bytes:
        """Store a model (media type, content) and return its manifest bytes."""
        entries = []
        for media_type, data in layers:
            self.blobs[digest_of(data)] = data
            entries.append({"mediaType": media_type, "digest": digest_of(data), "size": len(data)})
        config = json.dumps({"model_format": "gguf", "rootfs": {"type": "layers"}}).encode()
        self.blobs[digest_of(config)] = config
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": MANIFEST_TYPE,
                "config": {
                    "mediaType": "application/vnd.docker.container.image.v1+json",
                    "digest": digest_of(config),
                    "size": len(config),
                },
                "layers": entries,
            }
        ).encode()
        self.manifests[repo] = manifest
        return manifest

    def gets(self, digest: str) -> list[str]:
        """The Range header of every GET of a blob ('' when none)."""
        return [r for m, p, r in self.requests if m == "GET" and p.endswith(digest)]

    def app(self) -> Starlette:
        async def manifest(request: Request) -> Response:
            p = request.path_params
            self.requests.append((request.method, request.url.path, ""))
            data = self.manifests.get(f"{p['ns']}/{p['model']}:{p['tag']}")
            if data is None:
                body = {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}
                return Response(json.dumps(body), 404, media_type="application/json")
            return Response(data, media_type=MANIFEST_TYPE)

        async def blob(request: Request) -> Response:
            digest = request.path_params["digest"]
            requested = request.headers.get("range", "")
            self.requests.append((request.method, request.url.path, requested))
            data = self.blobs.get(digest)
            if data is None:
                return Response(status_code=404)
            if digest in self.corrupt:
                data = bytes(b ^ 0xFF for b in data)
            start = int(requested.removeprefix("bytes=").split("-")[0]) if requested else 0
            body = data[start:]
            headers = {"content-length": str(len(body)), "accept-ranges": "bytes"}
            status = 200
            if requested:
                status = 206
                headers["content-range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
            drop = self.drop_after.pop(digest, None)

            async def stream() -> AsyncIterator[bytes]:
                sent = 0
                for offset in range(0, len(body), self.chunk):
                    piece = body[offset : offset + self.chunk]
                    if drop is not None and sent + len(piece) > drop:
                        yield piece[: drop - sent]
                        raise ConnectionResetError("registry dropped the connection")
                    sent += len(piece)
                    yield piece
                    if self.delay:
                        await asyncio.sleep(self.delay)

            return StreamingResponse(stream(), status, headers=headers)

        return Starlette(
            routes=[
                Route("/v2/{ns}/{model}/manifests/{tag}", manifest, methods=["GET", "HEAD"]),
                Route("/v2/{ns}/{model}/blobs/{digest}", blob, methods=["GET", "HEAD"]),
            ]
        )
