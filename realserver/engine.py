"""One llama.cpp context (a slot) and the token loop that runs in a worker thread.

llama-cpp-python's high-level ``create_completion`` hides the timings Ollama
reports and cannot be stopped between tokens, so the loop is written here on its
lower-level pieces (``eval``, the sampler chain, the KV cache): prompt evaluation
and decoding are timed separately, the cached prefix of the previous request is
reused, a cancel flag is checked before every token, stop strings are matched on
text (held back while they might still match), and a full context is shifted
keeping ``num_keep`` tokens, as Ollama's runner does.

A context is not thread-safe: the scheduler hands each one to one request at a time.
"""

from __future__ import annotations

import codecs
import contextlib
import math
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from realserver.options import LoadOptions, SamplingOptions


class GenerationCancelledError(Exception):
    """The client went away; the loop stopped before the next token."""


class ContextLengthError(ValueError):
    """An input does not fit the context and truncation was not allowed."""


@dataclass
class GenerationResult:
    done_reason: str
    prompt_eval_count: int
    prompt_eval_duration: int  # ns
    eval_count: int
    eval_duration: int  # ns
    context: list[int] = field(default_factory=list)


@dataclass
class _Backend:
    """Process-wide llama.cpp switches, set from the server settings at start."""

    extra_buffers: bool = False
    nice: int = 0


_backend = _Backend()


def use_extra_buffers(enabled: bool) -> None:
    """Whether llama.cpp may repack CPU weights into its extra buffer types (AMX...).

    llama-cpp-python offers no argument for ``use_extra_bufts``, so the default model
    parameters it starts from are wrapped. Off by default: the AMX kernels crash on
    batched prompt evaluation in some VMs that advertise AMX (this build machine).
    """
    import importlib

    bindings: Any = importlib.import_module("llama_cpp.llama").llama_cpp
    original = getattr(bindings, "_harness_original_default_params", None)
    if original is None:
        original = bindings.llama_model_default_params
        bindings._harness_original_default_params = original

    def default_params() -> Any:
        params = original()
        params.use_extra_bufts = enabled
        return params

    bindings.llama_model_default_params = default_params
    _backend.extra_buffers = enabled


def lower_inference_priority(niceness: int) -> None:
    """Run the token loops (and the llama.cpp threads they start) ``niceness`` lower.

    A token is handed from the generating thread to the event loop, which must then
    get a CPU to write it. With every core busy computing the next token, the loop
    thread waited for one: 2.8 ms in the median of ten first tokens on a 2-core VM,
    up to 6 ms. With the computing threads 10 levels lower the loop preempts them
    sooner: 0.2 ms in the median (a scheduler slice, ~2 ms, now and then).
    """
    _backend.nice = max(0, niceness)


def _lower_this_thread() -> None:
    niceness = _backend.nice
    # Only Linux gives each thread its own niceness (elsewhere this would renice
    # the whole process, event loop included). OpenMP and ggml worker threads
    # started from this thread inherit it.
    if niceness and sys.platform == "linux":
        with contextlib.suppress(OSError):
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + niceness)


def inference_executor() -> ThreadPoolExecutor:
    """The one thread that makes every llama.cpp call of a context, at inference priority."""
    return ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="llama-slot", initializer=_lower_this_thread
    )


def default_threads() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


class StopMatcher:
    """Emit text as it comes, except a tail that may still become a stop string."""

    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = tuple(s for s in stops if s)
        self.pending = ""

    def feed(self, text: str) -> tuple[str, bool]:
        """(text safe to emit, whether a stop string was reached)."""
        self.pending += text
        if not self.stops:
            out, self.pending = self.pending, ""
            return out, False
        hits = [(self.pending.find(s), s) for s in self.stops if s in self.pending]
        if hits:
            at = min(index for index, _ in hits)
            out = self.pending[:at]
            self.pending = ""
            return out, True
        hold = 0
        for stop in self.stops:
            for size in range(min(len(stop) - 1, len(self.pending)), hold, -1):
                if stop.startswith(self.pending[-size:]):
                    hold = size
                    break
        out = self.pending[: len(self.pending) - hold]
        self.pending = self.pending[len(out) :]
        return out, False

    def flush(self) -> str:
        out, self.pending = self.pending, ""
        return out


