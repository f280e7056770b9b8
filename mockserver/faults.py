"""Deliberate failures, per request (a header) or per scenario file.

``X-Mock-Fault`` takes comma-separated ``key=value`` pairs:

* ``status=503`` (or 500, 429, ...): refuse before the first byte, with Ollama's
  message for that status (``message=...`` replaces it);
* ``error-after=5``: after 5 tokens, a final ``{"error": ...}`` line, no done line;
* ``drop-after=5``: after 5 tokens, close the connection mid-stream;
* ``stall=2s`` (with ``stall-after=N``, default 1): pause the stream that long
  after N tokens, then go on;
* ``slow-first-byte=1s``: wait before sending the response headers.

A scenario file (``--faults``, YAML or JSON) applies faults by route, model and
probability, reproducibly::

    seed: 7
    rules:
      - route: /api/chat          # a path, an operationId, or "*"
        model: smollm2:135m       # optional
        probability: 0.25
        fault: "status=503"
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field

from ollama_harness.core.durations import DurationError, parse_go_duration
from ollama_harness.core.errors import ApiError
from ollama_harness.core.protocol import messages

HEADER = "x-mock-fault"

STATUS_MESSAGES = {
    400: "bad request",
    429: "too many requests, please try again later",
    500: "llama runner process has terminated: exit status 2",
    502: "bad gateway",
    503: messages.BUSY,
    504: "gateway timeout",
}
MID_STREAM_MESSAGE = messages.runner_failed("unexpected EOF")


class DroppedConnectionError(Exception):
    """Raised inside the app to make the server close the socket mid-response."""


@dataclass(frozen=True, slots=True)
class Fault:
    status: int | None = None
    message: str | None = None
    error_after: int | None = None
    drop_after: int | None = None
    stall: float = 0.0
    stall_after: int = 1
    slow_first_byte: float = 0.0

    @property
    def is_empty(self) -> bool:
        return self is NO_FAULT or self == NO_FAULT

    def status_message(self) -> str:
        assert self.status is not None
        return self.message or STATUS_MESSAGES.get(self.status, "injected fault")

    def merged(self, other: Fault) -> Fault:
        """``other``'s settings win where it sets any."""
        changes = {k: getattr(other, k) for k in _FIELDS if getattr(other, k) != _DEFAULTS[k]}
        return replace(self, **changes)


_FIELDS = (
    "status",
    "message",
    "error_after",
    "drop_after",
    "stall",
    "stall_after",
    "slow_first_byte",
)
_DEFAULTS = {k: getattr(Fault(), k) for k in _FIELDS}


def _duration(value: str) -> float:
    try:
        return float(value) / 1000.0
    except ValueError:
        pass
    try:
        seconds = parse_go_duration(value)
    except DurationError as exc:
        raise ValueError(str(exc)) from None
    if seconds < 0:
        raise ValueError("negative duration")
    return seconds


def _count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("negative count")
    return number


def parse_fault(text: str) -> Fault:
    """Parse the header / scenario syntax; ValueError on anything unknown."""
    fault = Fault()
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep:
            raise ValueError(f"expected key=value, got {part.strip()!r}")
        if key == "status":
            status = int(value)
            if not 400 <= status <= 599:
                raise ValueError("status must be 400-599")
            fault = replace(fault, status=status)
        elif key == "message":
            fault = replace(fault, message=value)
        elif key == "error-after":
            fault = replace(fault, error_after=_count(value))
        elif key == "drop-after":
            fault = replace(fault, drop_after=_count(value))
        elif key == "stall":
            fault = replace(fault, stall=_duration(value))
        elif key == "stall-after":
            fault = replace(fault, stall_after=_count(value))
        elif key == "slow-first-byte":
            fault = replace(fault, slow_first_byte=_duration(value))
        else:
            raise ValueError(f"unknown key {key!r}")
    return fault


NO_FAULT = Fault()


def header_fault(text: str | None) -> Fault:
    if not text:
        return NO_FAULT
    try:
        return parse_fault(text)
    except ValueError as exc:
        raise ApiError(400, f"invalid X-Mock-Fault header: {exc}") from None


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    route: str = "*"
    model: str | None = None
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    fault: str

    def parsed(self) -> Fault:
        return parse_fault(self.fault)


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int = 0
    rules: list[Rule] = Field(default_factory=list)


@dataclass
class FaultPlan:
    """Decides, per request, which scenario fault applies (deterministic per seed)."""

    scenario: Scenario
    faults: list[Fault] = field(default_factory=list)
    counters: list[int] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | None) -> FaultPlan:
        if path is None:
            return cls(Scenario())
        text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
        scenario = Scenario.model_validate(data or {})
        return cls(scenario)

    def __post_init__(self) -> None:
        self.faults = [rule.parsed() for rule in self.scenario.rules]
        self.counters = [0] * len(self.faults)

    def reset(self) -> None:
        self.counters = [0] * len(self.faults)

    def pick(self, path: str, operation_id: str, model: str | None) -> Fault:
        chosen = Fault()
        for index, rule in enumerate(self.scenario.rules):
            if rule.route not in ("*", path, operation_id):
                continue
            if rule.model is not None and (model or "").lower() not in _aliases(rule.model):
                continue
            # The n-th request this rule sees draws the n-th number of its own stream.
            self.counters[index] += 1
            draw = hashlib.blake2b(
                f"{self.scenario.seed}:{index}:{self.counters[index]}".encode(), digest_size=8
            ).digest()
            if int.from_bytes(draw, "big") / 2**64 < rule.probability:
                chosen = chosen.merged(self.faults[index])
        return chosen


def _aliases(name: str) -> set[str]:
    lowered = name.lower()
    return {lowered, lowered.removesuffix(":latest"), f"{lowered}:latest"}
