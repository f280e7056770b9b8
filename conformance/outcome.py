"""How a check reports: it returns when it passed, or raises one of these."""

from __future__ import annotations


class CheckFailed(AssertionError):  # noqa: N818 (reads as an outcome)
    """The server departs from the API: why, and the body that shows it."""

    def __init__(self, reason: str, excerpt: str = "") -> None:
        super().__init__(f"{reason}\n{excerpt}" if excerpt else reason)
        self.reason = reason
        self.excerpt = excerpt


class CheckSkipped(Exception):  # noqa: N818 (reads as an outcome)
    """The check cannot run here (missing capability, level, option): say why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
