"""One raw sample per request, and the store that keeps them for the report.

Every figure in a load report is computed from these samples, never from Locust's
rounded histogram buckets. Intervals (TTFT, E2E, chunk gaps) are measured on
``time.perf_counter()`` inside the process that sent the request; ``scheduled_at``
is that process's monotonic clock shifted onto the epoch once at import, so samples
from several worker processes (or machines) share one timeline for bucketing.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterable, Iterator
from dataclasses import astuple, dataclass, field, fields
from pathlib import Path
from typing import Any, TextIO

#: Added to ``perf_counter()`` to place a monotonic instant on the epoch timeline.
EPOCH_OFFSET = time.time() - time.perf_counter()


def epoch_of(perf: float) -> float:
    """The epoch time of a ``perf_counter()`` reading taken in this process."""
    return EPOCH_OFFSET + perf


@dataclass(slots=True)
class Sample:
    """What one request measured. Times in milliseconds unless the name says otherwise."""

    request_id: str
    worker: int
    kind: str  # generate | chat | embed
    endpoint: str  # the path requested, e.g. /api/chat
    stream: bool
    users: int  # users running in this process when the request was scheduled
    scheduled_at: float  # epoch seconds of the scheduled send
    queue_ms: float  # actual send - scheduled send
    ttft_ms: float | None  # scheduled send -> first chunk with non-empty text
    e2e_ms: float  # scheduled send -> last byte
    output_tokens: int | None
    token_source: str  # eval_count | usage | chunks | none
    prompt_tokens: int | None
    chunks: int  # chunks that carried text
    chunk_gaps_ms: tuple[float, ...] = ()  # gaps between consecutive text chunks
    eval_count: int | None = None
    eval_duration_ns: int | None = None
    prompt_eval_count: int | None = None
    prompt_eval_duration_ns: int | None = None
    total_duration_ns: int | None = None
    load_duration_ns: int | None = None
    status: int = 0  # HTTP status; 0 when no response arrived
    error_kind: str = ""  # empty when the request succeeded
    error: str = ""
    response_bytes: int = field(default=0)

    @property
    def ok(self) -> bool:
        return not self.error_kind

    @property
    def end_at(self) -> float:
        """Epoch seconds of the last byte."""
        return self.scheduled_at + self.e2e_ms / 1000.0

    @property
    def itl_ms(self) -> float | None:
        """Inter-token latency per token: (E2E - TTFT) / (output tokens - 1)."""
        if self.ttft_ms is None or self.output_tokens is None or self.output_tokens < 2:
            return None
        return (self.e2e_ms - self.ttft_ms) / (self.output_tokens - 1)

    @property
    def tpot_ms(self) -> float | None:
        """Time per output token, the first one included: E2E / output tokens."""
        if not self.output_tokens:
            return None
        return self.e2e_ms / self.output_tokens

    @property
    def client_decode_tps(self) -> float | None:
        """Tokens per second after the first, as the client saw them arrive."""
        itl = self.itl_ms
        return 1000.0 / itl if itl else None

    @property
    def server_decode_tps(self) -> float | None:
        if not self.eval_count or not self.eval_duration_ns:
            return None
        return self.eval_count / self.eval_duration_ns * 1e9

    @property
    def server_prefill_tps(self) -> float | None:
        if not self.prompt_eval_count or not self.prompt_eval_duration_ns:
            return None
        return self.prompt_eval_count / self.prompt_eval_duration_ns * 1e9

    def to_wire(self) -> list[Any]:
        """A plain list for Locust's msgpack messages between worker and master."""
        row = list(astuple(self))
        row[FIELD_INDEX["chunk_gaps_ms"]] = list(self.chunk_gaps_ms)
        return row

    @classmethod
    def from_wire(cls, row: list[Any]) -> Sample:
        values = list(row)
        values[FIELD_INDEX["chunk_gaps_ms"]] = tuple(values[FIELD_INDEX["chunk_gaps_ms"]])
        return cls(*values)


FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Sample))
FIELD_INDEX: dict[str, int] = {name: i for i, name in enumerate(FIELD_NAMES)}
#: Columns written after the measured fields, computed from them (for spreadsheets).
DERIVED: tuple[str, ...] = (
    "itl_ms",
    "tpot_ms",
    "client_decode_tps",
    "server_decode_tps",
    "server_prefill_tps",
)
_INT_FIELDS = {
    "worker",
    "users",
    "output_tokens",
    "prompt_tokens",
    "chunks",
    "eval_count",
    "eval_duration_ns",
    "prompt_eval_count",
    "prompt_eval_duration_ns",
    "total_duration_ns",
    "load_duration_ns",
    "status",
    "response_bytes",
}
_FLOAT_FIELDS = {"scheduled_at", "queue_ms", "ttft_ms", "e2e_ms"}


class SampleStore:
    """All samples of one run, in arrival order, plus the in-flight counts per worker."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.in_flight: dict[int, int] = {}
        self.cut_off = 0  # requests still running when the run ended: not measured

    def add(self, sample: Sample) -> None:
        self.samples.append(sample)

    def extend(self, samples: Iterable[Sample]) -> None:
        self.samples.extend(samples)

    def __len__(self) -> int:
        return len(self.samples)

    def __iter__(self) -> Iterator[Sample]:
        return iter(self.samples)

    def clear(self) -> None:
        self.samples.clear()
        self.in_flight.clear()
        self.cut_off = 0


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:.6f}" if abs(value) > 1e6 else f"{value:.4f}"
    if isinstance(value, tuple):
        return " ".join(f"{v:.3f}" for v in value)
    return str(value)


def write_csv(samples: Iterable[Sample], out: TextIO) -> int:
    """Raw samples, one row each, measured fields then derived ones; returns rows."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((*FIELD_NAMES, *DERIVED))
    count = 0
    for sample in samples:
        measured = [_format(getattr(sample, name)) for name in FIELD_NAMES]
        derived = [_format(getattr(sample, name)) for name in DERIVED]
        writer.writerow(measured + derived)
        count += 1
    return count


def _parse(name: str, text: str) -> Any:
    if name == "chunk_gaps_ms":
        return tuple(float(v) for v in text.split()) if text else ()
    if name == "stream":
        return text == "1"
    if text == "":
        return None if name not in ("error_kind", "error", "request_id") else ""
    if name in _FLOAT_FIELDS:
        return float(text)
    if name in _INT_FIELDS:
        return int(text)
    return text


def read_csv(path: Path) -> list[Sample]:
    """Samples back from :func:`write_csv` (derived columns are recomputed, not read)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = set(FIELD_NAMES) - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: not a samples file, missing columns {sorted(missing)}")
        return [Sample(*(_parse(name, row[name]) for name in FIELD_NAMES)) for row in reader]
