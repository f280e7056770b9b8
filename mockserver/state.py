"""Everything one mock server instance holds, shared by its route modules."""

from __future__ import annotations

from collections import Counter
from typing import Any

import orjson

from ollama_harness.core.durations import DurationError, parse_keep_alive
from ollama_harness.core.errors import ApiError, decode_body, request_error
from ollama_harness.core.names import ModelName, ModelNameError, parse_model_name
from ollama_harness.core.protocol import messages
from ollama_harness.core.spec import Spec, load_spec

from .catalogue import load_catalogue
from .clock import Clock, make_clock
from .faults import FaultPlan
from .scheduler import Scheduler
from .settings import MockSettings
from .store import InstalledModel, ModelStore


class MockState:
    """The store, the scheduler, the clock and the spec of one server."""

    def __init__(self, settings: MockSettings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.spec: Spec = load_spec()
        self.clock = clock or make_clock(settings.clock)
        self.catalogue = load_catalogue(settings.models)
        self.store = ModelStore(self.catalogue, settings.blob_size, self.clock.now())
        self.scheduler = Scheduler(
            self.clock,
            num_parallel=settings.num_parallel,
            max_queue=settings.max_queue,
            max_loaded=settings.max_loaded_models,
        )
        self.faults = FaultPlan.load(settings.faults)
        self.default_keep_alive = settings.keep_alive_seconds()
        self.timing_defaults = (
            settings.ttft_ms,
            settings.itl_ms,
            settings.jitter_ms,
            settings.timing_seed,
        )
        # Observable counters for tests: generations started / finished / cancelled.
        self.stats: Counter[str] = Counter()
        self._keys: dict[str, str] = {}
        self.uploads: dict[str, bytearray] = {}  # registry uploads in progress
        self.upload_counter = 0

    def reset(self) -> None:
        """Back to the catalogue, nothing loaded, nothing queued, counters at zero."""
        self.scheduler.reset()
        self.store.reset()
        self.faults.reset()
        self.stats.clear()
        self.uploads.clear()
        if hasattr(self.clock, "reset"):
            self.clock.reset()

    # -- requests ---------------------------------------------------------------
    def parse(self, raw: bytes, operation_id: str) -> dict[str, Any]:
        """Decode and validate a body against the spec; ApiError as Ollama words it."""
        body = self.decode(raw, operation_id)
        self.validate(operation_id, body)
        return body

    @staticmethod
    def decode(raw: bytes, operation_id: str) -> dict[str, Any]:
        """orjson for speed; whatever it refuses goes to the core decoder for Go's words."""
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        if isinstance(body, dict):
            return body
        decoded: dict[str, Any] = decode_body(raw, operation_id)
        return decoded

    def validate(self, operation_id: str, body: dict[str, Any]) -> None:
        error = request_error(operation_id, body, self.spec.validate_request(operation_id, body))
        if error is not None:
            raise error

    def lookup(self, raw_name: str) -> InstalledModel | None:
        key = self._keys.get(raw_name)
        if key is None:
            try:
                key = parse_model_name(raw_name).key
            except ModelNameError:
                return None
            if len(self._keys) > 4096:
                self._keys.clear()
            self._keys[raw_name] = key  # parsing a name is a regex: remember it
        return self.store.models.get(key)

    def require(self, raw_name: str, message: str, status: int = 404) -> InstalledModel:
        model = self.lookup(raw_name)
        if model is None:
            raise ApiError(status, message)
        return model

    def now_text(self) -> str:
        return self.clock.now_text()

    def keep_alive(self, body: dict[str, Any]) -> float | None:
        if "keep_alive" not in body:
            return self.default_keep_alive
        try:
            return parse_keep_alive(body.get("keep_alive"), default=self.default_keep_alive)
        except DurationError as exc:
            raise ApiError(400, str(exc)) from None


def parse_name(raw: str, message: str = messages.INVALID_MODEL_NAME) -> ModelName:
    try:
        return parse_model_name(raw)
    except ModelNameError:
        raise ApiError(400, message) from None
