"""Which models are loaded, who runs now and who waits: Ollama's scheduler, in small.

* ``num_parallel`` requests run at once per model; the others wait in FIFO order.
* At most ``max_queue`` requests wait in total; one more gets Ollama's 503.
* A model stays loaded ``keep_alive`` after its last request ends (0 unloads at
  once, ``None`` keeps it forever); expiry is checked lazily against the clock,
  so a fixed clock moved by a test expires models without any sleeping.
* Loading a model beyond ``max_loaded_models`` evicts the least recently used
  idle one.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ollama_harness.core.errors import ApiError
from ollama_harness.core.protocol import messages

from .clock import Clock, rfc3339
from .store import InstalledModel

_FOREVER = timedelta(days=365 * 100)


@dataclass
class Runner:
    """A loaded model."""

    model: InstalledModel
    num_ctx: int
    expires: float | None  # clock.monotonic() deadline; None = never
    active: int = 0
    last_used: float = 0.0
    waiters: deque[asyncio.Future[None]] = field(default_factory=deque)


@dataclass
class Lease:
    """A slot held by one request; give it back with :meth:`Scheduler.release`."""

    key: str
    loaded_now: bool  # this request paid the load
    released: bool = False


class Scheduler:
    def __init__(
        self,
        clock: Clock,
        *,
        num_parallel: int,
        max_queue: int,
        max_loaded: int,
    ) -> None:
        self.clock = clock
        self.num_parallel = num_parallel
        self.max_queue = max_queue
        self.max_loaded = max_loaded
        self.runners: dict[str, Runner] = {}
        self.waiting = 0

    # -- state -----------------------------------------------------------------
    def reset(self) -> None:
        for runner in self.runners.values():
            for waiter in runner.waiters:
                if not waiter.done():
                    waiter.cancel()
        self.runners.clear()
        self.waiting = 0

    def _purge(self) -> None:
        now = self.clock.monotonic()
        for key, runner in list(self.runners.items()):
            idle = runner.active == 0 and not runner.waiters
            if idle and runner.expires is not None and runner.expires <= now:
                del self.runners[key]

    def _deadline(self, keep_alive: float | None) -> float | None:
        return None if keep_alive is None else self.clock.monotonic() + keep_alive

    def unload(self, model: InstalledModel) -> None:
        """keep_alive 0 with an empty prompt, or a deleted model."""
        runner = self.runners.get(model.name.key)
        if runner is None:
            return
        if runner.active == 0 and not runner.waiters:
            del self.runners[model.name.key]
        else:
            runner.expires = self.clock.monotonic()  # goes when its last request ends

    def _load(self, model: InstalledModel, keep_alive: float | None, num_ctx: int) -> Runner:
        self._purge()
        if len(self.runners) >= self.max_loaded:
            idle = [r for r in self.runners.values() if r.active == 0 and not r.waiters]
            if idle:
                victim = min(idle, key=lambda r: r.last_used)
                del self.runners[victim.model.name.key]
        runner = Runner(model, num_ctx, self._deadline(keep_alive))
        self.runners[model.name.key] = runner
        return runner

    async def acquire(self, model: InstalledModel, keep_alive: float | None, num_ctx: int) -> Lease:
        """A slot on the model, loading it when needed; 503 when the queue is full."""
        self._purge()
        key = model.key
        runner = self.runners.get(key)
        loaded_now = runner is None
        if runner is None:
            runner = self._load(model, keep_alive, num_ctx)
        runner.model = model
        if runner.active >= self.num_parallel or runner.waiters:
            if self.waiting >= self.max_queue:
                if loaded_now and runner.active == 0 and not runner.waiters:
                    del self.runners[key]
                raise ApiError(503, messages.BUSY)
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            runner.waiters.append(waiter)
            self.waiting += 1
            try:
                await waiter  # the releaser hands its slot over (active stays counted)
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._release_slot(runner)  # handed a slot we no longer want
                else:
                    runner.waiters.remove(waiter)
                raise
            finally:
                self.waiting -= 1
        else:
            runner.active += 1
        runner.expires = self._deadline(keep_alive)
        runner.last_used = self.clock.monotonic()
        runner.num_ctx = num_ctx
        return Lease(key, loaded_now)

    def _release_slot(self, runner: Runner) -> None:
        while runner.waiters:
            waiter = runner.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        runner.active -= 1

    def release(self, lease: Lease, keep_alive: float | None) -> None:
        if lease.released:
            return
        lease.released = True
        runner = self.runners.get(lease.key)
        if runner is None:
            return
        runner.last_used = self.clock.monotonic()
        runner.expires = self._deadline(keep_alive)
        self._release_slot(runner)
        if keep_alive == 0 and runner.active == 0 and not runner.waiters:
            del self.runners[lease.key]

    # -- /api/ps -----------------------------------------------------------------
    def running(self) -> list[dict[str, Any]]:
        self._purge()
        now_wall = self.clock.now()
        now = self.clock.monotonic()
        out = []
        for runner in sorted(self.runners.values(), key=lambda r: -r.last_used):
            model = runner.model
            left = _FOREVER if runner.expires is None else timedelta(seconds=runner.expires - now)
            size = model.entry.vram_bytes or vram_estimate(model)
            out.append(
                {
                    "name": model.name.display,
                    "model": model.name.display,
                    "size": size,
                    "digest": model.digest,
                    "details": model.details(),
                    "expires_at": rfc3339(now_wall + left),
                    "size_vram": size,
                    "context_length": runner.num_ctx,
                }
            )
        return out


def vram_estimate(model: InstalledModel) -> int:
    """Weights at the quantisation's bits per parameter, plus a KV cache allowance."""
    bits = {"F32": 32, "F16": 16, "BF16": 16, "Q8_0": 8.5, "Q4_0": 4.5, "Q4_1": 5}.get(
        model.entry.quantization_level.upper(), 4.8
    )
    return int(model.entry.parameter_count * bits / 8) + 64 * 1024 * 1024
