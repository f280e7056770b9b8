"""The scheduler with a fake loader: queueing, 503, keep_alive, eviction, reloads.

The contexts here are stand-ins (loading llama.cpp is what the server tests do);
what is under test is who waits, who gets 503, what stays loaded and for how long.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import pytest

from ollama_harness.core.errors import ApiError
from ollama_harness.realserver.options import LoadOptions
from ollama_harness.realserver.scheduler import BUSY, FOREVER, Scheduler
from tests.support import until


class FakeModel:
    def __init__(self, record: Any, load: LoadOptions, num_parallel: int) -> None:
        self.record, self.load, self.num_parallel = record, load, num_parallel
        self.closed = False

    def close(self) -> None:
        self.closed = True


def record(digest: str) -> Any:
    return SimpleNamespace(digest=digest)


def scheduler(**overrides: Any) -> tuple[Scheduler, list[FakeModel]]:
    made: list[FakeModel] = []

    def loader(rec: Any, load: LoadOptions, num_parallel: int) -> FakeModel:
        context = FakeModel(rec, load, num_parallel)
        made.append(context)
        return context

    settings = {
        "num_parallel": 1,
        "max_queue": 4,
        "max_loaded_models": 2,
        "default_keep_alive": 300.0,
    }
    settings.update(overrides)
    return Scheduler(loader=loader, **settings), made  # type: ignore[arg-type]


LOAD = LoadOptions(num_ctx=512)
pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_slots_queue_and_busy() -> None:
    sched, made = scheduler(num_parallel=1, max_queue=1)
    first = await sched.acquire(record("a"), LOAD)
    assert first.load_duration > 0
    waiting = asyncio.create_task(sched.acquire(record("a"), LOAD))
    await until(lambda: sched.waiting == 1, what="the second request to queue")
    assert not waiting.done()
    with pytest.raises(ApiError) as refused:
        await sched.acquire(record("a"), LOAD)
    assert (refused.value.status, refused.value.message) == (503, BUSY)
    await sched.release(first)
    second = await asyncio.wait_for(waiting, 1)
    # Already loaded: what it reports is its wait for the slot, never 0 (Ollama's
    # scheduling time), and it shares the one loaded model.
    assert second.load_duration > 0
    assert second.context is first.context and len(made) == 1
    await sched.release(second)


async def test_num_parallel_slots_share_one_model() -> None:
    sched, made = scheduler(num_parallel=2)
    one = await sched.acquire(record("a"), LOAD)
    two = await asyncio.wait_for(sched.acquire(record("a"), LOAD), 1)
    # One model (one context) whose KV cache holds both sequences.
    assert one.context is two.context and len(made) == 1 and made[0].num_parallel == 2
    third = asyncio.create_task(sched.acquire(record("a"), LOAD))
    await asyncio.sleep(0.01)
    assert not third.done()  # both sequences taken: the third waits
    await sched.release(one)
    await sched.release(await asyncio.wait_for(third, 1))
    await sched.release(two)


async def test_keep_alive_zero_unloads_at_release() -> None:
    sched, made = scheduler()
    lease = await sched.acquire(record("a"), LOAD, keep_alive=0)
    assert "a" in sched.runners
    await sched.release(lease)
    assert sched.runners == {} and made[0].closed


async def test_keep_alive_expires_and_negative_never() -> None:
    sched, made = scheduler()
    lease = await sched.acquire(record("a"), LOAD, keep_alive=0.05)
    await sched.release(lease)
    forever = await sched.acquire(record("b"), LOAD, keep_alive=None)
    await sched.release(forever)
    assert sched.runners["b"].expires_at == FOREVER
    # Expiry takes the runner out, then closes its context in a worker thread.
    await until(lambda: made[0].closed, what="model a to expire")
    assert list(sched.runners) == ["b"]
    assert made[0].closed and not made[1].closed


async def test_server_default_keep_alive_applies_when_request_has_none() -> None:
    sched, _ = scheduler(default_keep_alive=0.05)
    await sched.release(await sched.acquire(record("a"), LOAD))
    await until(lambda: sched.runners == {}, what="the default keep_alive to expire")


async def test_max_loaded_models_evicts_the_idle_one_used_least_recently() -> None:
    sched, made = scheduler(max_loaded_models=2)
    await sched.release(await sched.acquire(record("a"), LOAD))
    await sched.release(await sched.acquire(record("b"), LOAD))
    await sched.release(await sched.acquire(record("a"), LOAD))  # a is now the fresher
    await sched.release(await sched.acquire(record("c"), LOAD))
    assert sorted(sched.runners) == ["a", "c"]
    assert [c.record.digest for c in made if c.closed] == ["b"]


async def test_a_busy_model_is_not_evicted_the_newcomer_waits() -> None:
    sched, _ = scheduler(max_loaded_models=1)
    busy = await sched.acquire(record("a"), LOAD)
    newcomer = asyncio.create_task(sched.acquire(record("b"), LOAD))
    await until(lambda: sched.waiting == 1, what="the newcomer to wait")
    assert not newcomer.done() and list(sched.runners) == ["a"]
    await sched.release(busy)
    lease = await asyncio.wait_for(newcomer, 1)
    assert list(sched.runners) == ["b"]
    await sched.release(lease)


async def test_other_load_options_reload_the_model() -> None:
    sched, made = scheduler()
    await sched.release(await sched.acquire(record("a"), LOAD))
    bigger = LoadOptions(num_ctx=1024)
    lease = await sched.acquire(record("a"), bigger)
    assert made[0].closed and made[1].load == bigger
    await sched.release(lease)


async def test_unload_waits_for_running_requests() -> None:
    sched, made = scheduler()
    lease = await sched.acquire(record("a"), LOAD)
    assert await sched.unload(record("a"))
    assert "a" in sched.runners and not made[0].closed  # still generating
    await sched.release(lease)
    assert sched.runners == {} and made[0].closed


async def test_cancelled_waiter_leaves_the_queue() -> None:
    sched, _ = scheduler(max_queue=1)
    held = await sched.acquire(record("a"), LOAD)
    waiter = asyncio.create_task(sched.acquire(record("a"), LOAD))
    await until(lambda: sched.waiting == 1, what="the waiter to queue")
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert sched.waiting == 0
    other = asyncio.create_task(sched.acquire(record("a"), LOAD))  # room again: not 503
    await sched.release(held)
    await sched.release(await asyncio.wait_for(other, 1))


async def test_shutdown_closes_every_model() -> None:
    sched, made = scheduler()
    await sched.release(await sched.acquire(record("a"), LOAD))
    await sched.release(await sched.acquire(record("b"), LOAD))
    await sched.shutdown()
    assert len(made) == 2 and all(c.closed for c in made)
