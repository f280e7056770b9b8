"""A loaded GGUF: its weights, one llama.cpp context shared by all its requests, and
what the decode loop needs from it (tokens, samplers, memory figures).

As Ollama's runner does, a model is loaded once with one context whose KV cache
holds ``num_parallel`` sequences of ``num_ctx`` positions each; every request is
one sequence of it, decoded together with the others by the model's decode loop
(:mod:`realserver.decode_loop`), which makes every llama.cpp call of the model on
its one thread. Tokenizing and building samplers only read the vocabulary, so they
run in worker threads and never delay a step.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ctypes
import math
import os
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ollama_harness.realserver.options import LoadOptions, SamplingOptions


class GenerationCancelledError(Exception):
    """The client went away; the sequence left the batch before its next token."""


class ContextLengthError(ValueError):
    """An input does not fit the context and truncation was not allowed."""


@dataclass
class GenerationResult:
    done_reason: str
    prompt_eval_count: int  # prompt tokens evaluated (a cached prefix is not)
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

    Off by default: the AMX kernels crash on batched prompt evaluation in some VMs
    that advertise AMX (this build machine).
    """
    _backend.extra_buffers = enabled


def lower_inference_priority(niceness: int) -> None:
    """Run the decode loops (and the llama.cpp threads they start) ``niceness`` lower.

    A token is handed from the decode loop to the event loop, which must then get a
    CPU to write it. With every core busy computing the next token, the event loop
    waited for one: 2.8 ms in the median of ten first tokens on a 2-core VM, up to
    6 ms. With the computing threads 10 levels lower it preempts them sooner: 0.2 ms
    in the median (a scheduler slice, ~2 ms, now and then).
    """
    _backend.nice = max(0, niceness)


def lower_this_thread() -> None:
    niceness = _backend.nice
    # Only Linux gives each thread its own niceness (elsewhere this would renice
    # the whole process, event loop included). OpenMP and ggml worker threads
    # started from this thread inherit it.
    if niceness and sys.platform == "linux":
        with contextlib.suppress(OSError):
            tid = threading.get_native_id()
            os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + niceness)


def inference_executor() -> ThreadPoolExecutor:
    """One thread at inference priority (the tests use it to check the priority)."""
    return ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="llama-slot", initializer=lower_this_thread
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


# -- llama.cpp parameters --------------------------------------------------------------


def model_params(load: LoadOptions, block_count: int, adapters: Sequence[Path] = ()) -> Any:
    import llama_cpp

    params = llama_cpp.llama_model_default_params()
    params.n_gpu_layers = load.n_gpu_layers(block_count)
    params.main_gpu = load.main_gpu
    # A LoRA is applied to the weights in memory; llama-cpp-python maps no file then.
    params.use_mmap = load.use_mmap and not adapters
    params.use_extra_bufts = _backend.extra_buffers
    return params


def context_params(load: LoadOptions, sequences: int, embedding: bool = False) -> Any:
    """One context for ``sequences`` sequences of ``num_ctx`` positions each.

    Generation: a KV cache of ``sequences x num_ctx`` split into one stream per
    sequence (not unified: each sequence attends only to its own cells, as
    Ollama's runner sizes it). Embedding: mean pooling needs each sequence whole in
    one micro-batch, so the batch is ``num_ctx`` and the sequences share it.
    """
    import llama_cpp

    threads = load.num_thread or default_threads()
    params = llama_cpp.llama_context_default_params()
    params.n_threads = threads
    params.n_threads_batch = threads
    params.n_seq_max = sequences
    if embedding:
        params.n_ctx = load.num_ctx
        params.n_batch = params.n_ubatch = load.num_ctx
        params.embeddings = True
        params.pooling_type = llama_cpp.LLAMA_POOLING_TYPE_MEAN
        params.kv_unified = True
    else:
        params.n_ctx = load.num_ctx * sequences
        # Every generating sequence puts one token in each step's batch.
        params.n_batch = max(load.num_batch, sequences)
        params.n_ubatch = params.n_batch
        params.kv_unified = False
    params.no_perf = True
    return params


