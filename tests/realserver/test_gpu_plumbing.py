"""num_gpu and main_gpu reach llama.cpp; size_vram follows what was offloaded.

No GPU is available to this project's CI, so llama.cpp's constructor is replaced
by a recorder here; the real CPU build is exercised by the server tests.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from realserver import engine, scheduler
from realserver.options import LoadOptions
from tests.support import HAS_LLAMA

pytestmark = pytest.mark.skipif(not HAS_LLAMA, reason="llama-cpp-python is not installed")


class RecordingLlama:
    calls: list[dict[str, Any]] = []

    def __init__(self, **kwargs: Any) -> None:
        RecordingLlama.calls.append(kwargs)
        self._model = SimpleNamespace(vocab=None)
        self.n_batch = kwargs.get("n_batch", 512)

    def n_ctx(self) -> int:
        return int(self.calls[-1]["n_ctx"])


def test_load_options_reach_the_llama_constructor(monkeypatch: pytest.MonkeyPatch) -> None:
    import llama_cpp

    monkeypatch.setattr(llama_cpp, "Llama", RecordingLlama)
    load = LoadOptions(
        num_ctx=1024, num_batch=64, num_gpu=12, main_gpu=1, num_thread=3, use_mmap=False
    )
    engine.LlamaContext(Path("model.gguf"), load, block_count=30, embedding=False)
    kwargs = RecordingLlama.calls[-1]
    assert kwargs["n_gpu_layers"] == 12
    assert kwargs["main_gpu"] == 1
    assert (kwargs["n_ctx"], kwargs["n_batch"], kwargs["n_threads"]) == (1024, 64, 3)
    assert kwargs["use_mmap"] is False
    engine.LlamaContext(
        Path("model.gguf"), LoadOptions(num_gpu=-1), block_count=30, embedding=False
    )
    assert RecordingLlama.calls[-1]["n_gpu_layers"] == -1  # Ollama's "auto": all layers


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
    context: Any = SimpleNamespace(
        weights_bytes=lambda: 31_000_000,
        kv_bytes=lambda layers, width: layers * width,  # one byte per layer and KV column
    )
    record: Any = SimpleNamespace(gguf=gguf, digest="d")
    return scheduler.Runner(
        record=record, load=LoadOptions(num_gpu=num_gpu), contexts=[context], load_duration=1
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
