"""Ollama's runtime options, split the way llama.cpp needs them.

Load options (context size, batch, GPU layers, threads, mmap) fix how a model is
loaded: a request that asks for different ones reloads the model, as Ollama does.
Sampling options apply per request. The order of precedence is Ollama's:
built-in defaults, then the model's PARAMETER lines (the params layer), then the
request's ``options``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import Any

# Ollama's api.DefaultOptions().
DEFAULTS: dict[str, Any] = {
    "num_ctx": 4096,
    "num_batch": 512,
    "num_gpu": -1,
    "main_gpu": 0,
    "num_thread": 0,
    "use_mmap": True,
    "seed": -1,
    "num_predict": -1,
    "num_keep": 4,
    "top_k": 40,
    "top_p": 0.9,
    "min_p": 0.0,
    "typical_p": 1.0,
    "repeat_last_n": 64,
    "repeat_penalty": 1.1,
    "presence_penalty": 0.0,
    "frequency_penalty": 0.0,
    "temperature": 0.8,
    "stop": [],
}

LOAD_KEYS = ("num_ctx", "num_batch", "num_gpu", "main_gpu", "num_thread", "use_mmap")


@dataclass(frozen=True, slots=True)
class LoadOptions:
    """What a llama.cpp context is built with; equal options share a loaded model."""

    num_ctx: int = 4096
    num_batch: int = 512
    num_gpu: int = -1
    main_gpu: int = 0
    num_thread: int = 0
    use_mmap: bool = True

    def n_gpu_layers(self, block_count: int) -> int:
        # Ollama's -1 means "as many as fit"; llama.cpp's -1 means all of them.
        return -1 if self.num_gpu < 0 else min(self.num_gpu, block_count + 1)


@dataclass(frozen=True, slots=True)
class SamplingOptions:
    seed: int = -1
    num_predict: int = -1
    num_keep: int = 4
    top_k: int = 40
    top_p: float = 0.9
    min_p: float = 0.0
    typical_p: float = 1.0
    repeat_last_n: int = 64
    repeat_penalty: float = 1.1
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    temperature: float = 0.8
    stop: tuple[str, ...] = field(default_factory=tuple)


def _coerce(name: str, value: Any) -> Any:
    default = DEFAULTS[name]
    if isinstance(default, bool):
        return bool(value)
    if isinstance(default, int):
        return int(value)
    if isinstance(default, float):
        return float(value)
    if isinstance(default, list):
        return tuple(str(v) for v in (value if isinstance(value, list) else [value]))
    return value


def merge(*layers: dict[str, Any] | None) -> dict[str, Any]:
    """Later layers override earlier ones; unknown keys are ignored like Ollama."""
    out = dict(DEFAULTS)
    for layer in layers:
        for key, value in (layer or {}).items():
            if key in DEFAULTS and value is not None:
                out[key] = value
    return out


def split(
    options: dict[str, Any], context_length: int | None = None
) -> tuple[LoadOptions, SamplingOptions]:
    """Load and sampling options from merged values; num_ctx is capped at the model's."""
    load = LoadOptions(**{f.name: _coerce(f.name, options[f.name]) for f in fields(LoadOptions)})
    if context_length and load.num_ctx > context_length:
        load = replace(load, num_ctx=context_length)
    if load.num_ctx < 1:
        load = replace(load, num_ctx=DEFAULTS["num_ctx"])
    sampling = SamplingOptions(
        **{f.name: _coerce(f.name, options[f.name]) for f in fields(SamplingOptions)}
    )
    return load, sampling
