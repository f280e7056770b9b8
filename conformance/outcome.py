"""How a check reports: it returns when it passed, or raises one of these.

A check may also :func:`note` what it saw (which documented variant of
Ollama's behaviour the server showed); notes travel with the check's result.
"""

from __future__ import annotations

import threading


class CheckFailed(AssertionError):  # noqa: N818 (reads as an outcome)
    """The server departs from the API: why, the body that shows it, and its root cause.

    ``cause`` groups failures in the report: the same status and message on the
    same operation (``POST /api/create answered 501: not implemented``) is one
    root cause however many checks it breaks.
    """

    def __init__(self, reason: str, excerpt: str = "", cause: str = "") -> None:
        super().__init__(f"{reason}\n{excerpt}" if excerpt else reason)
        self.reason = reason
        self.excerpt = excerpt
        self.cause = cause


class ServerUnreachable(CheckFailed):
    """No answer at all: refused, reset before a byte, or past the request deadline.

    The runner answers it with a health probe: a server that stops answering
    ends the run instead of failing every remaining check.
    """


class CheckSkipped(Exception):  # noqa: N818 (reads as an outcome)
    """The check cannot run here (missing capability, level, option): say why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Checks run one at a time; a check's worker threads may note too, hence the lock.
_NOTES: list[str] = []
_LOCK = threading.Lock()


def note(text: str) -> None:
    """Record what the running check saw (e.g. which documented variant); shown in reports."""
    with _LOCK:
        if text not in _NOTES:
            _NOTES.append(text)


def take_notes() -> list[str]:
    """The notes of the check that just ran, clearing them for the next one."""
    with _LOCK:
        items = list(_NOTES)
        _NOTES.clear()
    return items


# Differences a check only recommends against (exact wording) are collected while
# it runs and reported when it ends, so they never stop it before a required point.
_DEFERRED: list[CheckFailed] = []


def defer(failure: CheckFailed) -> None:
    """Record a recommended-only difference; the check goes on."""
    with _LOCK:
        _DEFERRED.append(failure)


def take_deferred() -> list[CheckFailed]:
    with _LOCK:
        items = list(_DEFERRED)
        _DEFERRED.clear()
    return items
