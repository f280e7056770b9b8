"""``/api/create``: assemble a model from another model or from uploaded GGUF blobs.

Follows Ollama's ``server/create.go``. The base layers come from ``from`` (a
local model; a missing one is pulled first, as Ollama does) or from ``files``
(blobs uploaded with ``POST /api/blobs``, parsed as GGUF: weights, projector or
adapter by their metadata). ``adapters`` add LoRA layers, ``quantize`` runs
llama.cpp's quantiser on F16/F32 weights, then ``template``, ``system``,
``license``, ``parameters`` (merged over the base's) and ``messages`` become
layers of their own. Status lines, in Ollama's order::

    parsing GGUF / quantizing F16 model to Q4_K_M (digest "0", total, completed)
    using existing layer sha256:... | creating new layer sha256:...   (per layer)
    writing manifest
    success

The legacy ``modelfile`` (and ``path``) text is parsed with the core's
:mod:`ollama_harness.core.modelfile` into the same fields; explicit fields win.
The request is checked before the first line, so a bad request is a plain 400;
what goes wrong while building (an unreadable GGUF, weights that cannot be
quantised) is a 500, or an error line once lines were sent, as in Ollama where
``createModel``'s errors carry no status.
Blobs are written atomically; the manifest is written last, so a crash at any
point leaves either the old model or the new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import threading
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ollama_harness.core.errors import ApiError
from ollama_harness.core.modelfile import MISSING_FROM, ModelfileError, parse_modelfile
from ollama_harness.core.names import ModelName, ModelNameError, parse_model_name
from ollama_harness.core.protocol import messages, progress
from ollama_harness.realserver import store as st
from ollama_harness.realserver.blobs import LayerPins, parse_digest, release_pins, replace_manifest
from ollama_harness.realserver.gguf_info import GGUFError, GGUFInfo, read_gguf
from ollama_harness.realserver.gotemplate import Template, TemplateError
from ollama_harness.realserver.quantize import SOURCE_TYPES, QuantizeError, QuantizeJob, target_type
from ollama_harness.realserver.registry_client import PullContext, RegistryError, pull_model

QUANTIZE_INTERVAL = 0.25
_MODELFILE_LIMIT = 1 << 20
_BLOB_NAME = re.compile(r"^sha256-[0-9a-f]{64}$")


@dataclass
class CreateRequest:
    """The fields of one create, after the legacy forms were folded in."""

    name: ModelName
    from_: str | None = None
    files: dict[str, str] = field(default_factory=dict)  # relative name -> sha256:<hex>
    adapters: dict[str, str] = field(default_factory=dict)
    template: str | None = None
    system: str | None = None
    license: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    quantize: str | None = None  # Ollama's spelling, e.g. Q4_K_M


@dataclass
class CreateContext:
    pull: PullContext
    quantize_threads: int = 0

    @property
    def store(self) -> st.ModelStore:
        return self.pull.store


def valid_relative_path(text: str) -> bool:
    """Go's ``fs.ValidPath``: slash-separated, no empty, ``.`` or ``..`` element."""
    if text == ".":
        return True
    if not text or text.startswith("/") or "\\" in text or "\x00" in text:
        return False
    return all(part not in ("", ".", "..") for part in text.split("/"))


def _blob_digest_of_path(store: st.ModelStore, text: str) -> str | None:
    """``/…/models/blobs/sha256-<hex>`` (what /api/show prints as FROM) -> its digest."""
    path = Path(text).expanduser()
    if not path.is_absolute() or not _BLOB_NAME.match(path.name):
        return None
    try:
        if path.resolve().parent != store.blobs_dir.resolve():
            return None
    except OSError:
        return None
    return "sha256:" + path.name.removeprefix("sha256-")


def _looks_like_path(text: str) -> bool:
    return text.startswith(("/", "./", "../", "~")) or text.endswith((".gguf", ".bin"))


