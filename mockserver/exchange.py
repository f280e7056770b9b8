"""One request in flight: its state, its response, its fault and its timing plan."""

from __future__ import annotations

import asyncio
import time

from ollama_harness.core.errors import ApiError

from . import faults, timing
from .faults import NO_FAULT, Fault
from .http import Request, Response
from .state import MockState
from .store import InstalledModel
from .timing import TimingPlan


class Exchange:
    __slots__ = ("fault", "operation_id", "request", "response", "started", "state")

    def __init__(
        self, state: MockState, request: Request, response: Response, operation_id: str
    ) -> None:
        self.state = state
        self.request = request
        self.response = response
        self.operation_id = operation_id
        self.started = time.perf_counter()
        self.fault = NO_FAULT  # frozen: shared, not built per request

    async def preflight(self, model: str | None) -> Fault:
        """Decide this request's fault; refuse or delay before the first byte if it says so."""
        fault = faults.header_fault(self.request.headers.get(faults.HEADER))
        if self.state.faults.scenario.rules:
            fault = self.state.faults.pick(self.request.path, self.operation_id, model).merged(
                fault
            )
        self.fault = fault
        if fault.status is not None:
            self.state.stats["faults"] += 1
            raise ApiError(fault.status, fault.status_message())
        if fault.slow_first_byte:
            await asyncio.sleep(fault.slow_first_byte)
        return fault

    def timing(self, model: InstalledModel) -> TimingPlan:
        return timing.make_plan(
            self.state.timing_defaults,
            model.entry.timing,
            self.request.headers.get(timing.HEADER),
        )
