"""Which models are loaded, who may use them, and when they go: Ollama's scheduler.

* A model loads on first use with the load options of that request; a request
  with different load options (num_ctx, num_gpu...) waits until the model is idle
  and reloads it.
* Each loaded model is one llama.cpp context whose KV cache holds
  ``num_parallel`` sequences (slots), decoded together by the model's decode loop.
  A request holds one slot for its whole generation; the slot comes back only when
  its sequence has really left the batch, so a cancelled request never races the next.
* At most ``max_queue`` requests wait; one more gets 503 at once.
* At most ``max_loaded_models`` stay loaded: loading another evicts the idle model
  used least recently, or waits until one is idle.
* ``keep_alive`` (request, else the server default) arms a timer when a model
  becomes idle; 0 unloads at once, ``None`` (negative) never.

Loading and unloading run in worker threads; the event loop never blocks on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from ollama_harness.core.errors import ApiError
from ollama_harness.core.protocol import messages
from ollama_harness.realserver.catalog import ModelRecord
from ollama_harness.realserver.engine import LoadedModel, gpu_offload_supported
from ollama_harness.realserver.options import LoadOptions

BUSY = messages.BUSY
FOREVER = datetime(2318, 1, 1, tzinfo=UTC)  # what Ollama shows for keep_alive < 0

T = TypeVar("T")


@dataclass
class Runner:
    """A loaded model: its one context (``num_parallel`` sequences) and bookkeeping."""

    record: ModelRecord
    load: LoadOptions
    model: LoadedModel | None
    load_duration: int  # ns
    slots: int = 1  # sequences free for a new request
    active: int = 0
    keep_alive: float | None = 300.0
    expires_at: datetime = FOREVER
    last_used: float = 0.0
    timer: asyncio.TimerHandle | None = None
    closing: bool = False

    @property
    def key(self) -> str:
        return self.record.digest

    def memory(self) -> tuple[int, int]:
        """(size, size_vram) in bytes: weights plus the context's KV cache (all sequences)."""
        gguf = self.record.gguf
        weights = self.model.weights_bytes() if self.model else gguf.tensor_bytes
        head_count = int(gguf.arch_key("attention.head_count", 1) or 1)
        kv_heads = int(gguf.arch_key("attention.head_count_kv", head_count) or head_count)
        kv_width = gguf.embedding_length // max(head_count, 1) * kv_heads
        kv = self.model.kv_bytes(gguf.block_count, kv_width) if self.model else 0
        size = weights + kv
        if not gpu_offload_supported():
            return size, 0
        layers = gguf.block_count + 1  # the output layer counts, as in llama.cpp's log
        offloaded = layers if self.load.num_gpu < 0 else min(self.load.num_gpu, layers)
        return size, size * offloaded // layers


@dataclass
class Lease:
    """One slot of a loaded model, held by one request."""

    runner: Runner
    context: LoadedModel
    # ns from asking for the slot to holding it: the queue and any load. Ollama reports
    # this scheduling time as load_duration even when the model was already loaded.
    load_duration: int


