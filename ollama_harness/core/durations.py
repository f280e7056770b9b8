"""Durations as Ollama reads them: Go duration strings or numbers of seconds.

``keep_alive`` accepts ``"5m"``, ``"1h30m"``, ``"300ms"``, ``"0"`` or a number of
seconds. Any negative value means "keep loaded forever", which we return as ``None``.
"""

from __future__ import annotations

import re

#: Go's time.ParseDuration grammar (also the spec's Duration pattern).
DURATION_PATTERN = r"^[-+]?(0|([0-9]*(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+)$"

_DURATION_RE = re.compile(DURATION_PATTERN)
_UNIT_RE = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|ms|s|m|h)")
_UNIT_SECONDS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


class DurationError(ValueError):
    """A value that is neither a Go duration string nor a number."""


def parse_go_duration(text: str) -> float:
    """Seconds in a Go duration string; raises :class:`DurationError` like Go would."""
    if not _DURATION_RE.match(text):
        raise DurationError(f'time: invalid duration "{text}"')
    sign = -1.0 if text.startswith("-") else 1.0
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    total = 0.0
    for number, unit in _UNIT_RE.findall(body):
        if number in ("", "."):
            raise DurationError(f'time: invalid duration "{text}"')
        total += float(number) * _UNIT_SECONDS[unit]
    return sign * total


def parse_keep_alive(value: object, default: float | None = 300.0) -> float | None:
    """Seconds to keep a model loaded; ``None`` means forever.

    ``value`` is what the request carried (absent: ``None``). Numbers are seconds,
    strings are Go durations. Negative values keep the model loaded forever.
    """
    if value is None:
        return default
    if isinstance(value, bool):
        raise DurationError("keep_alive must be a duration string or a number")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = parse_go_duration(value)
    else:
        raise DurationError("keep_alive must be a duration string or a number")
    return None if seconds < 0 else seconds


def format_go_duration(seconds: float) -> str:
    """The inverse, for messages and Modelfiles: ``300`` becomes ``"5m0s"``."""
    if seconds == 0:
        return "0s"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    frac = seconds - whole
    out = ""
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    sec_text = f"{secs + frac:.9f}".rstrip("0").rstrip(".")
    return f"{out}{sec_text}s"
