"""The result of a run, as written to ``conformance.json`` and read back by reports.

Outcomes are defined once, here, and every output (console, JSON, JUnit,
Markdown, HTML) counts them with :meth:`RunResult.counts`:

- ``passed``: the server met the check's expectation;
- ``failed``: the server departs from it, or gave no answer within the deadline
  (a *failure*; its ``severity`` says whether it is required or recommended);
- ``error``: the check itself could not reach a verdict (a defect of the suite,
  an answer it could not handle); counted like a failure of its severity;
- ``skipped``: the check does not apply here (capability, level, option);
- ``not_run``: the run stopped before it (server down, interrupted).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

#: The file that marks a directory as a conformance run (``report`` detects kinds by it).
RESULT_FILE = "conformance.json"
OUTCOMES = ("passed", "failed", "error", "skipped", "not_run")
SEVERITIES = ("required", "recommended")
#: The words of an outcome in the console and the reports.
LABEL = {
    "passed": "passed",
    "failed": "failed",
    "error": "errors",
    "skipped": "skipped",
    "not_run": "not run",
}


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
    severity: str = "required"  # one of SEVERITIES
    source: str = ""
    cause: str = ""
    notes: list[str] = field(default_factory=list)
    #: The check got no answer at all (the runner then probes the server's health).
    unreachable: bool = False

    @property
    def bad(self) -> bool:
        return self.outcome in ("failed", "error")


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
    #: What the server calls itself (``Server`` header) and says of its version.
    server: str = ""
    strict: bool = False
    interrupted: bool = False
    #: The check after which the server stopped answering, if it did.
    server_down_since: str | None = None

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(OUTCOMES, 0)
        for result in self.results:
            counts[result.outcome] = counts.get(result.outcome, 0) + 1
        return counts

    def severity_counts(self) -> dict[str, dict[str, int]]:
        """Outcomes per severity: ``{"required": {"passed": 3, ...}, ...}``."""
        table = {s: dict.fromkeys(OUTCOMES, 0) for s in SEVERITIES}
        for result in self.results:
            table.setdefault(result.severity, dict.fromkeys(OUTCOMES, 0))
            table[result.severity][result.outcome] += 1
        return table

    def area_scores(self) -> dict[str, dict[str, tuple[int, int]]]:
        """Per area and severity: (passed, checks that reached a verdict)."""
        scores: dict[str, dict[str, tuple[int, int]]] = {}
        for result in self.results:
            if result.outcome not in ("passed", "failed", "error"):
                continue
            area = scores.setdefault(result.area, {})
            passed, total = area.get(result.severity, (0, 0))
            area[result.severity] = (passed + (result.outcome == "passed"), total + 1)
        return scores

    def failing(self, severity: str | None = None) -> list[CheckResult]:
        return [r for r in self.results if r.bad and severity in (None, r.severity)]

    @property
    def ok(self) -> bool:
        """No required failure (with ``strict``, no failure at all) and a complete run."""
        failing = self.failing() if self.strict else self.failing("required")
        return not failing and not self.interrupted and self.server_down_since is None

    def summary(self) -> str:
        """One line of counts, worded the same in every output."""
        counts = self.counts()
        per = self.severity_counts()
        parts = []
        for outcome in OUTCOMES:
            text = f"{counts[outcome]} {LABEL[outcome]}"
            if outcome in ("failed", "error") and counts[outcome]:
                text += (
                    f" ({per['required'][outcome]} required, "
                    f"{per['recommended'][outcome]} recommended)"
                )
            parts.append(text)
        return ", ".join(parts)

    def server_label(self) -> str:
        """The server's name and version as discovery found them, never 'None'."""
        version = f"version {self.server_version}" if self.server_version else "version unknown"
        return f"{self.server or 'unnamed server'}, {version}"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["counts"] = self.counts()
        data["severity_counts"] = self.severity_counts()
        data["ok"] = self.ok
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunResult:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        known = CheckResult.__dataclass_fields__
        fields["results"] = [
            CheckResult(**{k: v for k, v in r.items() if k in known})
            for r in data.get("results", [])
        ]
        return cls(**fields)

    def write(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / RESULT_FILE
        # Written whole to a temporary name, then renamed: an interrupted run
        # never leaves half a JSON file behind.
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2), encoding="utf-8")
        tmp.replace(path)
        return path

    @classmethod
    def read(cls, directory: Path) -> RunResult:
        path = directory / RESULT_FILE if directory.is_dir() else directory
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