class Scheduler:
    def __init__(
        self,
        *,
        num_parallel: int,
        max_queue: int,
        max_loaded_models: int,
        default_keep_alive: float | None,
        loader: Callable[[ModelRecord, LoadOptions, int], LoadedModel] | None = None,
    ) -> None:
        self.num_parallel = num_parallel
        self.max_queue = max_queue
        self.max_loaded_models = max_loaded_models
        self.default_keep_alive = default_keep_alive
        self.runners: dict[str, Runner] = {}
        self.waiting = 0
        self._changed = asyncio.Condition()
        self._loader = loader or _load_model
        # Loads, unloads, tokenizing and sampler set-up (the decode loops have their own).
        self.executor = ThreadPoolExecutor(
            max_workers=max_loaded_models + num_parallel + 4, thread_name_prefix="llama"
        )

    async def in_thread(self, function: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, function, *args)

    # -- acquire / release ---------------------------------------------------------
    async def acquire(
        self, record: ModelRecord, load: LoadOptions, keep_alive: float | str | None = "default"
    ) -> Lease:
        """A slot of ``record`` loaded with ``load``; 503 when the queue is full."""
        if self.waiting >= self.max_queue:
            raise ApiError(503, BUSY)
        asked = time.perf_counter_ns()
        self.waiting += 1
        try:
            async with self._changed:
                while True:
                    runner = self.runners.get(record.digest)
                    if runner is not None and (runner.load != load or runner.closing):
                        if runner.active:
                            await self._changed.wait()
                            continue
                        await self._unload(runner)
                        runner = None
                    if runner is None:
                        if not await self._make_room():
                            await self._changed.wait()
                            continue
                        runner = await self._load(record, load)
                    if runner.slots > 0 and runner.model is not None:
                        runner.slots -= 1
                        runner.active += 1
                        runner.last_used = time.monotonic()
                        self._cancel_timer(runner)
                        runner.keep_alive = self._keep_alive(keep_alive)
                        runner.expires_at = _expiry(runner.keep_alive)
                        waited = max(time.perf_counter_ns() - asked, 1)
                        return Lease(runner, runner.model, waited)
                    await self._changed.wait()
        finally:
            self.waiting -= 1

    async def release(self, lease: Lease) -> None:
        runner = lease.runner
        async with self._changed:
            runner.slots += 1
            runner.active -= 1
            runner.last_used = time.monotonic()
            if runner.active == 0:
                runner.expires_at = _expiry(runner.keep_alive)
                if runner.keep_alive == 0:
                    await self._unload(runner)
                elif runner.keep_alive is not None:
                    self._arm_timer(runner, runner.keep_alive)
            self._changed.notify_all()

    async def unload(self, record: ModelRecord) -> bool:
        """Unload now, or as soon as the requests using the model finish."""
        async with self._changed:
            runner = self.runners.get(record.digest)
            if runner is None:
                return False
            runner.keep_alive = 0
            runner.expires_at = datetime.now(UTC)
            if runner.active:
                runner.closing = True
            else:
                await self._unload(runner)
            self._changed.notify_all()
            return True

    # -- loading ------------------------------------------------------------------------
    def _keep_alive(self, value: float | str | None) -> float | None:
        return self.default_keep_alive if value == "default" else value  # type: ignore[return-value]

    async def _make_room(self) -> bool:
        """Evict idle models until one more fits; False when all are busy."""
        while len(self.runners) >= self.max_loaded_models:
            idle = [r for r in self.runners.values() if r.active == 0]
            if not idle:
                return False
            await self._unload(min(idle, key=lambda r: r.last_used))
        return True

    async def _load(self, record: ModelRecord, load: LoadOptions) -> Runner:
        started = time.perf_counter_ns()
        model = await self.in_thread(self._loader, record, load, self.num_parallel)
        runner = Runner(
            record=record,
            load=load,
            model=model,
            load_duration=time.perf_counter_ns() - started,
            slots=self.num_parallel,
            keep_alive=self.default_keep_alive,
        )
        self.runners[record.digest] = runner
        return runner

    async def _unload(self, runner: Runner) -> None:
        self._cancel_timer(runner)
        if self.runners.get(runner.key) is runner:
            del self.runners[runner.key]
        model, runner.model, runner.slots = runner.model, None, 0
        if model is not None:
            await self.in_thread(model.close)

    # -- expiry ---------------------------------------------------------------------------
    def _cancel_timer(self, runner: Runner) -> None:
        if runner.timer is not None:
            runner.timer.cancel()
            runner.timer = None

    def _arm_timer(self, runner: Runner, seconds: float) -> None:
        self._cancel_timer(runner)
        loop = asyncio.get_running_loop()
        runner.timer = loop.call_later(
            seconds,
            lambda: loop.create_task(self._expire(runner)),
        )

    async def _expire(self, runner: Runner) -> None:
        async with self._changed:
            if runner.active == 0 and self.runners.get(runner.key) is runner:
                await self._unload(runner)
                self._changed.notify_all()

    async def shutdown(self) -> None:
        async with self._changed:
            for runner in list(self.runners.values()):
                with contextlib.suppress(Exception):
                    await self._unload(runner)
        self.executor.shutdown(wait=False, cancel_futures=True)

    # -- reporting ------------------------------------------------------------------------
    def running(self) -> list[Runner]:
        return sorted(self.runners.values(), key=lambda r: r.expires_at, reverse=True)


def _expiry(keep_alive: float | None) -> datetime:
    if keep_alive is None:
        return FOREVER
    return datetime.now(UTC) + timedelta(seconds=keep_alive)


def _load_model(record: ModelRecord, load: LoadOptions, num_parallel: int) -> LoadedModel:
    return LoadedModel(
        record.model_path, load, record.gguf.block_count, num_parallel, adapters=record.adapters
    )
