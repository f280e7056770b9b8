"""Ollama's words for a refused or failed request (server/routes.go, sched.go).

The validation of a body against the spec is translated by
:mod:`ollama_harness.core.errors`; these are the refusals a handler decides on
after validation: a missing model, a capability the model lacks, a full queue.
"""

from __future__ import annotations

# sched.go's ErrMaxQueue (two spaces after the full stop, as Ollama writes it).
BUSY = "server busy, please try again.  maximum pending requests exceeded"
RAW_MODE_CONFLICT = "raw mode does not support template, system, or context"
MODEL_REQUIRED = "model is required"
INVALID_MODEL_NAME = "invalid model name"
INVALID_INPUT = "invalid input"
INVALID_INPUT_TYPE = "invalid input type"
CONTEXT_EXCEEDED = "the input length exceeds the context length"
ILLEGAL_BASE64 = "illegal base64 data at input byte 0"
MESSAGES_TOO_SHORT = "[] is too short - 'messages'"  # the /v1 middleware's own wording
# gin's plain-text bodies for an unknown path and a wrong method.
PAGE_NOT_FOUND = "404 page not found"
METHOD_NOT_ALLOWED = "405 method not allowed"
_RUNNER_FAILED = "an error was encountered while running the model: "
_LOAD_FAILED = "llama runner failed to load the model: "
_DOES_NOT_SUPPORT = " does not support "
_TRY_PULLING = " not found, try pulling it first"


def does_not_support(model: str, what: str) -> str:
    """``"llama3" does not support tools`` (Go's %q of the requested name)."""
    return f'"{model}"{_DOES_NOT_SUPPORT}{what}'


def model_not_found(model: str) -> str:
    """The generate / chat / show wording."""
    return f"model '{model}' not found"


def model_not_found_pull(model: str) -> str:
    """The embed / embeddings wording."""
    return f'model "{model}"{_TRY_PULLING}'


def copy_source_not_found(model: str) -> str:
    """``/api/copy`` quotes the name the Go way (%q), unlike the other routes."""
    return f'model "{model}" not found'


def runner_failed(detail: object) -> str:
    """A generation that failed after it started (the runner's error, wrapped)."""
    return f"{_RUNNER_FAILED}{detail}"


def load_failed(detail: object) -> str:
    return f"{_LOAD_FAILED}{detail}"


WIRE_STRINGS: tuple[str, ...] = (
    "server busy, please try again",
    MODEL_REQUIRED,
    INVALID_MODEL_NAME,
    INVALID_INPUT,
    RAW_MODE_CONFLICT,
    CONTEXT_EXCEEDED,
    ILLEGAL_BASE64,
    MESSAGES_TOO_SHORT,
    PAGE_NOT_FOUND,
    METHOD_NOT_ALLOWED,
    _RUNNER_FAILED.strip(),
    _LOAD_FAILED.strip(),
    _DOES_NOT_SUPPORT.rstrip(),
    _TRY_PULLING,
)