def build_request(store: st.ModelStore, name: ModelName, body: dict[str, Any]) -> CreateRequest:
    """Fold ``modelfile``/``path`` into the modern fields and check everything; 400s."""
    request = CreateRequest(name=name)
    text = body.get("modelfile")
    if not text and body.get("path"):
        text = _read_modelfile(str(body["path"]))
    if text:
        try:
            parsed = parse_modelfile(str(text))
        except ModelfileError as exc:
            raise ApiError(400, str(exc)) from None
        if parsed.from_ is None and not body.get("from") and not body.get("files"):
            raise ApiError(400, MISSING_FROM)
        _apply_modelfile_source(store, request, parsed.from_, parsed.adapters)
        request.template = parsed.template
        request.system = parsed.system
        request.license = list(parsed.license)
        request.parameters = dict(parsed.parameters)
        request.messages = [dict(m) for m in parsed.messages]
    if body.get("from"):
        request.from_ = str(body["from"])
        request.files = {}
    if body.get("files"):
        request.files = _checked_files(store, body["files"])
        if not body.get("from"):
            request.from_ = None
    if body.get("adapters"):
        request.adapters = _checked_files(store, body["adapters"])
    if body.get("template") is not None:
        request.template = str(body["template"])
    if body.get("system") is not None:
        request.system = str(body["system"])
    license_field = body.get("license")
    if isinstance(license_field, str) and license_field:
        request.license = [license_field]
    elif isinstance(license_field, list):
        request.license = [str(item) for item in license_field]
    if body.get("parameters"):
        request.parameters = {**request.parameters, **dict(body["parameters"])}
    if body.get("messages"):
        request.messages = [
            {"role": str(m.get("role", "")), "content": str(m.get("content", ""))}
            for m in body["messages"]
        ]
    quantize = body.get("quantize") or body.get("quantization")
    if quantize:
        try:
            request.quantize = target_type(str(quantize))
        except QuantizeError as exc:
            raise ApiError(400, str(exc)) from None
    if not request.from_ and not request.files:
        raise ApiError(400, "neither 'from' or 'files' was specified")
    if request.from_:
        source_blob = _blob_digest_of_path(store, request.from_)
        if source_blob is not None:
            _checked_files(store, {"model.gguf": source_blob})
        else:
            try:
                parse_model_name(request.from_)
            except ModelNameError:
                raise ApiError(400, messages.INVALID_MODEL_NAME) from None
    if request.template:
        try:
            Template(request.template)
        except TemplateError as exc:
            raise ApiError(400, f"template error: {exc}") from None
    return request


