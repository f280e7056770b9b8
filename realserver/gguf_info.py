"""What a GGUF file says about its model: details, model_info, chat template.

``/api/show`` and ``/api/tags`` report these facts the way Ollama does: details
(format, family, parameter size, quantisation level) and ``model_info``, the GGUF
key/value pairs with the large tokenizer arrays left out unless ``verbose``.
Reading uses the ``gguf`` package's memory-mapped reader; results are cached per
file because a GGUF never changes under its content-addressed name. The cache keeps
at most :data:`CACHE_SIZE` files and never their vocabularies (the big tokenizer
arrays run to tens of megabytes as Python objects): a verbose ``model_info`` reads
them again from the file.
"""

from __future__ import annotations

import math
import mmap
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

# llama.cpp's LLAMA_FTYPE numbering (general.file_type), named as Ollama shows it.
FILE_TYPES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
}

# Arrays too large to print; Ollama shows them as null unless verbose.
_BIG_ARRAYS = ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.token_type")
_BIG_ARRAY_PREFIXES = ("tokenizer.ggml.scores",)


@dataclass(frozen=True)
class GGUFInfo:
    path: Path
    architecture: str
    file_type: str
    parameter_count: int
    metadata: dict[str, Any] = field(repr=False)
    tensor_bytes: int = 0
    tensors: list[dict[str, Any]] = field(repr=False, default_factory=list)

    def get(self, key: str, default: Any = None) -> Any:
        return self.metadata.get(key, default)

    def arch_key(self, suffix: str, default: Any = None) -> Any:
        return self.metadata.get(f"{self.architecture}.{suffix}", default)

    @property
    def context_length(self) -> int:
        return int(self.arch_key("context_length", 2048))

    @property
    def embedding_length(self) -> int:
        return int(self.arch_key("embedding_length", 0))

    @property
    def block_count(self) -> int:
        return int(self.arch_key("block_count", 0))

    @property
    def chat_template(self) -> str | None:
        value = self.metadata.get("tokenizer.chat_template")
        return str(value) if value else None

    @property
    def is_embedding_model(self) -> bool:
        # Encoder-only architectures carry a pooling type and no causal attention.
        return self.arch_key("pooling_type") is not None and self.architecture in (
            "bert",
            "nomic-bert",
            "jina-bert-v2",
            "nomic-bert-moe",
            "t5encoder",
        )

    @property
    def parameter_size(self) -> str:
        return human_number(self.parameter_count)

    def model_info(self, verbose: bool = False) -> dict[str, Any]:
        """GGUF keys as /api/show's ``model_info`` (general.parameter_count added)."""
        metadata = self.metadata
        if verbose and any(_is_big(key) and value is None for key, value in metadata.items()):
            metadata = _parse(self.path)[0]  # the vocabularies were left out of the cache
        out: dict[str, Any] = {}
        for key, value in metadata.items():
            if key.startswith("GGUF.") or key == "tokenizer.chat_template":
                continue
            out[key] = value if verbose or not _is_big(key) else None
        out["general.parameter_count"] = self.parameter_count
        return dict(sorted(out.items()))

    def details(self, parent: str = "") -> dict[str, Any]:
        return {
            "parent_model": parent,
            "format": "gguf",
            "family": self.architecture,
            "families": [self.architecture],
            "parameter_size": self.parameter_size,
            "quantization_level": self.file_type,
        }


def human_number(count: int) -> str:
    """Ollama's format.HumanNumber: 134515008 -> '134.52M', 7241732096 -> '7.2B'."""
    for limit, unit in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K")):
        if count >= limit:
            value = count / limit
            if value >= 100 or unit != "B":
                text = f"{value:.2f}".rstrip("0").rstrip(".")
            else:
                text = f"{value:.1f}".rstrip("0").rstrip(".")
            return f"{text}{unit}"
    return str(count)


_SCALARS = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9
_GGUF_MAGIC = b"GGUF"


class GGUFError(ValueError):
    """Not a GGUF file, or a truncated one."""


