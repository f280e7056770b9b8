"""Model management: tags, show, create, copy, delete, blobs, ps, version, pull, push."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import Any

import orjson

from ollama_harness.core.errors import ApiError
from ollama_harness.core.protocol import framing, messages, progress

from . import modelfile
from .catalogue import ModelEntry
from .exchange import Exchange
from .faults import MID_STREAM_MESSAGE, DroppedConnectionError
from .http import JSON_TYPE, NDJSON_TYPE, TEXT_TYPE, until_disconnect
from .state import MockState, parse_name
from .store import InstalledModel, entry_from_manifest, manifest_layers, repo_key, sha256_digest

DIGEST_RE = re.compile(r"^sha256[:-][0-9a-f]{64}$")
_QUANTIZE = {"q4_k_m": "Q4_K_M", "q4_k_s": "Q4_K_S", "q8_0": "Q8_0"}
Line = dict[str, Any]


class StreamFailedError(Exception):
    """An error met after a progress stream started: sent as its last line."""


# -- simple reads -------------------------------------------------------------------


async def root(exchange: Exchange) -> None:
    body = b"" if exchange.request.method == "HEAD" else b"Ollama is running"
    await exchange.response.start(
        200, TEXT_TYPE, [(b"content-length", str(len(b"Ollama is running")).encode())]
    )
    await exchange.response.finish(body)


async def _json_or_head(exchange: Exchange, payload: Any) -> None:
    data = orjson.dumps(payload)
    if exchange.request.method == "HEAD":
        await exchange.response.start(
            200, JSON_TYPE, [(b"content-length", str(len(data)).encode())]
        )
        await exchange.response.finish()
    else:
        await exchange.response.full(200, data)


async def version(exchange: Exchange) -> None:
    await _json_or_head(exchange, {"version": exchange.state.settings.report_version})


def _listing_item(model: InstalledModel, state: MockState) -> Line:
    from .clock import rfc3339

    return {
        "name": model.name.display,
        "model": model.name.display,
        "modified_at": rfc3339(model.modified_at),
        "size": model.size,
        "digest": model.digest,
        "details": model.details(),
    }


async def tags(exchange: Exchange) -> None:
    state = exchange.state
    await _json_or_head(
        exchange, {"models": [_listing_item(m, state) for m in state.store.listing()]}
    )


async def ps(exchange: Exchange) -> None:
    await exchange.response.json(200, {"models": exchange.state.scheduler.running()})


def _name_of(body: dict[str, Any]) -> str:
    value = body.get("model") or body.get("name") or ""
    return value if isinstance(value, str) else ""


async def show(exchange: Exchange) -> None:
    from .clock import rfc3339

    state = exchange.state
    body = state.parse(await exchange.request.body(), "show")
    name = _name_of(body)
    if not name:
        raise ApiError(400, messages.MODEL_REQUIRED)
    parse_name(name)
    model = state.require(name, messages.model_not_found(name))
    await exchange.preflight(name)
    entry = model.entry
    info = entry.full_model_info()
    if body.get("verbose"):
        vocab = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "the", " a"]
        info["tokenizer.ggml.tokens"] = vocab
        info["tokenizer.ggml.token_type"] = [3, 3, 3, 1, 1]
        info["tokenizer.ggml.merges"] = ["t h", "th e"]
    answer: Line = {
        "license": entry.license,
        "modelfile": modelfile.render(model.name.display, entry, model.weights_digest),
        "parameters": modelfile.parameters_text(entry.parameters),
        "template": entry.template,
        "system": body.get("system") or entry.system,
        "details": model.details(),
        "model_info": info,
        "capabilities": list(entry.capabilities),
        "modified_at": rfc3339(model.modified_at),
    }
    if entry.messages:
        answer["messages"] = entry.messages
    for key in ("license", "parameters", "template", "system"):
        if not answer[key]:
            del answer[key]
    await exchange.response.json(200, answer)


# -- copy / delete ------------------------------------------------------------------


async def copy(exchange: Exchange) -> None:
    state = exchange.state
    body = state.parse(await exchange.request.body(), "copy")
    source, destination = body.get("source") or "", body.get("destination") or ""
    if not source or not destination:
        raise ApiError(400, "source and destination are required")
    parse_name(source, f'source "{source}" is invalid')
    target = parse_name(destination, f'destination "{destination}" is invalid')
    model = state.require(source, messages.copy_source_not_found(source))
    await exchange.preflight(source)
    state.store.install(target, model.entry, model.manifest, state.clock.now())
    await exchange.response.full(200, b"", None)


async def delete(exchange: Exchange) -> None:
    state = exchange.state
    body = state.parse(await exchange.request.body(), "delete")
    name = _name_of(body)
    if not name:
        raise ApiError(400, messages.MODEL_REQUIRED)
    parsed = parse_name(name, f'name "{name}" is invalid')
    model = state.store.get(parsed)
    if model is None:
        raise ApiError(404, messages.model_not_found(name))
    await exchange.preflight(name)
    state.scheduler.unload(model)
    state.store.remove(parsed)
    await exchange.response.full(200, b"", None)


# -- blobs --------------------------------------------------------------------------


def _digest_from_path(path: str) -> str:
    return path.rsplit("/", 1)[-1]


async def head_blob(exchange: Exchange) -> None:
    digest = _digest_from_path(exchange.request.path)
    status = (
        400 if not DIGEST_RE.match(digest) else 200 if digest in exchange.state.store.blobs else 404
    )
    await exchange.response.full(status, b"", None)


async def create_blob(exchange: Exchange) -> None:
    state = exchange.state
    digest = _digest_from_path(exchange.request.path)
    if not DIGEST_RE.match(digest):
        raise ApiError(400, "invalid digest format")
    data = await exchange.request.body()
    if digest in state.store.blobs:
        await exchange.response.full(200, b"", None)
        return
    actual = sha256_digest(data)
    expected = digest.replace("sha256-", "sha256:", 1)
    if actual != expected:
        raise ApiError(400, f'digest mismatch, expected "{expected}", got "{actual}"')
    state.store.blobs.put(data)
    await exchange.response.full(201, b"", None)


# -- progress streams (create, pull, push) ------------------------------------------


async def _progress(exchange: Exchange, body: dict[str, Any], lines: Iterator[Line]) -> None:
    """Stream status lines (or answer once with the last); faults count lines as tokens."""
    response = exchange.response
    fault = exchange.fault
    stream = body.get("stream", True) is not False

    async def work() -> None:
        if stream:
            await response.start(200, NDJSON_TYPE)
        last: Line = {}
        try:
            for index, line in enumerate(lines):
                if fault.drop_after is not None and index >= fault.drop_after:
                    raise DroppedConnectionError(f"fault injected: drop-after={fault.drop_after}")
                if fault.error_after is not None and index >= fault.error_after:
                    raise StreamFailedError(fault.message or MID_STREAM_MESSAGE)
                if stream:
                    await response.chunk(framing.ndjson_line(line))
                last = line
        except StreamFailedError as exc:
            if stream:
                await response.finish(framing.error_line(str(exc)))
                return
            raise ApiError(500, str(exc)) from None
        if stream:
            await response.finish()
        else:
            await response.json(200, last)

    await until_disconnect(exchange.request.receive, work())


def _layer_progress(verb: str, layer: Line, have: bool) -> Iterator[Line]:
    digest, total = str(layer["digest"]), int(layer["size"])
    status = progress.layer_transfer(verb, digest)
    if have or total == 0:
        yield {"status": status, "digest": digest, "total": total, "completed": total}
        return
    step = max(1, total // 4)
    for done in range(0, total, step):
        yield {"status": status, "digest": digest, "total": total, "completed": done}
    yield {"status": status, "digest": digest, "total": total, "completed": total}


def _local_digests(state: MockState) -> set[str]:
    return {
        str(layer["digest"])
        for model in state.store.models.values()
        for layer in manifest_layers(model.manifest)
    }


def _pull_lines(state: MockState, raw_name: str) -> Iterator[Line]:
    name = parse_name(raw_name)
    yield progress.status(progress.PULLING_MANIFEST)
    repo = state.store.registry.get(repo_key(name))
    if repo is None:
        raise StreamFailedError(progress.pull_manifest_failed("file does not exist"))
    have = _local_digests(state)
    layers = manifest_layers(repo.manifest)
    for layer in [*layers[1:], layers[0]]:  # weights and text layers, then the config
        yield from _layer_progress("pulling", layer, str(layer["digest"]) in have)
    yield progress.status(progress.VERIFYING_DIGEST)
    yield progress.status(progress.WRITING_MANIFEST)
    entry = repo.entry or entry_from_manifest(name.display, repo.manifest, state.store.blobs, None)
    state.store.install(name, entry, repo.manifest, state.clock.now())
    yield progress.status(progress.REMOVING_UNUSED_LAYERS)
    yield progress.status(progress.SUCCESS)


async def pull(exchange: Exchange) -> None:
    state = exchange.state
    body = state.parse(await exchange.request.body(), "pull")
    name = _name_of(body)
    parse_name(name)
    await exchange.preflight(name)
    await _progress(exchange, body, _pull_lines(state, name))


def _push_lines(state: MockState, raw_name: str) -> Iterator[Line]:
    name = parse_name(raw_name)
    yield progress.status(progress.RETRIEVING_MANIFEST)
    model = state.store.get(name)
    if model is None:
        raise StreamFailedError(f"open {name.display}: file does not exist")
    existing = state.store.registry.get(repo_key(name))
    already = (
        {str(layer["digest"]) for layer in manifest_layers(existing.manifest)}
        if existing
        else set()
    )
    for layer in manifest_layers(model.manifest):
        yield from _layer_progress("pushing", layer, str(layer["digest"]) in already)
    yield progress.status(progress.PUSHING_MANIFEST)
    from .store import RegistryRepo

    state.store.registry[repo_key(name)] = RegistryRepo(model.manifest, model.entry)
    yield progress.status(progress.SUCCESS)


async def push(exchange: Exchange) -> None:
    state = exchange.state
    body = state.parse(await exchange.request.body(), "push")
    name = _name_of(body)
    if not name:
        raise ApiError(400, messages.MODEL_REQUIRED)
    parse_name(name)
    await exchange.preflight(name)
    await _progress(exchange, body, _push_lines(state, name))


# -- create -------------------------------------------------------------------------


def _relative(path: str) -> bool:
    pure = PurePosixPath(path.replace("\\", "/"))
    return (
        bool(path)
        and not pure.is_absolute()
        and ".." not in pure.parts
        and not re.match(r"^[A-Za-z]:", path)
    )


def _create_plan(
    state: MockState, body: dict[str, Any]
) -> tuple[InstalledModel | None, str | None, bytes | None, dict[str, Any]]:
    """Check a create request before streaming.

    Returns the base model, the name to pull first (a base not installed), the
    weights from ``files``, and the fields that override the base.
    """
    overrides: dict[str, Any] = {}
    base_name = body.get("from")
    if body.get("modelfile"):
        parsed = modelfile.parse(str(body["modelfile"]))
        base_name = base_name or parsed.from_
        if parsed.template is not None:
            overrides["template"] = parsed.template
        if parsed.system is not None:
            overrides["system"] = parsed.system
        if parsed.license:
            overrides["license"] = "\n".join(parsed.license)
        if parsed.parameters:
            overrides["parameters"] = parsed.parameters
        if parsed.messages:
            overrides["messages"] = parsed.messages
    for key in ("template", "system", "messages"):
        if body.get(key) is not None:
            overrides[key] = body[key]
    if body.get("license") is not None:
        lic = body["license"]
        overrides["license"] = "\n".join(lic) if isinstance(lic, list) else lic
    if body.get("parameters"):
        overrides["parameters"] = {**overrides.get("parameters", {}), **body["parameters"]}
    files: dict[str, str] = body.get("files") or {}
    adapters: dict[str, str] = body.get("adapters") or {}
    if not base_name and not files:
        raise ApiError(400, "neither 'from' or 'files' was specified")
    weights: bytes | None = None
    for path, digest in [*files.items(), *adapters.items()]:
        if not _relative(path):
            raise ApiError(400, "file path must be relative")
        data = state.store.blobs.get(digest)
        if data is None:
            raise ApiError(400, f"{digest.replace(':', '-')}: no such file or directory")
        if path in files and weights is None and not path.endswith((".json", ".txt", ".model")):
            weights = data
    base: InstalledModel | None = None
    pull_first: str | None = None
    if base_name and weights is None:
        if PurePosixPath(str(base_name)).suffix in (".gguf", ".bin", ".safetensors") or str(
            base_name
        ).startswith(("/", ".", "~")):
            raise ApiError(400, f"{base_name}: no such file or directory")
        base = state.lookup(str(base_name))
        if base is None:
            pull_first = str(parse_name(str(base_name)).display)
    quantize = body.get("quantize") or body.get("quantization")
    if quantize:
        level = _QUANTIZE.get(str(quantize).lower())
        if level is None:
            raise ApiError(400, f"unsupported quantization type {quantize}")
        overrides["quantization_level"] = level
    return base, pull_first, weights, overrides


def _create_lines(
    state: MockState,
    raw_name: str,
    *,
    base: InstalledModel | None,
    pull_first: str | None,
    weights: bytes | None,
    overrides: dict[str, Any],
) -> Iterator[Line]:
    from .store import build_manifest, weights_blob

    name = parse_name(raw_name)
    if pull_first is not None:
        yield from (
            line
            for line in _pull_lines(state, pull_first)
            if line.get("status") != progress.SUCCESS
        )
        base = state.lookup(pull_first)
        if base is None:
            raise StreamFailedError(progress.pull_manifest_failed("file does not exist"))
    if base is not None:
        entry = base.entry
        base_weights = state.store.blobs.get(base.weights_digest) or b""
    else:
        yield progress.status(progress.PARSING_GGUF)
        entry = ModelEntry(name=name.display, template="{{ .Prompt }}")
        base_weights = weights or b""
    level = overrides.get("quantization_level")
    if level is not None:
        source = entry.quantization_level.upper()
        if source not in ("F16", "F32", "BF16"):
            raise StreamFailedError("quantization is only supported for F16 and F32 models")
        total = len(base_weights)
        yield {
            "status": f"quantizing {source} model to {level}",
            "digest": "0",
            "total": total,
            "completed": total,
        }
        base_weights = weights_blob(f"{name.display}:{level}", max(64, len(base_weights) // 2))
    entry = entry.model_copy(update={**overrides, "name": name.display, "installed": True})
    before = set(state.store.blobs._blobs)
    manifest = build_manifest(entry, state.store.blobs, base_weights)
    for layer in manifest_layers(manifest)[1:]:
        digest = str(layer["digest"])
        yield progress.status(progress.layer_written(digest, created=digest not in before))
    yield progress.status(progress.WRITING_MANIFEST)
    state.store.install(name, entry, manifest, state.clock.now())
    yield progress.status(progress.SUCCESS)


async def create(exchange: Exchange) -> None:
    state = exchange.state
    body = state.parse(await exchange.request.body(), "create")
    name = _name_of(body)
    parse_name(name)
    base, pull_first, weights, overrides = _create_plan(state, body)
    await exchange.preflight(name)
    await _progress(
        exchange,
        body,
        _create_lines(
            state,
            name,
            base=base,
            pull_first=pull_first,
            weights=weights,
            overrides=overrides,
        ),
    )