def _read_modelfile(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read(_MODELFILE_LIMIT)
    except (OSError, UnicodeDecodeError) as exc:
        raise ApiError(400, f"error reading modelfile: {exc}") from None


def _apply_modelfile_source(
    store: st.ModelStore, request: CreateRequest, source: str | None, adapters: list[str]
) -> None:
    """FROM and ADAPTER of a legacy Modelfile: a model name or a blob of this store."""
    if source:
        digest = _blob_digest_of_path(store, source)
        if digest is not None:
            request.files = _checked_files(store, {"model.gguf": digest})
        elif _looks_like_path(source):
            raise ApiError(
                400,
                f"FROM {source}: only model names and blobs of this server's store can be "
                "used; upload the file with POST /api/blobs and create with 'files'",
            )
        else:
            request.from_ = source
    for index, path in enumerate(adapters):
        digest = _blob_digest_of_path(store, path)
        if digest is None:
            raise ApiError(400, f"ADAPTER {path}: only blobs of this server's store can be used")
        request.adapters[f"adapter-{index}.gguf"] = digest


def _checked_files(store: st.ModelStore, files: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    for file_name, raw in dict(files).items():
        if not valid_relative_path(str(file_name)):
            raise ApiError(400, "file path must be relative")
        digest = parse_digest(str(raw))
        if not store.has_blob(digest):
            raise ApiError(400, f'blob "{digest}" not found: upload it with POST /api/blobs first')
        out[str(file_name)] = digest
    return out


# -- the pipeline ------------------------------------------------------------------------


@dataclass
class _Layer:
    layer: st.Layer
    created: bool
    gguf: GGUFInfo | None = None


def _media_type_of(info: GGUFInfo) -> str:
    kind = str(info.get("general.type", "model"))
    if kind == "adapter":
        return st.MEDIA_ADAPTER
    if kind == "projector" or info.architecture == "clip" or info.arch_key("vision.block_count"):
        return st.MEDIA_PROJECTOR
    return st.MEDIA_MODEL


def _parse_gguf(path: Path) -> GGUFInfo:
    with path.open("rb") as handle:
        if handle.read(4) != b"GGUF":
            raise GGUFError("invalid file magic")
    return read_gguf(path)


async def create_model(
    ctx: CreateContext, request: CreateRequest
) -> AsyncGenerator[dict[str, Any], None]:
    """Run one create; yields status lines, raises ApiError/RegistryError on failure."""
    store = ctx.store
    pins = ctx.pull.pins
    layers: list[_Layer] = []
    config: dict[str, Any] = {}
    held: list[str] = []
    succeeded = False
    try:
        files = dict(request.files)
        source_blob = _blob_digest_of_path(store, request.from_) if request.from_ else None
        if source_blob is not None:
            files = {"model.gguf": source_blob}
        elif request.from_:
            files = {}  # Ollama: 'from' wins over 'files'
            async for line in _from_model(ctx, request.from_, layers, config, held):
                yield line
        if files:
            yield progress.status(progress.PARSING_GGUF)
            for _file_name, file_digest in files.items():
                layers.append(await _gguf_layer(store, file_digest, held, pins))
        for _file_name, file_digest in request.adapters.items():
            adapter = await _gguf_layer(store, file_digest, held, pins)
            if adapter.layer.media_type != st.MEDIA_ADAPTER:
                raise ApiError(500, f"{file_digest} is not a LoRA adapter GGUF")
            layers.append(adapter)
        if request.quantize:
            async for line in _quantize(ctx, request.quantize, layers, held):
                yield line
        model = next((item for item in layers if item.layer.media_type == st.MEDIA_MODEL), None)
        if model is None:
            raise ApiError(500, "no model weights: 'from' or 'files' must include a GGUF model")
        info = model.gguf
        if info is not None:
            config.update(
                model_format="gguf",
                model_family=info.architecture,
                model_families=[info.architecture],
                model_type=info.parameter_size,
                file_type=info.file_type,
            )
        config.setdefault("architecture", "amd64")
        config.setdefault("os", "linux")
        await _text_layers(store, request, layers, held, pins)
        for item in layers:
            yield progress.status(progress.layer_written(item.layer.digest, created=item.created))
        config["rootfs"] = {"type": "layers", "diff_ids": [i.layer.digest for i in layers]}
        config_layer = await _write(
            store, pins, held, json.dumps(config).encode(), st.CONFIG_MEDIA_TYPE
        )
        manifest = st.Manifest(config=config_layer.layer, layers=tuple(i.layer for i in layers))
        yield progress.status(progress.WRITING_MANIFEST)
        try:
            await asyncio.to_thread(
                replace_manifest,
                store,
                pins,
                request.name,
                lambda: store.write_manifest(request.name, manifest),
            )
        except st.StoreError as exc:
            raise ApiError(500, str(exc)) from None
        succeeded = True
        yield progress.status(progress.SUCCESS)
    finally:
        await asyncio.to_thread(release_pins, store, pins, held)
        if not succeeded:
            # A failed create leaves no garbage: drop the blobs it wrote that nobody uses.
            mine = [item.layer.digest for item in layers if item.created]
            await asyncio.to_thread(store.remove_layers, mine, pins.snapshot())


async def _from_model(
    ctx: CreateContext,
    source: str,
    layers: list[_Layer],
    config: dict[str, Any],
    held: list[str],
) -> AsyncIterator[dict[str, Any]]:
    store = ctx.store
    base = parse_model_name(source)
    found = _pin_manifest(ctx, base, held)
    if found is None:
        # Ollama pulls a base it does not have.
        try:
            async for line in pull_model(ctx.pull, base):
                if line.get("status") != progress.SUCCESS:
                    yield line
        except RegistryError as exc:
            raise ApiError(500, str(exc)) from None
        found = _pin_manifest(ctx, base, held)
        if found is None:
            raise ApiError(404, messages.model_not_found(source))
    stored = found
    for layer in stored.manifest.layers:
        item = _Layer(
            st.Layer(layer.media_type, layer.digest, layer.size, stored.name.display), False
        )
        if layer.media_type == st.MEDIA_MODEL:
            with contextlib.suppress(GGUFError, OSError):
                # Unreadable weights keep the base's config; only quantize needs them.
                item.gguf = await asyncio.to_thread(read_gguf, store.blob_path(layer.digest))
        layers.append(item)
    try:
        base_config = json.loads(store.read_blob(stored.manifest.config.digest) or b"{}")
    except (OSError, ValueError):
        base_config = {}
    if isinstance(base_config, dict):
        config.update({k: v for k, v in base_config.items() if k != "rootfs"})
    config["parent_model"] = stored.name.display


def _pin_manifest(ctx: CreateContext, name: ModelName, held: list[str]) -> st.StoredModel | None:
    # Read and pin under the store lock: a delete cannot take the layers in between.
    with ctx.store.mutation():
        stored = ctx.store.get(name)
        if stored is None:
            return None
        for digest in stored.manifest.digests():
            held.append(digest)
            ctx.pull.pins.add(digest)
        return stored


async def _gguf_layer(
    store: st.ModelStore, digest: str, held: list[str], pins: LayerPins
) -> _Layer:
    held.append(digest)
    pins.add(digest)
    path = store.blob_path(digest)
    try:
        info = await asyncio.to_thread(_parse_gguf, path)
    except FileNotFoundError:
        raise ApiError(500, f'blob "{digest}" not found') from None
    except (GGUFError, OSError) as exc:
        raise ApiError(500, str(exc)) from None
    size = path.stat().st_size
    return _Layer(st.Layer(_media_type_of(info), digest, size), False, info)


async def _quantize(
    ctx: CreateContext, want: str, layers: list[_Layer], held: list[str]
) -> AsyncIterator[dict[str, Any]]:
    store = ctx.store
    index = next(
        (i for i, item in enumerate(layers) if item.layer.media_type == st.MEDIA_MODEL), -1
    )
    if index < 0:
        return
    item = layers[index]
    info = item.gguf
    if info is None:
        try:
            info = await asyncio.to_thread(read_gguf, store.blob_path(item.layer.digest))
        except (GGUFError, OSError) as exc:
            raise ApiError(500, f"cannot quantize: {exc}") from None
    have = info.file_type
    if have not in SOURCE_TYPES:
        raise ApiError(500, "quantization is only supported for F16 and F32 models")
    if have == want:
        return
    job = QuantizeJob(store, store.blob_path(item.layer.digest), want, ctx.quantize_threads)
    job.done = threading.Event()
    total = job.total
    status = f"quantizing {have} model to {want}"
    work = asyncio.ensure_future(asyncio.to_thread(job.run))
    try:
        while not work.done():
            yield {"status": status, "digest": "0", "total": total, "completed": job.completed()}
            await asyncio.wait([work], timeout=QUANTIZE_INTERVAL)
        try:
            layer = work.result()
        except QuantizeError as exc:
            raise ApiError(500, str(exc)) from None
    finally:
        if not work.done():
            # Cancelled (client gone): llama.cpp cannot be interrupted; let it finish.
            await asyncio.wait([work])
    held.append(layer.digest)
    ctx.pull.pins.add(layer.digest)
    yield {"status": status, "digest": "0", "total": total, "completed": total}
    new_info = await asyncio.to_thread(read_gguf, store.blob_path(layer.digest))
    layers[index] = _Layer(layer, job.created, new_info)


async def _write(
    store: st.ModelStore, pins: LayerPins, held: list[str], data: bytes, media_type: str
) -> _Layer:
    """Write a small blob, pinned before it exists: no removal can take it meanwhile."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    held.append(digest)
    pins.add(digest)

    def write() -> _Layer:
        with store.blob_writer() as writer:
            writer.write(data)
            layer = writer.commit()
        return _Layer(st.Layer(media_type, layer.digest, layer.size), writer.created)

    return await asyncio.to_thread(write)


def _replace(layers: list[_Layer], media_type: str, new: _Layer) -> None:
    layers[:] = [item for item in layers if item.layer.media_type != media_type]
    layers.append(new)


async def _text_layers(
    store: st.ModelStore,
    request: CreateRequest,
    layers: list[_Layer],
    held: list[str],
    pins: LayerPins,
) -> None:
    """template, system, license, parameters and messages, as Ollama's setX functions."""
    if request.template:
        new = await _write(store, pins, held, request.template.encode(), st.MEDIA_TEMPLATE)
        _replace(layers, st.MEDIA_TEMPLATE, new)
    if request.system:
        new = await _write(store, pins, held, request.system.encode(), st.MEDIA_SYSTEM)
        _replace(layers, st.MEDIA_SYSTEM, new)
    for text in request.license:
        if text:
            new = await _write(store, pins, held, text.encode(), st.MEDIA_LICENSE)
            layers.append(new)
    parameters = dict(request.parameters)
    for item in layers:
        if item.layer.media_type == st.MEDIA_PARAMS:
            try:
                base = json.loads(store.read_blob(item.layer.digest))
            except (OSError, ValueError):
                base = {}
            for key, value in (base if isinstance(base, dict) else {}).items():
                parameters.setdefault(key, value)
    if parameters:
        new = await _write(store, pins, held, json.dumps(parameters).encode(), st.MEDIA_PARAMS)
        _replace(layers, st.MEDIA_PARAMS, new)
    if request.messages:
        new = await _write(
            store, pins, held, json.dumps(request.messages).encode(), st.MEDIA_MESSAGES
        )
        _replace(layers, st.MEDIA_MESSAGES, new)
