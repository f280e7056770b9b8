"""The timings and counts of a final ``done: true`` line.

Ollama's Go structs tag them ``omitempty``: a zero metric is left out of the line
(a model already loaded has no ``load_duration``), never sent as 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Metrics:
    """Durations in nanoseconds, counts in tokens."""

    total_duration: int = 0
    load_duration: int = 0
    prompt_eval_count: int = 0
    prompt_eval_duration: int = 0
    eval_count: int = 0
    eval_duration: int = 0

    def add_to(self, line: dict[str, Any]) -> dict[str, Any]:
        """Set the non-zero metrics on ``line`` (one by one: every final line does this)."""
        if self.total_duration:
            line["total_duration"] = self.total_duration
        if self.load_duration:
            line["load_duration"] = self.load_duration
        if self.prompt_eval_count:
            line["prompt_eval_count"] = self.prompt_eval_count
        if self.prompt_eval_duration:
            line["prompt_eval_duration"] = self.prompt_eval_duration
        if self.eval_count:
            line["eval_count"] = self.eval_count
        if self.eval_duration:
            line["eval_duration"] = self.eval_duration
        return line

    def fields(self) -> dict[str, int]:
        """The non-zero metrics alone."""
        return self.add_to({})
