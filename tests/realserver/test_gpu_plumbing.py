"""num_gpu and main_gpu reach llama.cpp; size_vram follows what was offloaded.

No GPU is available to this project's CI, so the parameters built for llama.cpp
are checked here; the real CPU build is exercised by the server tests.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ollama_harness.realserver import engine, scheduler
from ollama_harness.realserver.options import LoadOptions
from tests.support import HAS_LLAMA

pytestmark = pytest.mark.skipif(not HAS_LLAMA, reason="llama-cpp-python is not installed")


def test_load_options_reach_the_model_and_context_parameters() -> None:
    load = LoadOptions(
        num_ctx=1024, num_batch=64, num_gpu=12, main_gpu=1, num_thread=3, use_mmap=False
    )
    params = engine.model_params(load, block_count=30)
    assert (params.n_gpu_layers, params.main_gpu, params.use_mmap) == (12, 1, False)
    auto = engine.model_params(LoadOptions(num_gpu=-1), block_count=30)
    assert auto.n_gpu_layers == -1  # Ollama's "auto": all layers
    assert engine.model_params(LoadOptions(), 30, adapters=[Path("lora.gguf")]).use_mmap is False
    context = engine.context_params(load, sequences=4)
    # One context for four sequences of num_ctx each, one stream per sequence.
    assert (context.n_ctx, context.n_seq_max, context.kv_unified) == (4096, 4, False)
    assert (context.n_batch, context.n_threads, context.n_threads_batch) == (64, 3, 3)
    embedding = engine.context_params(load, sequences=8, embedding=True)
    # Mean pooling: every sequence whole in one micro-batch of num_ctx.
    assert (embedding.n_ctx, embedding.n_batch, embedding.n_ubatch) == (1024, 1024, 1024)
    assert embedding.embeddings and embedding.kv_unified


def _runner(num_gpu: int) -> scheduler.Runner:
    gguf = SimpleNamespace(
        tensor_bytes=1000,
        block_count=30,
        embedding_length=576,
        arch_key=lambda key, default=None: {
            "attention.head_count": 9,
            "attention.head_count_kv": 3,
        }.get(key, default),
    )
    model: Any = SimpleNamespace(
        weights_bytes=lambda: 31_000_000,
        kv_bytes=lambda layers, width: layers * width,  # one byte per layer and KV column
    )
    record: Any = SimpleNamespace(gguf=gguf, digest="d")
    return scheduler.Runner(
        record=record, load=LoadOptions(num_gpu=num_gpu), model=model, load_duration=1
    )


def test_size_vram_is_zero_on_a_cpu_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler, "gpu_offload_supported", lambda: False)
    size, vram = _runner(num_gpu=-1).memory()
    assert size == 31_000_000 + 30 * 192 and vram == 0


@pytest.mark.parametrize(("num_gpu", "share"), [(-1, 31), (31, 31), (99, 31), (10, 10), (0, 0)])
def test_size_vram_follows_offloaded_layers(
    monkeypatch: pytest.MonkeyPatch, num_gpu: int, share: int
) -> None:
    monkeypatch.setattr(scheduler, "gpu_offload_supported", lambda: True)
    size, vram = _runner(num_gpu).memory()
    assert vram == size * share // 31
