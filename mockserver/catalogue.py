"""The models the mock knows: installed ones and ones its registry can serve.

A catalogue file (YAML or JSON, ``--models``) has the shape ``{"models": [...]}``
with one :class:`ModelEntry` per model; ``installed: false`` puts a model only in
the mock's registry, so that ``/api/pull`` has something real to fetch. The
built-in catalogue covers every capability Ollama has (completion, tools, insert,
vision, embedding, thinking) and every model name the seed documents use.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ollama_harness.core.names import ModelNameError, parse_model_name

log = logging.getLogger("mockserver")

Capability = Literal["completion", "tools", "insert", "vision", "embedding", "thinking"]

_CHATML = (
    "{{- if .System }}<|im_start|>system\n{{ .System }}<|im_end|>\n{{ end }}"
    "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}"
    "<|im_start|>assistant\n"
)
_LLAMA3 = (
    "<|start_header_id|>system<|end_header_id|>\n\n{{ .System }}<|eot_id|>"
    "{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
    "{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n"
)
_FIM = "{{- if .Suffix }}<|fim_prefix|>{{ .Prompt }}<|fim_suffix|>{{ .Suffix }}<|fim_middle|>"
_APACHE = "Apache License\nVersion 2.0, January 2004\nhttp://www.apache.org/licenses/"
_LLAMA_LICENSE = (
    "LLAMA 3.2 COMMUNITY LICENSE AGREEMENT\nLlama 3.2 Version Release Date: September 25, 2024"
)


class Timing(BaseModel):
    """Per-model delays; unset fields fall back to the server settings."""

    model_config = ConfigDict(extra="forbid")
    ttft_ms: float | None = Field(default=None, ge=0)
    itl_ms: float | None = Field(default=None, ge=0)
    jitter_ms: float | None = Field(default=None, ge=0)


class ModelEntry(BaseModel):
    """One model: what /api/tags, /api/show and /api/ps say about it, and how it behaves."""

    model_config = ConfigDict(extra="forbid")

    name: str
    installed: bool = True
    family: str = "llama"
    families: list[str] | None = None
    format: str = "gguf"
    parameter_size: str = "1B"
    parameter_count: int = 1_000_000_000
    quantization_level: str = "Q4_K_M"
    context_length: int = Field(default=4096, ge=16)
    embedding_length: int = Field(
        default=2048, ge=8, description="hidden size = embedding dimension"
    )
    capabilities: list[Capability] = Field(default_factory=lambda: list[Capability](["completion"]))
    template: str = _CHATML
    system: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict)
    license: str = ""
    messages: list[dict[str, Any]] = Field(default_factory=list)
    model_info: dict[str, Any] = Field(default_factory=dict)
    tokens_per_second: float = Field(
        default=100.0, gt=0, description="nominal decode speed: the durations a fixed clock reports"
    )
    prompt_tokens_per_second: float = Field(default=1000.0, gt=0)
    load_ms: float = Field(default=250.0, ge=0, description="nominal load time on first use")
    vram_bytes: int | None = Field(default=None, description="size reported by /api/ps")
    timing: Timing = Field(default_factory=Timing)

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        try:
            return parse_model_name(value).display
        except ModelNameError:
            raise ValueError(f"{value!r} is not a valid model name") from None

    def all_families(self) -> list[str]:
        return self.families or [self.family]

    def full_model_info(self) -> dict[str, Any]:
        """GGUF-style metadata: general.* plus ``<arch>.*`` keys, then the entry's extras."""
        arch = self.family
        info: dict[str, Any] = {
            "general.architecture": arch,
            "general.basename": parse_model_name(self.name).model,
            "general.file_type": 15,
            "general.parameter_count": self.parameter_count,
            "general.quantization_version": 2,
            "general.size_label": self.parameter_size,
            "general.type": "model",
            f"{arch}.context_length": self.context_length,
            f"{arch}.embedding_length": self.embedding_length,
            f"{arch}.block_count": max(2, self.embedding_length // 64),
            f"{arch}.attention.head_count": max(1, self.embedding_length // 64),
            "tokenizer.ggml.model": "gpt2",
            "tokenizer.ggml.bos_token_id": 1,
            "tokenizer.ggml.eos_token_id": 2,
            "tokenizer.ggml.tokens": None,
            "tokenizer.ggml.token_type": None,
            "tokenizer.ggml.merges": None,
        }
        info.update(self.model_info)
        return info


class Catalogue(BaseModel):
    model_config = ConfigDict(extra="forbid")
    models: list[ModelEntry]


def _entry(**fields: Any) -> dict[str, Any]:
    return fields


DEFAULT_CATALOGUE: list[dict[str, Any]] = [
    _entry(
        name="smollm2:135m",
        family="llama",
        parameter_size="134.52M",
        parameter_count=134_515_008,
        quantization_level="F16",
        context_length=8192,
        embedding_length=576,
        capabilities=["completion", "tools"],
        template=_CHATML,
        system="You are a helpful AI assistant named SmolLM, trained by Hugging Face",
        parameters={"stop": ["<|im_start|>", "<|im_end|>"]},
        license=_APACHE,
        tokens_per_second=115.0,
        model_info={
            "general.basename": "smollm2",
            "general.organization": "HuggingFaceTB",
            "general.license": "apache-2.0",
            "llama.block_count": 30,
            "llama.attention.head_count": 9,
            "llama.attention.head_count_kv": 3,
            "llama.feed_forward_length": 1536,
            "llama.rope.freq_base": 100000,
            "llama.vocab_size": 49152,
        },
    ),
    _entry(
        name="llama3.2:latest",
        family="llama",
        parameter_size="3.2B",
        parameter_count=3_212_749_888,
        quantization_level="Q4_K_M",
        context_length=131072,
        embedding_length=3072,
        capabilities=["completion", "tools"],
        template=_LLAMA3,
        parameters={"stop": ["<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]},
        license=_LLAMA_LICENSE,
        tokens_per_second=45.0,
        model_info={"llama.block_count": 28, "llama.vocab_size": 128256},
    ),
    _entry(
        name="llama3:latest",
        family="llama",
        parameter_size="8.0B",
        parameter_count=8_030_261_248,
        quantization_level="Q4_0",
        context_length=8192,
        embedding_length=4096,
        capabilities=["completion"],
        template=_LLAMA3,
        parameters={"num_keep": 24, "stop": ["<|start_header_id|>", "<|eot_id|>"]},
        license="META LLAMA 3 COMMUNITY LICENSE AGREEMENT",
        tokens_per_second=20.0,
    ),
    _entry(
        name="llama2:latest",
        family="llama",
        parameter_size="7B",
        parameter_count=6_738_415_616,
        quantization_level="Q4_0",
        context_length=4096,
        embedding_length=4096,
        capabilities=["completion"],
        template="[INST] <<SYS>>{{ .System }}<</SYS>>\n\n{{ .Prompt }} [/INST]",
        parameters={"stop": ["[INST]", "[/INST]", "<<SYS>>", "<</SYS>>"]},
        license="LLAMA 2 COMMUNITY LICENSE AGREEMENT",
        tokens_per_second=22.0,
    ),
    _entry(
        name="qwen3:0.6b",
        family="qwen3",
        parameter_size="751.63M",
        parameter_count=751_632_384,
        quantization_level="Q4_K_M",
        context_length=40960,
        embedding_length=1024,
        capabilities=["completion", "tools", "thinking"],
        template=_CHATML + "<think>\n",
        parameters={"temperature": 0.6, "top_k": 20, "top_p": 0.95, "repeat_penalty": 1},
        license=_APACHE,
        tokens_per_second=90.0,
    ),
    _entry(
        name="llava:latest",
        family="llama",
        families=["llama", "clip"],
        parameter_size="7B",
        parameter_count=7_241_732_096,
        quantization_level="Q4_0",
        context_length=32768,
        embedding_length=4096,
        capabilities=["completion", "vision"],
        template="[INST] {{ if .System }}{{ .System }} {{ end }}{{ .Prompt }} [/INST]",
        parameters={"stop": ["[INST]", "[/INST]"]},
        license=_APACHE,
        tokens_per_second=20.0,
        model_info={"clip.vision.image_size": 336, "clip.vision.patch_size": 14},
    ),
    _entry(
        name="nomic-embed-text:latest",
        family="nomic-bert",
        parameter_size="137M",
        parameter_count=136_727_040,
        quantization_level="F16",
        context_length=2048,
        embedding_length=768,
        capabilities=["embedding"],
        template="{{ .Prompt }}",
        parameters={"num_ctx": 8192},
        license=_APACHE,
    ),
    _entry(
        name="qwen2.5-coder:0.5b",
        family="qwen2",
        parameter_size="494.03M",
        parameter_count=494_032_768,
        quantization_level="Q4_K_M",
        context_length=32768,
        embedding_length=896,
        capabilities=["completion", "tools", "insert"],
        template=_FIM + "{{- else }}" + _CHATML + "{{- end }}",
        system="You are Qwen, created by Alibaba Cloud. You are a helpful assistant.",
        license=_APACHE,
        tokens_per_second=80.0,
    ),
    # In the registry only: what `ollama pull` fetches in the seed documents.
    _entry(
        name="snowflake-arctic-embed:22m",
        installed=False,
        family="bert",
        parameter_size="21.78M",
        parameter_count=21_781_248,
        quantization_level="F16",
        context_length=512,
        embedding_length=384,
        capabilities=["embedding"],
        template="{{ .Prompt }}",
        license=_APACHE,
    ),
    _entry(
        name="qwen2.5-coder:7b",
        installed=False,
        family="qwen2",
        parameter_size="7.6B",
        parameter_count=7_615_616_512,
        quantization_level="Q4_K_M",
        context_length=32768,
        embedding_length=3584,
        capabilities=["completion", "tools", "insert"],
        template=_FIM + "{{- else }}" + _CHATML + "{{- end }}",
        license=_APACHE,
        tokens_per_second=18.0,
    ),
    _entry(
        name="qwen2.5:0.5b",
        installed=False,
        family="qwen2",
        parameter_size="494.03M",
        parameter_count=494_032_768,
        quantization_level="Q4_K_M",
        context_length=32768,
        embedding_length=896,
        capabilities=["completion", "tools"],
        license=_APACHE,
    ),
    _entry(
        name="deepseek-r1:8b",
        installed=False,
        family="qwen3",
        parameter_size="8.2B",
        parameter_count=8_190_735_360,
        quantization_level="Q4_K_M",
        context_length=131072,
        embedding_length=4096,
        capabilities=["completion", "thinking"],
        license="MIT License",
        tokens_per_second=18.0,
    ),
    _entry(
        name="llama3.2:8b-instruct-q4_K_M",
        installed=False,
        family="llama",
        parameter_size="8.0B",
        parameter_count=8_030_261_248,
        quantization_level="Q4_K_M",
        context_length=131072,
        embedding_length=4096,
        capabilities=["completion", "tools"],
        template=_LLAMA3,
        license=_LLAMA_LICENSE,
    ),
]


def default_catalogue() -> list[ModelEntry]:
    return [ModelEntry.model_validate(item) for item in DEFAULT_CATALOGUE]


def load_catalogue(path: str | Path | None) -> list[ModelEntry]:
    """The built-in catalogue, or the one in ``path`` (YAML or JSON; validated)."""
    if path is None:
        return default_catalogue()
    if Path(path).is_dir():
        # Real Ollama reads OLLAMA_MODELS as its model store directory; the mock has no
        # use for one, so such a value means "no catalogue file": say so, don't guess.
        log.warning(
            "OLLAMA_MODELS=%s is a directory, not a catalogue file: using the built-in catalogue",
            path,
        )
        return default_catalogue()
    text = Path(path).read_text(encoding="utf-8")
    data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    if isinstance(data, list):
        data = {"models": data}
    return Catalogue.model_validate(data).models


def dump_default_catalogue() -> str:
    """The built-in catalogue as YAML, a starting point for ``--models``."""
    models = [entry.model_dump(exclude_defaults=True) for entry in default_catalogue()]
    for raw, model in zip(DEFAULT_CATALOGUE, models, strict=True):
        model["name"] = raw["name"]
    return yaml.safe_dump({"models": models}, sort_keys=False, allow_unicode=True)
