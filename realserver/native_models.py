"""``/``, ``/api/version``, ``/api/tags``, ``/api/show`` and ``/api/ps``."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from ollama_harness.core.errors import ApiError
from ollama_harness.core.protocol import messages
from ollama_harness.realserver.catalog import ModelRecord
from ollama_harness.realserver.http import JSONResponse, read_body, timestamp
from ollama_harness.realserver.state import ServerState

#: The Ollama API level this server implements (clients gate features on it).
OLLAMA_VERSION = "0.12.10"


async def root(request: Request) -> Response:
    return PlainTextResponse("Ollama is running")


async def version(request: Request) -> Response:
    return JSONResponse({"version": OLLAMA_VERSION})


def _summary(state: ServerState, record: ModelRecord) -> dict[str, Any]:
    return {
        "name": record.name.display,
        "model": record.name.display,
        "modified_at": timestamp(record.stored.modified_at),
        "size": record.size,
        "digest": record.digest,
        "details": record.details(),
    }


async def tags(request: Request) -> Response:
    state: ServerState = request.app.state.server
    models = []
    for stored in state.store.list_models():
        record = state.catalog.resolve(stored.name)
        if record is not None:  # a manifest whose blobs are missing is not usable
            models.append(_summary(state, record))
    return JSONResponse({"models": models})


async def show(request: Request) -> Response:
    state: ServerState = request.app.state.server
    body = await read_body(request, "show", state.spec)
    model = body.get("model") or body.get("name") or ""
    if not model:
        raise ApiError(400, messages.MODEL_REQUIRED)
    # Off the event loop: resolving reads the store and parses GGUF metadata.
    record = await asyncio.to_thread(state.lookup, model, messages.model_not_found(model))
    verbose = bool(body.get("verbose"))
    out: dict[str, Any] = {}
    if record.license:
        out["license"] = "\n".join(record.license)
    out["modelfile"] = record.modelfile()
    if record.parameters:
        out["parameters"] = record.parameters_text()
    if record.template and record.template_source != "none":
        out["template"] = record.template
    elif record.jinja_template:
        out["template"] = record.jinja_template
    if record.system:
        out["system"] = record.system
    out["details"] = record.details()
    if record.messages:
        out["messages"] = record.messages
    out["model_info"] = record.gguf.model_info(verbose)
    if verbose:
        out["tensors"] = record.gguf.tensors
    out["capabilities"] = record.capabilities
    out["modified_at"] = timestamp(record.stored.modified_at)
    return JSONResponse(out)


async def ps(request: Request) -> Response:
    state: ServerState = request.app.state.server
    models = []
    for runner in state.scheduler.running():
        record = runner.record
        size, size_vram = runner.memory()
        models.append(
            {
                "name": record.name.display,
                "model": record.name.display,
                "size": size,
                "digest": record.digest,
                "details": record.details(),
                "expires_at": timestamp(runner.expires_at),
                "size_vram": size_vram,
                "context_length": runner.load.num_ctx,
            }
        )
    return JSONResponse({"models": models})