class _Cursor:
    """Sequential little-endian reads over a memory map of the file header."""

    def __init__(self, data: mmap.mmap) -> None:
        self.data = data
        self.pos = 0

    def scalar(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise GGUFError("truncated GGUF header")
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return value

    def string(self) -> str:
        length = self.scalar("<Q")
        raw = self.data[self.pos : self.pos + length]
        self.pos += length
        return raw.decode("utf-8", "replace")

    def value(self, kind: int) -> Any:
        if kind == _STRING:
            return self.string()
        if kind == _ARRAY:
            item_kind = self.scalar("<I")
            count = self.scalar("<Q")
            if item_kind in _SCALARS:
                fmt = _SCALARS[item_kind]
                size = struct.calcsize(fmt)
                values = list(struct.unpack_from(f"<{count}{fmt[1]}", self.data, self.pos))
                self.pos += size * count
                return values
            return [self.value(item_kind) for _ in range(count)]
        if kind not in _SCALARS:
            raise GGUFError(f"unknown GGUF value type {kind}")
        return self.scalar(_SCALARS[kind])


def _parse(path: Path) -> tuple[dict[str, Any], int, int, list[dict[str, Any]]]:
    """(metadata, parameter count, tensor bytes, tensors) from a GGUF v2/v3 header."""
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        cursor = _Cursor(data)
        if data[:4] != _GGUF_MAGIC:
            raise GGUFError(f"{path.name} is not a GGUF file")
        cursor.pos = 4
        version = cursor.scalar("<I")
        if version < 2:
            raise GGUFError(f"GGUF version {version} is not supported")
        tensor_count = cursor.scalar("<Q")
        kv_count = cursor.scalar("<Q")
        metadata: dict[str, Any] = {"GGUF.version": version}
        for _ in range(kv_count):
            key = cursor.string()
            metadata[key] = cursor.value(cursor.scalar("<I"))
        parameters = 0
        tensor_bytes = 0
        tensors: list[dict[str, Any]] = []
        for _ in range(tensor_count):
            name = cursor.string()
            dims = [cursor.scalar("<Q") for _ in range(cursor.scalar("<I"))]
            ggml_type = cursor.scalar("<I")
            cursor.scalar("<Q")  # offset
            elements = math.prod(dims)
            parameters += elements
            type_name = str(ggml_type)
            try:
                kind = GGMLQuantizationType(ggml_type)
                type_name = kind.name
                block, size = GGML_QUANT_SIZES[kind]
                tensor_bytes += elements // block * size
            except (ValueError, KeyError):
                pass
            tensors.append({"name": name, "type": type_name, "shape": dims})
    return metadata, parameters, tensor_bytes, tensors


def _is_big(key: str) -> bool:
    return key in _BIG_ARRAYS or key.startswith(_BIG_ARRAY_PREFIXES)


CACHE_SIZE = 64  # files; a store rarely holds more models than this
_cache: OrderedDict[tuple[str, int, float], GGUFInfo] = OrderedDict()
_cache_lock = threading.Lock()


def read_gguf(path: Path) -> GGUFInfo:
    """Parse a GGUF's header (cached by path, size and mtime)."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
    if cached is not None:
        return cached
    metadata, parameters, tensor_bytes, tensors = _parse(path)
    architecture = str(metadata.get("general.architecture", "unknown"))
    file_type = FILE_TYPES.get(int(metadata.get("general.file_type", -1)), "unknown")
    info = GGUFInfo(
        path=path,
        architecture=architecture,
        file_type=file_type,
        parameter_count=parameters,
        metadata=metadata,
        tensor_bytes=tensor_bytes,
        tensors=tensors,
    )
    # Callers keep what they are given (a catalog record holds it): hand out the small
    # copy too, so that no vocabulary outlives the request that read it.
    small = replace(info, metadata={k: None if _is_big(k) else v for k, v in metadata.items()})
    with _cache_lock:
        _cache[key] = small
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return small
