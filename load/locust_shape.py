"""The Locust load shape that walks a profile's stages, then drains the run.

When the last stage ends the shape asks for zero users and waits until no request
is in flight anywhere (workers report their counts with their samples) or the
drain timeout passes; only then does it end the test. Requests that were sent
inside the run window are therefore measured to their last byte, not cut off.
"""

from __future__ import annotations

from typing import Any

from locust import LoadTestShape

from ollama_harness.load.locust_runtime import STATE
from ollama_harness.load.locust_users import USER_CLASSES
from ollama_harness.load.options import RunOptions
from ollama_harness.load.profiles import INSTANT, Stage, stage_at


class ProfileShape(LoadTestShape):
    """Users over time from ``--workload`` (and ``--users``, ``--duration``, ``--stages``)."""

    use_common_options = True  # reads Locust's --users

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self._stages: list[Stage] | None = None
        self._classes: list[Any] = []
        self._drain_from: float | None = None
        self._drain_timeout = 0.0
        self._drain_mark = 0.0

    def reset_time(self) -> None:
        super().reset_time()  # type: ignore[no-untyped-call]
        self._stages = None
        self._drain_from = None

    def _plan(self) -> list[Stage]:
        assert self.runner is not None
        environment = self.runner.environment
        options = RunOptions.from_namespace(environment.parsed_options)
        options.validate()
        self._classes = [USER_CLASSES[options.api]]
        self._drain_timeout = options.drain_timeout
        # let users finish the request they are in when their stage shrinks or ends
        environment.stop_timeout = max(environment.stop_timeout or 0.0, options.drain_timeout)
        return options.stage_list

    def tick(self) -> tuple[int, float, list[Any]] | None:
        if self._stages is None:
            self._stages = self._plan()
        now: float = self.get_run_time()  # type: ignore[no-untyped-call]
        stage = stage_at(self._stages, now)
        if stage is not None:
            return stage.users, stage.spawn_rate, self._classes
        if self._drain_from is None:
            self._drain_from = now
            self._drain_mark = STATE.clock()
        waited = now - self._drain_from
        if waited > self._drain_timeout + 2.0:
            return None
        # at least one report from every worker after the drain began
        if waited > 0.2 and STATE.drained_since(self._drain_mark):
            return None
        return 0, INSTANT, self._classes
