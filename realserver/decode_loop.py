"""Continuous batching: one thread per loaded model decodes all its sequences together.

Each step builds one batch: the next token of every generating sequence, then
chunks of the prompts of newly admitted ones, up to ``num_batch`` tokens, so a
long prompt delays the others by at most one chunk per step. One ``llama_decode``
evaluates it; every generating sequence then samples from its own row of logits
with its own sampler chain. New requests join at the next step; finished ones
leave at once (their KV cells stay, for a later request with the same prefix);
cancelled ones leave before their next token and their cells are cleared. This
is what Ollama's runner and llama.cpp's server do.

Every llama.cpp call of the model's context runs on this thread: one thread team,
whatever the concurrency. The event loop gets each text (and, last, the result)
through ``call_soon_threadsafe``, handed over just before the next ``llama_decode``
so that its work overlaps the decode, which runs without the GIL.
"""

from __future__ import annotations

import codecs
import concurrent.futures
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ollama_harness.realserver.engine import (
    GenerationCancelledError,
    GenerationResult,
    StopMatcher,
    apply_adapter,
    context_params,
    lower_this_thread,
)
from ollama_harness.realserver.options import SamplingOptions

if TYPE_CHECKING:
    from ollama_harness.realserver.engine import LoadedModel

T = TypeVar("T")
Emit = Callable[[str, list[dict[str, Any]]], None]
Finish = Callable[[GenerationResult | BaseException], None]


@dataclass
class GenerationRequest:
    """One generation, prepared off the loop (tokens and sampler built in a worker)."""

    prompt: list[int]
    sampling: SamplingOptions
    sampler: Any  # llama_cpp._internals.LlamaSampler; the loop frees it when done
    emit: Emit  # called on the loop thread: it must only hand over (call_soon_threadsafe)
    finish: Finish  # likewise, exactly once, after the sequence has left the batch
    cancelled: threading.Event
    top_logprobs: int | None = None


class _Sequence:
    """A request's state while it is in the batch."""

    def __init__(self, seq_id: int, request: GenerationRequest, reuse: int) -> None:
        self.id = seq_id
        self.request = request
        self.prompt = request.prompt
        # The last prompt token is decoded on its own, in the step after the rest of
        # the prompt: llama.cpp's results differ in the last bits between batch
        # shapes, and this way a repeated request (which reuses the cache up to that
        # token) samples from identical logits, so greedy and seeded sampling are
        # reproducible whatever the cache held.
        self.pending = request.prompt[reuse:-1]
        self.next_token = request.prompt[-1]
        self.n_past = reuse
        self.evaluated = len(request.prompt) - reuse
        self.generated: list[int] = []
        self.matcher = StopMatcher(request.sampling.stop)
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.logprobs: list[dict[str, Any]] = []
        self.row = -1  # this step's row of logits
        self.started = time.perf_counter_ns()
        self.prompt_done = 0


