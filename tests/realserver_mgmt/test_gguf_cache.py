"""The GGUF metadata cache is bounded and keeps no vocabulary."""

from __future__ import annotations

from pathlib import Path

import pytest

from ollama_harness.realserver import gguf_info
from ollama_harness.realserver.gguf_info import read_gguf

from .tiny_gguf import write_tiny_llama


def test_cached_metadata_leaves_the_vocabulary_out(tiny_f16: Path) -> None:
    info = read_gguf(tiny_f16)
    assert info.metadata["tokenizer.ggml.tokens"] is None
    assert info.model_info()["tokenizer.ggml.tokens"] is None
    # /api/show verbose still lists it: read again from the file.
    tokens = info.model_info(verbose=True)["tokenizer.ggml.tokens"]
    assert isinstance(tokens, list) and len(tokens) > 2
    assert read_gguf(tiny_f16).architecture == "llama"


def test_the_cache_holds_a_bounded_number_of_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gguf_info, "CACHE_SIZE", 2)
    monkeypatch.setattr(gguf_info, "_cache", type(gguf_info._cache)())
    paths = [write_tiny_llama(tmp_path / f"m{i}.gguf", seed=i) for i in range(3)]
    for path in paths:
        read_gguf(path)
    cached = {key[0] for key in gguf_info._cache}
    assert cached == {str(paths[1]), str(paths[2])}  # the least recently used went
