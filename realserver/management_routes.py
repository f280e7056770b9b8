"""Model management routes: create, copy, delete, blobs, pull, push.

Mounted into the reference server's app with ``routes += management_routes(state)``.
Every body goes through the spec (``read_body``) before anything touches the disk,
and every name through the core's grammar before a path is built from it.

Progress operations (create, pull, push) are async generators of status lines.
The first line is awaited before the response starts, so an error found before
any work (a bad field, an unknown base model) is a plain JSON error with its
status, as in Ollama's ``streamResponse``; a later error becomes a final
``{"error": ...}`` line under status 200. With ``stream: false`` the last line is
the answer, or the error with its status (500 unless the error says otherwise).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ollama_harness.core.errors import ApiError
from ollama_harness.core.names import ModelName, ModelNameError, parse_model_name
from ollama_harness.core.protocol import messages, progress
from ollama_harness.realserver.blobs import (
    LayerPins,
    parse_digest,
    receive_blob,
    remove_layers,
    replace_manifest,
)
from ollama_harness.realserver.create import CreateContext, build_request, create_model
from ollama_harness.realserver.http import (
    NDJSON,
    JSONResponse,
    StreamResponse,
    dumps,
    error_response,
    read_body,
)
from ollama_harness.realserver.registry_client import (
    Downloads,
    PullContext,
    RegistryError,
    pull_model,
    push_model,
)
from ollama_harness.realserver.state import ServerState

log = logging.getLogger("realserver.management")


@dataclass
class Management:
    """What the management routes share: the server state, pins and downloads."""

    state: ServerState
    pins: LayerPins
    downloads: Downloads

    @classmethod
    def for_state(cls, state: ServerState) -> Management:
        downloads = Downloads(state.store)
        downloads.clean()
        return cls(state=state, pins=LayerPins(), downloads=downloads)

    @property
    def mirror(self) -> str:
        return self.state.settings.registry_mirror

    def pull_context(self) -> PullContext:
        return PullContext(self.state.store, self.downloads, self.pins, self.mirror)

    # -- helpers ---------------------------------------------------------------------
    def _name(self, body: dict[str, Any]) -> tuple[str, ModelName]:
        text = str(body.get("model") or body.get("name") or "")
        try:
            return text, parse_model_name(text)
        except ModelNameError:
            raise ApiError(400, messages.INVALID_MODEL_NAME) from None

    def _existing(self, name: ModelName) -> ModelName:
        """The stored spelling of a name (lookups ignore case), else the name itself."""
        stored = self.state.store.get(name)
        return stored.name if stored is not None else name

    # -- routes ----------------------------------------------------------------------
    async def create(self, request: Request) -> Response | StreamResponse:
        state = self.state
        body = await read_body(request, "create", state.spec)
        _, name = self._name(body)
        plan = await asyncio.to_thread(build_request, state.store, name, body)
        context = CreateContext(self.pull_context(), quantize_threads=state.settings.num_thread)
        return await progress_response(create_model(context, plan), body.get("stream", True))

    async def pull(self, request: Request) -> Response | StreamResponse:
        body = await read_body(request, "pull", self.state.spec)
        _, name = self._name(body)
        events = pull_model(self.pull_context(), self._existing(name), bool(body.get("insecure")))
        return await progress_response(events, body.get("stream", True))

    async def push(self, request: Request) -> Response | StreamResponse:
        body = await read_body(request, "push", self.state.spec)
        text, name = self._name(body)
        if not text:
            raise ApiError(400, messages.MODEL_REQUIRED)
        events = push_model(
            self.state.store, self._existing(name), bool(body.get("insecure")), self.mirror
        )
        return await progress_response(events, body.get("stream", True))

    async def copy(self, request: Request) -> Response:
        store = self.state.store
        body = await read_body(request, "copy", self.state.spec)
        source, destination = str(body.get("source", "")), str(body.get("destination", ""))
        try:
            src = parse_model_name(source)
        except ModelNameError:
            raise ApiError(400, f'source "{source}" is invalid') from None
        try:
            dst = parse_model_name(destination)
        except ModelNameError:
            raise ApiError(400, f'destination "{destination}" is invalid') from None

        def copy() -> bool:
            with store.mutation():
                found = store.manifest_bytes(src)
                if found is None:
                    return False
                raw = found[1]
                replace_manifest(
                    store, self.pins, dst, lambda: store.write_manifest_bytes(dst, raw)
                )
                return True

        if not await asyncio.to_thread(copy):
            raise ApiError(404, messages.copy_source_not_found(source))
        return Response(status_code=200)

    async def delete(self, request: Request) -> Response:
        state = self.state
        body = await read_body(request, "delete", state.spec)
        text = str(body.get("model") or body.get("name") or "")
        try:
            name = parse_model_name(text)
        except ModelNameError:
            raise ApiError(400, f'name "{text}" is invalid') from None
        record = await asyncio.to_thread(state.catalog.resolve, name)
        if record is not None:
            await state.scheduler.unload(record)
        existed, manifest = await asyncio.to_thread(state.store.remove_manifest, name)
        if not existed:
            raise ApiError(404, messages.model_not_found(text))
        if manifest is not None:
            await asyncio.to_thread(remove_layers, state.store, self.pins, manifest.digests())
        return Response(status_code=200)

    async def blob(self, request: Request) -> Response:
        raw = request.path_params["digest"]
        if request.method == "HEAD":
            try:
                digest = parse_digest(raw)
            except ApiError:
                return Response(status_code=400)
            return Response(status_code=200 if self.state.store.has_blob(digest) else 404)
        status = await receive_blob(self.state.store, raw, request.stream())
        return Response(status_code=status)

    def routes(self) -> list[Route]:
        return [
            Route("/api/create", self.create, methods=["POST"]),
            Route("/api/copy", self.copy, methods=["POST"]),
            Route("/api/delete", self.delete, methods=["DELETE"]),
            Route("/api/pull", self.pull, methods=["POST"]),
            Route("/api/push", self.push, methods=["POST"]),
            Route("/api/blobs/{digest}", self.blob, methods=["HEAD", "POST"]),
        ]


def management_routes(state: ServerState) -> list[Route]:
    """The routes of this module, bound to one server's state."""
    return Management.for_state(state).routes()


def _error_of(exc: BaseException) -> ApiError:
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, RegistryError):
        return ApiError(500, str(exc))
    log.exception("management operation failed", exc_info=exc)
    return ApiError(500, str(exc) or type(exc).__name__)


async def progress_response(
    events: AsyncGenerator[dict[str, Any], None], stream: Any
) -> Response | StreamResponse:
    """Status lines as NDJSON (or the last one as JSON), with Ollama's error framing."""
    try:
        first = await anext(events)
    except StopAsyncIteration:
        return JSONResponse(progress.status(progress.SUCCESS))
    except Exception as exc:
        return error_response(_error_of(exc))
    if stream is False:
        last = first
        try:
            async for line in events:
                last = line
        except Exception as exc:
            return error_response(_error_of(exc))
        return JSONResponse(last)

    async def lines() -> AsyncIterator[bytes]:
        try:
            yield dumps(first) + b"\n"
            async for line in events:
                yield dumps(line) + b"\n"
        except Exception as exc:
            yield dumps(_error_of(exc).body()) + b"\n"
        finally:
            # The client may have gone: release pins and downloads now, not at GC.
            await events.aclose()

    return StreamResponse(lines(), NDJSON)
