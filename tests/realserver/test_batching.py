"""Continuous batching on the real model: one context, one decode loop, many sequences.

These drive :class:`realserver.engine.LoadedModel` directly (no HTTP) so that each
step's batch can be observed: how many sequences decoded in it and how many
prompt tokens rode along.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ollama_harness.core.names import parse_model_name
from ollama_harness.realserver.decode_loop import GenerationRequest
from ollama_harness.realserver.engine import GenerationCancelledError, GenerationResult, LoadedModel
from ollama_harness.realserver.generation import grammar_for
from ollama_harness.realserver.gguf_info import read_gguf
from ollama_harness.realserver.options import LoadOptions, SamplingOptions
from ollama_harness.realserver.store import MEDIA_MODEL, ModelStore
from tests.support import HAS_LLAMA

pytestmark = [
    pytest.mark.reference,
    pytest.mark.skipif(not HAS_LLAMA, reason="llama-cpp-python is not installed"),
]
NUM_BATCH = 32
GREEDY = SamplingOptions(temperature=0.0, repeat_penalty=1.0, num_predict=16)


def bundled_weights(model_store: Path) -> Path:
    store = ModelStore(model_store)
    stored = store.get(parse_model_name("smollm2:135m"))
    assert stored is not None
    layer = stored.manifest.layer(MEDIA_MODEL)
    assert layer is not None
    return store.blob_path(layer.digest)


@pytest.fixture(scope="module")
def model(model_store: Path) -> Iterator[LoadedModel]:
    weights = bundled_weights(model_store)
    loaded = LoadedModel(
        weights,
        LoadOptions(num_ctx=512, num_batch=NUM_BATCH, num_thread=2),
        block_count=read_gguf(weights).block_count,
        num_parallel=4,
    )
    yield loaded
    loaded.close()


@pytest.fixture
def steps(model: LoadedModel) -> Iterator[list[tuple[int, int]]]:
    """(sequences decoded, prompt tokens prefilled) of every step while the test runs."""
    seen: list[tuple[int, int]] = []
    model.loop.observer = lambda decoded, prefilled: seen.append((decoded, prefilled))
    yield seen
    model.loop.observer = None


@dataclass
class Run:
    """One request's outcome, collected on the decode loop's thread."""

    texts: list[str] = field(default_factory=list)
    outcome: GenerationResult | BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)
    cancelled: threading.Event = field(default_factory=threading.Event)
    cancel_after: int | None = None

    def emit(self, text: str, _logprobs: list[dict[str, Any]]) -> None:
        self.texts.append(text)
        if self.cancel_after is not None and len(self.texts) >= self.cancel_after:
            self.cancelled.set()

    def finish(self, outcome: GenerationResult | BaseException) -> None:
        self.outcome = outcome
        self.done.set()

    @property
    def text(self) -> str:
        return "".join(self.texts)

    def result(self) -> GenerationResult:
        assert self.done.wait(120), "the generation did not finish"
        assert isinstance(self.outcome, GenerationResult), self.outcome
        return self.outcome


def chatml(text: str) -> str:
    return f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n"


def submit(
    model: LoadedModel,
    text: str,
    sampling: SamplingOptions = GREEDY,
    *,
    grammar: Any = None,
    cancel_after: int | None = None,
) -> Run:
    run = Run(cancel_after=cancel_after)
    model.submit(
        GenerationRequest(
            prompt=model.tokenize(chatml(text)),
            sampling=sampling,
            sampler=model.sampler(sampling, grammar),
            emit=run.emit,
            finish=run.finish,
            cancelled=run.cancelled,
        )
    )
    return run


PROMPTS = (
    "Count from one to twenty in digits.",
    "Name the planets of the solar system.",
    "List five colours.",
    "Spell the word banana letter by letter.",
)


def test_four_sequences_share_each_step_and_report_their_own_metrics(
    model: LoadedModel, steps: list[tuple[int, int]]
) -> None:
    runs = [submit(model, prompt) for prompt in PROMPTS]
    results = [run.result() for run in runs]
    assert max(decoded for decoded, _ in steps) == 4  # one llama_decode for all four
    for prompt, run, result in zip(PROMPTS, runs, results, strict=True):
        tokens = model.tokenize(chatml(prompt))
        assert result.done_reason == "length" and result.eval_count == 16
        assert result.context[: len(tokens)] == tokens and len(result.context) == len(tokens) + 16
        assert model.detokenize(result.context[len(tokens) :]) == run.text
        assert result.prompt_eval_count <= len(tokens)
        assert result.prompt_eval_duration > 0 and result.eval_duration > 0
    # Every decoding step gave each generating sequence one token: 4 x 16 tokens in
    # as many rows, and no step decoded more sequences than were admitted.
    assert sum(decoded for decoded, _ in steps) == 4 * 16


def test_a_cancelled_sequence_leaves_and_the_others_finish_unchanged(model: LoadedModel) -> None:
    story = "Tell me a long story about a dragon."
    together = [submit(model, prompt) for prompt in (*PROMPTS[:3], story)]
    expected = [run.result() for run in together]
    runs = [submit(model, prompt) for prompt in PROMPTS[:3]]
    victim = submit(model, story, cancel_after=3)
    assert victim.done.wait(120)
    assert isinstance(victim.outcome, GenerationCancelledError)
    assert len(victim.texts) < 16  # it stopped before its budget was spent
    for run, reference in zip(runs, expected[:3], strict=True):
        result = run.result()
        assert result.eval_count == 16 and result.context == reference.context


def test_a_grammar_constrained_sequence_batched_with_free_ones(model: LoadedModel) -> None:
    schema = {
        "type": "object",
        "properties": {"age": {"type": "integer"}, "name": {"type": "string"}},
        "required": ["age", "name"],
    }
    sampling = SamplingOptions(temperature=0.0, repeat_penalty=1.0, num_predict=60)
    constrained = submit(model, "Describe a person as JSON.", sampling, grammar=grammar_for(schema))
    free = [submit(model, prompt) for prompt in PROMPTS[:2]]
    answer = json.loads(constrained.text) if constrained.result() else None
    assert isinstance(answer, dict) and isinstance(answer["age"], int)
    assert isinstance(answer["name"], str)
    for run in free:
        assert run.result().eval_count == 16 and "{" not in run.text[:1]


def test_a_long_prompt_is_admitted_in_chunks_while_others_decode(
    model: LoadedModel, steps: list[tuple[int, int]]
) -> None:
    decoding = submit(
        model, PROMPTS[0], SamplingOptions(temperature=0.0, repeat_penalty=1.0, num_predict=80)
    )
    while len(decoding.texts) < 3:
        assert not decoding.done.wait(0.01)
    before = len(steps)
    long_prompt = "Summarise: " + "the quick brown fox jumps over the lazy dog " * 40
    assert len(model.tokenize(chatml(long_prompt))) > 8 * NUM_BATCH
    arrival = submit(model, long_prompt, SamplingOptions(temperature=0.0, num_predict=4))
    arrival.result()
    assert decoding.result().eval_count == 80
    prefill_steps = [step for step in steps[before:] if step[1] > 0]
    assert len(prefill_steps) >= 8  # the prompt came in chunks, one per step
    for decoded, prefilled in prefill_steps:
        # The decoding sequence got its token in every one of those steps, and no
        # step carried more than one batch: its gap is bounded by one chunk.
        assert decoded >= 1 and decoded + prefilled <= NUM_BATCH


def test_the_same_seed_alone_gives_the_same_text_twice(model: LoadedModel) -> None:
    sampling = SamplingOptions(temperature=1.0, seed=1234, num_predict=20)
    first = submit(model, "Tell me a story.", sampling)
    first.result()
    second = submit(model, "Tell me a story.", sampling)
    assert second.result().prompt_eval_count == 1  # the cached prompt was reused
    assert second.text == first.text


def test_a_prompt_reuses_the_longest_cached_prefix(model: LoadedModel) -> None:
    history = "My name is Ada and I live in a small house by the sea."
    first = submit(model, history).result()
    follow = (
        model.tokenize(chatml(history))
        + first.context[-16:]
        + model.tokenize(
            "<|im_end|>\n<|im_start|>user\nWhat is my name?<|im_end|>\n<|im_start|>assistant\n",
            add_special=False,
        )
    )
    run = Run()
    model.submit(
        GenerationRequest(
            prompt=follow,
            sampling=GREEDY,
            sampler=model.sampler(GREEDY),
            emit=run.emit,
            finish=run.finish,
            cancelled=run.cancelled,
        )
    )
    result = run.result()
    # Everything the first request left in its cells (prompt and all but the last
    # sampled token) is reused; only the rest is evaluated.
    assert result.prompt_eval_count == len(follow) - (len(first.context) - 1)


def test_texts_are_handed_over_just_before_the_next_decode(
    model: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    import llama_cpp

    events: list[str] = []
    decode = llama_cpp.llama_decode

    def recording(*args: Any) -> Any:
        events.append("<decode>")
        return decode(*args)

    monkeypatch.setattr(llama_cpp, "llama_decode", recording)
    run = Run()

    def emit(text: str, logprobs: list[dict[str, Any]]) -> None:
        events.append(text)
        run.emit(text, logprobs)

    sampling = SamplingOptions(temperature=0.0, repeat_penalty=1.0, num_predict=12)
    model.submit(
        GenerationRequest(
            prompt=model.tokenize(chatml("Count from one to twenty in digits.")),
            sampling=sampling,
            sampler=model.sampler(sampling),
            emit=emit,
            finish=run.finish,
            cancelled=run.cancelled,
        )
    )
    result = run.result()
    texts = [e for e in events if e != "<decode>"]
    assert result.eval_count == 12 and len(texts) == 12  # digits: one text per token
    # Each text but the last (nothing more to decode) goes just before llama_decode:
    # the event loop's work on it overlaps the decode, which runs without the GIL.
    following = [events[i + 1] for i, e in enumerate(events[:-1]) if e != "<decode>"]
    assert following == ["<decode>"] * 11
    assert events[-1] == texts[-1]


def test_several_embeddings_are_evaluated_in_one_batch(
    model: LoadedModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    import math

    import llama_cpp

    calls: list[int] = []
    decode = llama_cpp.llama_decode

    def counting(ctx: Any, batch: Any) -> Any:
        calls.append(batch.n_tokens)
        return decode(ctx, batch)

    texts = ["The sky is blue", "Grass is green", "A longer sentence about the sea."]
    sequences = [model.tokenize(t) for t in texts]
    monkeypatch.setattr(llama_cpp, "llama_decode", counting)
    together = model.embed(sequences).result(60)
    assert calls == [sum(len(s) for s in sequences)]  # one llama_decode for the three
    monkeypatch.undo()
    alone = [model.embed([tokens]).result(60)[0] for tokens in sequences]
    assert len(together) == 3
    for a, b in zip(together, alone, strict=True):
        dot = sum(x * y for x, y in zip(a, b, strict=True))
        cosine = dot / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
        assert cosine > 0.9999
    assert together[0] != together[1]
