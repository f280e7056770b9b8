"""The token loop hands each piece of text over right before the next llama_decode.

That order keeps the event loop (woken by the hand-over) from taking the GIL while
the slot thread still has Python to run before decoding; the text must not change.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from ollama_harness.core.names import parse_model_name
from realserver.engine import LlamaContext
from realserver.gguf_info import read_gguf
from realserver.options import LoadOptions, SamplingOptions
from realserver.store import MEDIA_MODEL, ModelStore

pytestmark = pytest.mark.reference

DECODE, TRIM, BATCH = "<llama_decode>", "<kv_cache_seq_rm>", "<set_batch>"
MARKERS = (DECODE, TRIM, BATCH)


def bundled_weights(model_store: Path) -> Path:
    store = ModelStore(model_store)
    stored = store.get(parse_model_name("smollm2:135m"))
    assert stored is not None
    layer = stored.manifest.layer(MEDIA_MODEL)
    assert layer is not None
    return store.blob_path(layer.digest)


def test_each_text_is_handed_over_just_before_the_next_decode(model_store: Path) -> None:
    weights = bundled_weights(model_store)
    context = LlamaContext(
        weights,
        LoadOptions(num_ctx=512, num_thread=2),
        block_count=read_gguf(weights).block_count,
        embedding=False,
    )
    try:
        events: list[Any] = []
        llm = context.llm

        def recording(marker: str, call: Any) -> Any:
            def record(*args: Any, **kwargs: Any) -> Any:
                events.append(marker)
                return call(*args, **kwargs)

            return record

        # The Python steps of one token's evaluation, recorded in the order they run.
        llm._ctx.decode = recording(DECODE, llm._ctx.decode)
        llm._ctx.kv_cache_seq_rm = recording(TRIM, llm._ctx.kv_cache_seq_rm)
        llm._batch.set_batch = recording(BATCH, llm._batch.set_batch)
        prompt = context.tokenize(
            "<|im_start|>user\nCount from one to twenty in digits.<|im_end|>\n"
            "<|im_start|>assistant\n"
        )
        result = context.generate(
            prompt,
            SamplingOptions(temperature=0.0, repeat_penalty=1.0, num_predict=12),
            lambda text, _logprobs: events.append(text),
            threading.Event(),
        )
        expected_text = context.detokenize(result.context[len(prompt) :])
    finally:
        context.close()

    assert result.eval_count == 12
    texts = [event for event in events if event not in MARKERS]
    assert "".join(texts) == expected_text
    assert len(texts) == 12, texts  # digits: every token gives its text at once
    # Each text but the last (num_predict reached: nothing more to decode) is
    # followed at once by llama_decode, the trim and batch set-up coming before it.
    following = [events[i + 1] for i, event in enumerate(events[:-1]) if event not in MARKERS]
    assert following == [DECODE] * 11
    assert events[-1] == texts[-1]