class DecodeLoop:
    """The thread that owns a model's context and runs its steps."""

    def __init__(self, model: LoadedModel, params: Any) -> None:
        import llama_cpp
        import llama_cpp._internals

        internals: Any = llama_cpp._internals  # untyped: Any keeps mypy strict elsewhere

        self.model = model
        self.ctx: Any = internals.LlamaContext(model=model.model, params=params, verbose=False)
        if model._adapter is not None:
            apply_adapter(self.ctx.ctx, model._adapter)
        self.memory = self.ctx.memory
        self.n_seq = int(params.n_seq_max)
        self.n_batch = int(params.n_batch)
        # llama.cpp may round a context up; a sequence gets what the request asked for.
        per_sequence = int(llama_cpp.llama_n_ctx(self.ctx.ctx)) // self.n_seq
        self.n_ctx_seq = min(per_sequence, model.load.num_ctx)
        self.can_shift = bool(llama_cpp.llama_memory_can_shift(self.memory))
        self.batch = llama_cpp.llama_batch_init(self.n_batch, 0, 1)
        self._embed_ctx: Any = None
        self._embed_batch: Any = None
        # What each sequence's KV cells hold, for prefix reuse; which are free.
        self.cached: list[list[int]] = [[] for _ in range(self.n_seq)]
        self.last_used = [0.0] * self.n_seq
        self.free = set(range(self.n_seq))
        self.active: list[_Sequence] = []
        self.handovers: list[Callable[[], None]] = []
        self.observer: Callable[[int, int], None] | None = None  # (decoded, prefilled)
        self._inbox: list[GenerationRequest] = []
        self._tasks: list[tuple[Callable[[], Any], concurrent.futures.Future[Any]]] = []
        self._closing = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="llama-decode", daemon=True)
        self._thread.start()

    # -- called from other threads -----------------------------------------------------
    def submit(self, request: GenerationRequest) -> None:
        with self._wake:
            if self._closing:
                request.sampler.close()
                request.finish(GenerationCancelledError())
                return
            self._inbox.append(request)
            self._wake.notify()

    def run_task(self, work: Callable[[], T]) -> concurrent.futures.Future[T]:
        """Run ``work`` on the loop thread between two steps."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        with self._wake:
            if self._closing:
                future.set_exception(GenerationCancelledError())
                return future
            self._tasks.append((work, future))
            self._wake.notify()
        return future

    def close(self) -> None:
        with self._wake:
            self._closing = True
            self._wake.notify()
        if self._thread is not threading.current_thread():
            self._thread.join()

    # -- the loop --------------------------------------------------------------------
    def _run(self) -> None:
        lower_this_thread()
        try:
            while True:
                with self._wake:
                    while not (self._inbox or self._tasks or self.active or self._closing):
                        self._wake.wait()
                    incoming, self._inbox = self._inbox, []
                    tasks, self._tasks = self._tasks, []
                    closing = self._closing
                for work, future in tasks:
                    if future.set_running_or_notify_cancel():
                        try:
                            future.set_result(work())
                        except Exception as exc:  # handed to the waiting caller
                            future.set_exception(exc)
                for request in incoming:
                    self._admit(request)
                if closing:
                    for seq in list(self.active):
                        self._leave(seq, GenerationCancelledError())
                    self._hand_over()
                    return
                self._step()
                if not self.active:
                    self._hand_over()
        finally:
            self._free()

    def _admit(self, request: GenerationRequest) -> None:
        import llama_cpp

        prompt = request.prompt
        bad = [t for t in prompt if not 0 <= t < self.model.n_vocab]
        if not self.free or not prompt or bad:
            # An unknown token would fail the llama_decode of the whole batch: it is
            # refused alone, with the error llama.cpp gives for it.
            message = "llama_decode returned -1" if bad or not prompt else "no free sequence"
            request.sampler.close()
            self._later(request.finish, RuntimeError(message))
            return
        # The free sequence whose cells hold the longest prefix of this prompt (the
        # least recently used among equals), as Ollama's input cache chooses.
        seq_id = max(self.free, key=lambda i: (_common(self.cached[i], prompt), -self.last_used[i]))
        cached = self.cached[seq_id]
        reuse = min(_common(cached, prompt), len(prompt) - 1)
        if reuse < len(cached):
            if reuse == 0 or not llama_cpp.llama_memory_seq_rm(self.memory, seq_id, reuse, -1):
                llama_cpp.llama_memory_seq_rm(self.memory, seq_id, -1, -1)
                reuse = 0
            del cached[reuse:]
        self.free.discard(seq_id)
        self.active.append(_Sequence(seq_id, request, reuse))

    def _step(self) -> None:
        import llama_cpp

        for seq in [s for s in self.active if s.request.cancelled.is_set()]:
            self._leave(seq, GenerationCancelledError())
        if not self.active:
            return
        batch = self.batch
        n = 0
        decoding: list[_Sequence] = []
        for seq in self.active:
            if not seq.pending:
                _put(batch, n, seq.next_token, seq.n_past, seq.id, True)
                seq.row = n
                n += 1
                decoding.append(seq)
        decoded = n
        filled: list[tuple[_Sequence, list[int]]] = []
        for seq in self.active:
            room = self.n_batch - n
            if room <= 0:
                break
            if seq.pending:
                chunk, seq.pending = seq.pending[:room], seq.pending[room:]
                for offset, token in enumerate(chunk):
                    _put(batch, n + offset, token, seq.n_past + offset, seq.id, False)
                n += len(chunk)
                filled.append((seq, chunk))
        batch.n_tokens = n
        if self.observer is not None:
            self.observer(decoded, n - decoded)
        self._hand_over()
        status = llama_cpp.llama_decode(self.ctx.ctx, batch)
        if status != 0:
            error = RuntimeError(f"llama_decode returned {status}")
            for seq in {id(s): s for s in [*decoding, *(s for s, _ in filled)]}.values():
                self._leave(seq, error)
            return
        for seq, chunk in filled:
            self.cached[seq.id].extend(chunk)
            seq.n_past += len(chunk)
        now = time.perf_counter_ns()
        for seq in decoding:
            self.cached[seq.id].append(seq.next_token)
            seq.n_past += 1
            if not seq.prompt_done:
                seq.prompt_done = now
            self._sample(seq)

    def _sample(self, seq: _Sequence) -> None:
        import llama_cpp

        request = seq.request
        token = llama_cpp.llama_sampler_sample(request.sampler.sampler, self.ctx.ctx, seq.row)
        if self.model.is_eog(token):
            self._finish(seq, "stop", stopped=False)
            return
        seq.generated.append(token)
        if request.top_logprobs is not None:
            seq.logprobs.append(self._logprob(seq.row, token, request.top_logprobs))
        text, stopped = seq.matcher.feed(seq.decoder.decode(self.model.piece(token)))
        if text:
            entries, seq.logprobs = seq.logprobs, []
            self._later(request.emit, text, entries)
        limit = request.sampling.num_predict
        if stopped:
            self._finish(seq, "stop", stopped=True)
            return
        full = limit >= 0 and len(seq.generated) >= limit
        if full or (seq.n_past >= self.n_ctx_seq and (limit == -2 or not self._shift(seq))):
            self._finish(seq, "length", stopped=False)
            return
        seq.next_token = token

    def _shift(self, seq: _Sequence) -> bool:
        """Drop half of the sequence after num_keep tokens (Ollama's context shift)."""
        import llama_cpp

        if not self.can_shift:
            return False
        keep = max(0, min(seq.request.sampling.num_keep, seq.n_past - 2))
        discard = (seq.n_past - keep) // 2
        if discard <= 0:
            return False
        if not llama_cpp.llama_memory_seq_rm(self.memory, seq.id, keep, keep + discard):
            return False
        llama_cpp.llama_memory_seq_add(self.memory, seq.id, keep + discard, seq.n_past, -discard)
        del self.cached[seq.id][keep : keep + discard]
        seq.n_past -= discard
        return True

    def _finish(self, seq: _Sequence, reason: str, *, stopped: bool) -> None:
        request = seq.request
        if not stopped:
            # Text held back for a stop string that never completed is output after all.
            tail = seq.matcher.flush() + seq.decoder.decode(b"", final=True)
            if tail:
                self._later(request.emit, tail, seq.logprobs)
        end = time.perf_counter_ns()
        prompt_done = seq.prompt_done or end
        result = GenerationResult(
            done_reason=reason,
            prompt_eval_count=seq.evaluated,
            prompt_eval_duration=max(prompt_done - seq.started, 1),
            eval_count=len(seq.generated),
            eval_duration=max(end - prompt_done, 1),
            context=[*seq.prompt, *seq.generated],
        )
        self._release(seq, clear=False)
        self._later(request.finish, result)

    def _leave(self, seq: _Sequence, error: BaseException) -> None:
        """Take a sequence out now, its cells cleared, and report ``error``."""
        self._release(seq, clear=True)
        self._later(seq.request.finish, error)

    def _release(self, seq: _Sequence, *, clear: bool) -> None:
        import llama_cpp

        if clear:
            llama_cpp.llama_memory_seq_rm(self.memory, seq.id, -1, -1)
            self.cached[seq.id].clear()
        self.active.remove(seq)
        self.free.add(seq.id)
        self.last_used[seq.id] = time.monotonic()
        seq.request.sampler.close()

    def _later(self, function: Callable[..., None], *args: Any) -> None:
        self.handovers.append(lambda: function(*args))

    def _hand_over(self) -> None:
        handovers, self.handovers = self.handovers, []
        for handover in handovers:
            # A closed event loop (the server stopping) refuses; the loop goes on.
            with contextlib.suppress(RuntimeError):
                handover()

    def _logprob(self, row: int, token: int, top: int) -> dict[str, Any]:
        """Log-probabilities of the token just sampled (from the raw logits)."""
        import llama_cpp
        import numpy as np

        pointer = llama_cpp.llama_get_logits_ith(self.ctx.ctx, row)
        logits = np.ctypeslib.as_array(pointer, shape=(self.model.n_vocab,)).astype(np.float64)
        peak = float(logits.max())
        log_total = peak + float(np.log(np.exp(logits - peak).sum()))

        def entry(token_id: int) -> dict[str, Any]:
            raw = self.model.piece(token_id)
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

    # -- embeddings (run as tasks, between steps) -------------------------------------
    def embed(self, sequences: list[list[int]]) -> list[list[float]]:
        """Mean-pooled hidden states; as many sequences per llama_decode as fit."""
        import llama_cpp
        import llama_cpp._internals

        internals: Any = llama_cpp._internals  # untyped: Any keeps mypy strict elsewhere

        if self._embed_ctx is None:
            params = context_params(self.model.load, self.n_embed_seq(), embedding=True)
            self._embed_ctx = internals.LlamaContext(
                model=self.model.model, params=params, verbose=False
            )
            if self.model._adapter is not None:
                apply_adapter(self._embed_ctx.ctx, self.model._adapter)
            self._embed_batch = llama_cpp.llama_batch_init(int(params.n_batch), 0, 1)
        ctx, batch = self._embed_ctx.ctx, self._embed_batch
        width = int(llama_cpp.llama_model_n_embd(self.model.model.model))
        limit, most = self.model.load.num_ctx, self.n_embed_seq()
        vectors: list[list[float]] = []
        at = 0
        while at < len(sequences):
            group: list[list[int]] = []
            used = 0
            while at < len(sequences) and len(group) < most:
                tokens = sequences[at]
                if group and used + len(tokens) > limit:
                    break
                group.append(tokens)
                used += len(tokens)
                at += 1
            n = 0
            for seq_id, tokens in enumerate(group):
                for pos, token in enumerate(tokens):
                    _put(batch, n, token, pos, seq_id, True)
                    n += 1
            batch.n_tokens = n
            memory = llama_cpp.llama_get_memory(ctx)
            llama_cpp.llama_memory_clear(memory, True)
            status = llama_cpp.llama_decode(ctx, batch)
            if status != 0:
                llama_cpp.llama_memory_clear(memory, True)
                raise RuntimeError(f"llama_decode returned {status}")
            for seq_id in range(len(group)):
                pointer = llama_cpp.llama_get_embeddings_seq(ctx, seq_id)
                vectors.append([float(x) for x in pointer[:width]])
            llama_cpp.llama_memory_clear(memory, True)
        return vectors

    def n_embed_seq(self) -> int:
        import llama_cpp

        return max(1, min(16, int(llama_cpp.llama_max_parallel_sequences())))

    def _free(self) -> None:
        import llama_cpp

        for seq in list(self.active):
            self._leave(seq, GenerationCancelledError())
        self._hand_over()
        with self._wake:
            pending, self._inbox = self._inbox, []
            tasks, self._tasks = self._tasks, []
        for request in pending:
            request.sampler.close()
            request.finish(GenerationCancelledError())
        for _, future in tasks:
            if future.set_running_or_notify_cancel():
                future.set_exception(GenerationCancelledError())
        llama_cpp.llama_batch_free(self.batch)
        if self._embed_ctx is not None:
            llama_cpp.llama_batch_free(self._embed_batch)
            self._embed_ctx.close()
            self._embed_ctx = None
        self.ctx.close()


def _put(batch: Any, index: int, token: int, pos: int, seq_id: int, logits: bool) -> None:  # noqa: PLR0917
    batch.token[index] = token
    batch.pos[index] = pos
    batch.n_seq_id[index] = 1
    batch.seq_id[index][0] = seq_id
    batch.logits[index] = logits


def _common(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n