class LlamaContext:
    """A loaded GGUF with one llama.cpp context."""

    def __init__(
        self,
        model_path: Path,
        load: LoadOptions,
        block_count: int,
        embedding: bool,
        adapters: Sequence[Path] = (),
    ):
        from llama_cpp import LLAMA_POOLING_TYPE_MEAN, Llama

        use_extra_buffers(_backend.extra_buffers)
        self.load = load
        self.embedding = embedding
        threads = load.num_thread or default_threads()
        kwargs: dict[str, Any] = {
            "model_path": str(model_path),
            "n_ctx": load.num_ctx,
            "n_batch": load.num_batch,
            "n_gpu_layers": load.n_gpu_layers(block_count),
            "main_gpu": load.main_gpu,
            "use_mmap": load.use_mmap,
            "n_threads": threads,
            "n_threads_batch": threads,
            "verbose": False,
        }
        if len(adapters) > 1:
            # llama-cpp-python's Llama takes one LoRA; refusing beats applying a subset.
            raise ValueError(f"{len(adapters)} adapters given; this server applies one LoRA")
        if adapters:
            kwargs["lora_path"] = str(adapters[0])
        if embedding:
            # Mean pooling needs a whole sequence in one micro-batch.
            kwargs.update(
                embedding=True,
                pooling_type=LLAMA_POOLING_TYPE_MEAN,
                n_batch=load.num_ctx,
                n_ubatch=load.num_ctx,
            )
        self.llm: Any = Llama(**kwargs)
        # llama.cpp may round a context up; the limit a request sees is what it asked for,
        # and an embedding sequence must also fit one micro-batch.
        self.n_ctx = min(self.llm.n_ctx(), load.num_ctx)
        if embedding:
            self.n_ctx = min(self.n_ctx, self.llm.n_batch)
        self.lock = threading.Lock()
        # Every call into this context runs on one thread: llama.cpp's OpenMP team
        # belongs to the calling thread, and a new caller pays to wake a fresh team.
        self.executor = inference_executor()
        self._vocab = self.llm._model.vocab
        self._pieces: dict[int, bytes] = {}

    # -- tokens ------------------------------------------------------------------
    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        return list(self.llm.tokenize(text.encode("utf-8"), add_bos=add_special, special=True))

    def detokenize(self, tokens: list[int]) -> str:
        return str(self.llm.detokenize(tokens).decode("utf-8", "replace"))

    def piece(self, token: int) -> bytes:
        """The bytes of one token (cached: the vocabulary never changes)."""
        cached = self._pieces.get(token)
        if cached is None:
            import ctypes

            import llama_cpp

            buffer = ctypes.create_string_buffer(64)
            size = llama_cpp.llama_token_to_piece(self._vocab, token, buffer, 64, 0, False)
            if size < 0:
                buffer = ctypes.create_string_buffer(-size)
                size = llama_cpp.llama_token_to_piece(self._vocab, token, buffer, -size, 0, False)
            cached = buffer.raw[:size]
            self._pieces[token] = cached
        return cached

    def is_eog(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self._vocab, token))

    # -- generation ----------------------------------------------------------------
    def truncate_prompt(self, tokens: list[int], num_keep: int) -> list[int]:
        """Ollama's rule: keep the first num_keep tokens and the newest that fit."""
        if len(tokens) < self.n_ctx:
            return tokens
        keep = max(0, min(num_keep, self.n_ctx // 2))
        room = self.n_ctx - 1 - keep
        return tokens[:keep] + tokens[len(tokens) - room :]

    def generate(
        self,
        prompt: list[int],
        sampling: SamplingOptions,
        emit: Callable[[str, list[dict[str, Any]]], None],
        cancelled: threading.Event,
        *,
        grammar: Any = None,
        top_logprobs: int | None = None,
    ) -> GenerationResult:
        """Generate until EOG, a stop string, num_predict or a full context.

        ``emit(text, logprobs)`` receives the text as it becomes safe to show and,
        when ``top_logprobs`` is not None, one log-probability entry per token.
        """
        llm = self.llm
        prompt = self.truncate_prompt(prompt, sampling.num_keep) or [llm.token_bos()]
        llm.last_n_tokens_size = sampling.repeat_last_n if sampling.repeat_last_n >= 0 else 0
        if sampling.repeat_last_n == -1:
            llm.last_n_tokens_size = self.n_ctx
        import llama_cpp

        llm.set_seed(sampling.seed if sampling.seed >= 0 else llama_cpp.LLAMA_DEFAULT_SEED)
        sampler = llm._init_sampler(
            top_k=sampling.top_k,
            top_p=sampling.top_p,
            min_p=sampling.min_p,
            typical_p=sampling.typical_p,
            temp=sampling.temperature,
            repeat_penalty=sampling.repeat_penalty,
            frequency_penalty=sampling.frequency_penalty,
            presence_penalty=sampling.presence_penalty,
            grammar=grammar,
        )
        start = time.perf_counter_ns()
        self._eval_prompt(prompt, cancelled)
        prompt_done = time.perf_counter_ns()

        matcher = StopMatcher(sampling.stop)
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        generated: list[int] = []
        pending: list[dict[str, Any]] = []
        limit = sampling.num_predict
        done_reason = "stop"
        stopped = False
        while True:
            if cancelled.is_set():
                raise GenerationCancelledError()
            token = sampler.sample(llm._ctx, -1)
            if self.is_eog(token):
                break
            generated.append(token)
            if top_logprobs is not None:
                pending.append(self._logprob(token, top_logprobs))
            piece = decoder.decode(self.piece(token))
            text, stopped = matcher.feed(piece)
            handover = (text, pending) if text else None
            if text:
                pending = []
            if stopped or (limit >= 0 and len(generated) >= limit):
                done_reason = "stop" if stopped else "length"
            elif llm.n_tokens >= self.n_ctx and (limit == -2 or not self._shift(sampling.num_keep)):
                done_reason = "length"
            else:
                self._decode_next(token, emit, handover)
                continue
            if handover is not None:
                emit(*handover)
            break
        if done_reason != "stop" or not stopped:
            # Text held back for a stop string that never completed is output after all.
            tail = matcher.flush() + decoder.decode(b"", final=True)
            if tail:
                emit(tail, pending)
        end = time.perf_counter_ns()
        return GenerationResult(
            done_reason=done_reason,
            prompt_eval_count=len(prompt),
            prompt_eval_duration=prompt_done - start,
            eval_count=len(generated),
            eval_duration=max(end - prompt_done, 1),
            context=[*prompt, *generated],
        )

    def _decode_next(
        self,
        token: int,
        emit: Callable[[str, list[dict[str, Any]]], None],
        handover: tuple[str, list[dict[str, Any]]] | None,
    ) -> None:
        """``Llama.eval([token])``, handing the previous text over just before llama_decode.

        The hand-over wakes the event loop, which takes the GIL for its per-token
        work. Any earlier, and this thread would wait for it with Python still to
        run before llama_decode (0.4 ms of a 14 ms token in the median, 3 % of
        decode on a 2-vCPU VM); here, the loop's work overlaps llama_decode, which
        runs without the GIL.
        """
        llm = self.llm  # built without logits_all: only the last row of logits is kept
        n_past = llm.n_tokens
        llm._ctx.kv_cache_seq_rm(-1, n_past, -1)
        llm._batch.set_batch(batch=[token], n_past=n_past, logits_all=False)
        if handover is not None:
            emit(*handover)
        llm._ctx.decode(llm._batch)
        llm.input_ids[n_past] = token
        llm.n_tokens = n_past + 1

    def _eval_prompt(self, prompt: list[int], cancelled: threading.Event) -> None:
        llm = self.llm
        common = 0
        cached = llm._input_ids
        for a, b in zip(cached, prompt, strict=False):
            if a != b:
                break
            common += 1
        # At least the last prompt token is evaluated again: its logits drive sampling.
        reuse = min(common, len(prompt) - 1)
        if reuse > 0 and llm._ctx.kv_cache_seq_rm(-1, reuse, -1):
            llm.n_tokens = reuse
        else:
            llm.reset()
            llm._ctx.kv_cache_clear()
            reuse = 0
        # The last prompt token is always evaluated on its own. llama.cpp's results
        # differ in the last bits between batch sizes; this way a repeated request
        # (which reuses the cache up to that token) samples from identical logits,
        # so greedy and seeded sampling are reproducible whatever the cache held.
        rest, last = prompt[reuse:-1], prompt[-1:]
        step = max(1, llm.n_batch)
        for at in range(0, len(rest), step):
            if cancelled.is_set():
                raise GenerationCancelledError()
            llm.eval(rest[at : at + step])
        llm.eval(last)

    def _logprob(self, token: int, top: int) -> dict[str, Any]:
        """Log-probabilities of the token just sampled (from the raw logits)."""
        import llama_cpp
        import numpy as np

        pointer = llama_cpp.llama_get_logits_ith(self.llm._ctx.ctx, -1)
        logits = np.ctypeslib.as_array(pointer, shape=(self.llm.n_vocab(),)).astype(np.float64)
        peak = float(logits.max())
        log_total = peak + float(np.log(np.exp(logits - peak).sum()))

        def entry(token_id: int) -> dict[str, Any]:
            raw = self.piece(token_id)
            return {
                "token": raw.decode("utf-8", "replace"),
                "logprob": float(logits[token_id]) - log_total,
                "bytes": list(raw),
            }

        out = entry(token)
        if top > 0:
            best = np.argpartition(-logits, top)[:top]
            best = best[np.argsort(-logits[best])]
            out["top_logprobs"] = [entry(int(i)) for i in best]
        return out

    def _shift(self, num_keep: int) -> bool:
        """Drop half of the context after num_keep tokens (Ollama's context shift)."""
        llm = self.llm
        keep = max(0, min(num_keep, llm.n_tokens - 2))
        discard = (llm.n_tokens - keep) // 2
        if discard <= 0:
            return False
        ctx = llm._ctx
        if not ctx.kv_cache_seq_rm(0, keep, keep + discard):
            return False
        ctx.kv_cache_seq_shift(0, keep + discard, llm.n_tokens, -discard)
        ids = llm.input_ids
        ids[keep : llm.n_tokens - discard] = ids[keep + discard : llm.n_tokens].copy()
        llm.n_tokens -= discard
        return True

    # -- embeddings --------------------------------------------------------------------
    def embed(self, tokens: list[int]) -> list[float]:
        """Mean-pooled hidden state of one sequence (not normalised)."""
        import llama_cpp

        llm = self.llm
        llm._batch.reset()
        llm._batch.add_sequence(tokens, 0, True)
        llm._ctx.kv_cache_clear()
        llm._ctx.decode(llm._batch)
        pointer = llama_cpp.llama_get_embeddings_seq(llm._ctx.ctx, 0)
        vector = [float(x) for x in pointer[: llm.n_embd()]]
        llm._batch.reset()
        llm._ctx.kv_cache_clear()
        llm.reset()
        return vector

    # -- memory ------------------------------------------------------------------------
    def weights_bytes(self) -> int:
        import llama_cpp

        return int(llama_cpp.llama_model_size(self.llm._model.model))

    def kv_bytes(self, info_layers: int, kv_width: int) -> int:
        # f16 keys and values for every layer and every position of the context.
        return self.n_ctx * info_layers * kv_width * 2 * 2

    def close(self) -> None:
        self.llm.close()
        self.executor.shutdown(wait=False)


def normalize(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm > 0 else vector


def gpu_offload_supported() -> bool:
    try:
        import llama_cpp
    except ImportError:
        return False
    return bool(llama_cpp.llama_supports_gpu_offload())