# -- the model ---------------------------------------------------------------------------


class LoadedModel:
    """A GGUF loaded once, with the context its ``num_parallel`` sequences share."""

    def __init__(
        self,
        model_path: Path,
        load: LoadOptions,
        block_count: int,
        num_parallel: int,
        adapters: Sequence[Path] = (),
    ) -> None:
        import llama_cpp._internals

        internals: Any = llama_cpp._internals  # untyped: Any keeps mypy strict elsewhere

        from llama_cpp import _logger

        from ollama_harness.realserver.decode_loop import DecodeLoop

        # llama.cpp logs every context's set-up to stderr unless told otherwise
        # (llama-cpp-python's Llama does this for its verbose=False).
        _logger.set_verbose(False)

        if len(adapters) > 1:
            # One LoRA is what this server applies; refusing beats applying a subset.
            raise ValueError(f"{len(adapters)} adapters given; this server applies one LoRA")
        self.load = load
        self.block_count = block_count
        self.num_parallel = num_parallel
        self.model: Any = internals.LlamaModel(
            path_model=str(model_path),
            params=model_params(load, block_count, adapters),
            verbose=False,
        )
        self._adapter: Any = None
        if adapters:
            self._adapter = _load_adapter(self.model, adapters[0])
        self.vocab = self.model.vocab
        self.n_vocab = int(self.model.n_vocab())
        self._pieces: dict[int, bytes] = {}
        self._pieces_lock = threading.Lock()
        try:
            self.loop = DecodeLoop(self, context_params(load, num_parallel))
        except BaseException:
            self._free_model()
            raise
        # The limit a request sees is what it asked for, whatever llama.cpp rounded.
        self.n_ctx = min(self.loop.n_ctx_seq, load.num_ctx)
        self.embedding_loaded = False

    # -- tokens ------------------------------------------------------------------
    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        return list(self.model.tokenize(text.encode("utf-8"), add_special, True))

    def detokenize(self, tokens: list[int]) -> str:
        return b"".join(self.piece(t) for t in tokens).decode("utf-8", "replace")

    def token_text(self, which: str) -> str:
        """The text of the BOS or EOS token (for Jinja chat templates)."""
        token = self.model.token_bos() if which == "bos" else self.model.token_eos()
        return self.piece(token).decode("utf-8", "replace") if token >= 0 else ""

    def bos(self) -> int:
        return int(self.model.token_bos())

    def piece(self, token: int) -> bytes:
        """The bytes of one token (cached: the vocabulary never changes)."""
        cached = self._pieces.get(token)
        if cached is None:
            import llama_cpp

            buffer = ctypes.create_string_buffer(64)
            size = llama_cpp.llama_token_to_piece(self.vocab, token, buffer, 64, 0, False)
            if size < 0:
                buffer = ctypes.create_string_buffer(-size)
                size = llama_cpp.llama_token_to_piece(self.vocab, token, buffer, -size, 0, False)
            cached = buffer.raw[:size]
            with self._pieces_lock:
                self._pieces[token] = cached
        return cached

    def is_eog(self, token: int) -> bool:
        import llama_cpp

        return bool(llama_cpp.llama_vocab_is_eog(self.vocab, token))

    def truncate_prompt(self, tokens: list[int], num_keep: int) -> list[int]:
        """Ollama's rule: keep the first num_keep tokens and the newest that fit."""
        if len(tokens) < self.n_ctx:
            return tokens
        keep = max(0, min(num_keep, self.n_ctx // 2))
        room = self.n_ctx - 1 - keep
        return tokens[:keep] + tokens[len(tokens) - room :]

    # -- sampling ------------------------------------------------------------------
    def sampler(self, sampling: SamplingOptions, grammar: Any = None) -> Any:
        """A sampler chain for one sequence (llama-cpp-python's order of samplers).

        Its penalties look at this sequence's own tokens only: each sequence has its
        own chain, which sees only the tokens sampled with it.
        """
        import llama_cpp
        import llama_cpp._internals

        internals: Any = llama_cpp._internals  # untyped: Any keeps mypy strict elsewhere

        chain = internals.LlamaSampler()
        last_n = sampling.repeat_last_n
        if last_n == -1:
            last_n = self.n_ctx
        chain.add_penalties(
            n_vocab=self.n_vocab,
            penalty_last_n=max(0, last_n),
            penalty_repeat=sampling.repeat_penalty,
            penalty_freq=sampling.frequency_penalty,
            penalty_present=sampling.presence_penalty,
        )
        if grammar is not None:
            chain.add_grammar(self.model, grammar)
        seed = sampling.seed if sampling.seed >= 0 else llama_cpp.LLAMA_DEFAULT_SEED
        temp = sampling.temperature
        if temp < 0.0:
            chain.add_dist(seed)
        elif temp == 0.0:
            chain.add_greedy()
        else:
            chain.add_top_k(sampling.top_k)
            chain.add_typical(sampling.typical_p, 1)
            chain.add_top_p(sampling.top_p, 1)
            chain.add_min_p(sampling.min_p, 1)
            chain.add_temp(temp)
            chain.add_dist(seed)
        return chain

    # -- work ------------------------------------------------------------------------
    def submit(self, request: Any) -> None:
        """Admit a generation request at the decode loop's next step."""
        self.loop.submit(request)

    def embed(self, sequences: list[list[int]]) -> concurrent.futures.Future[list[list[float]]]:
        """Mean-pooled hidden states of token sequences, evaluated together where they fit."""
        self.embedding_loaded = True
        return self.loop.run_task(lambda: self.loop.embed(sequences))

    @property
    def embed_limit(self) -> int:
        """The longest sequence one embedding may be (one micro-batch)."""
        return self.load.num_ctx

    # -- memory ------------------------------------------------------------------------
    def weights_bytes(self) -> int:
        import llama_cpp

        return int(llama_cpp.llama_model_size(self.model.model))

    def kv_bytes(self, info_layers: int, kv_width: int) -> int:
        """f16 keys and values for every layer and position of every sequence."""
        per_sequence = self.load.num_ctx * info_layers * kv_width * 2 * 2
        sequences = self.num_parallel + (1 if self.embedding_loaded else 0)
        return per_sequence * sequences

    def close(self) -> None:
        """Stop the decode loop (its sequences end cancelled), then free everything."""
        self.loop.close()
        self._free_model()

    def _free_model(self) -> None:
        import llama_cpp

        if self._adapter is not None:
            llama_cpp.llama_adapter_lora_free(self._adapter)
            self._adapter = None
        self.model.close()


def _load_adapter(model: Any, path: Path) -> Any:
    import llama_cpp

    adapter = llama_cpp.llama_adapter_lora_init(model.model, str(path).encode("utf-8"))
    if adapter is None:
        model.close()
        raise ValueError(f"failed to load the LoRA adapter {path.name}")
    return adapter


def apply_adapter(ctx: Any, adapter: Any) -> None:
    """Attach a LoRA to a context (each context of the model carries it)."""
    import llama_cpp

    adapters = (llama_cpp.llama_adapter_lora_p_ctypes * 1)(adapter)
    scales = (ctypes.c_float * 1)(1.0)
    if llama_cpp.llama_set_adapters_lora(ctx, adapters, 1, scales):
        raise ValueError("failed to apply the LoRA adapter")


def normalize(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in vector))
    return [x / norm for x in vector] if norm > 0 else vector


def gpu_offload_supported() -> bool:
    try:
        import llama_cpp
    except ImportError:
        return False
    return bool(llama_cpp.llama_supports_gpu_offload())
