"""The result of a run, as written to ``conformance.json`` and read back by reports."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: The file that marks a directory as a conformance run (``report`` detects kinds by it).
RESULT_FILE = "conformance.json"
OUTCOMES = ("passed", "failed", "error", "skipped")


@dataclass
class CheckResult:
    check_id: str
    area: str
    operation: str
    title: str
    outcome: str  # one of OUTCOMES
    reason: str = ""
    excerpt: str = ""
    duration: float = 0.0
    nodeid: str = ""


@dataclass
class RunResult:
    url: str
    level: str
    command: str
    started: str
    duration: float = 0.0
    server_version: str | None = None
    spec_version: str = ""
    models: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    results: list[CheckResult] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(OUTCOMES, 0)
        for result in self.results:
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
        return counts

    @property
    def ok(self) -> bool:
        counts = self.counts()
        return counts["failed"] == 0 and counts["error"] == 0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["counts"] = self.counts()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunResult:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["results"] = [CheckResult(**r) for r in data.get("results", [])]
        return cls(**fields)

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / RESULT_FILE
        path.write_text(json.dumps(self.to_json(), indent=2), encoding="utf-8")
        return path

    @classmethod
    def read(cls, directory: Path) -> RunResult:
        path = directory / RESULT_FILE if directory.is_dir() else directory
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
