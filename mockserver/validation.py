"""Request validation against the spec, with a fast acceptance path.

Every body is checked against the spec's request schema. Most bodies are valid,
so the mock first asks a compiled Rust validator (``jsonschema_rs``, installed
with schemathesis) whether the body is valid; only a body it refuses goes
through the core's Python validator, which names the first issue in Ollama's
words. Without ``jsonschema_rs`` the Python validator's ``is_valid`` plays the
same role. A test keeps the two validators in agreement.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ollama_harness.errors import request_error
from ollama_harness.spec import Spec

log = logging.getLogger("mockserver")

IsValid = Callable[[Any], bool]


def _rust_validator(spec: Spec, pointer: str) -> IsValid | None:
    try:
        import jsonschema_rs
    except ImportError:
        return None
    # The whole document is the root, so "#/components/..." references resolve; its
    # OpenAPI keys (openapi, info, paths) are unknown keywords and ignored.
    encoded = pointer.replace("{", "%7B").replace("}", "%7D")
    root = {**spec.document, "$ref": "#" + encoded}
    root.pop("$schema", None)
    try:
        validator = jsonschema_rs.validator_for(root, validate_formats=True)
    except Exception as exc:  # a schema the Rust side cannot compile: use Python only
        log.warning("fast validator unavailable for %s: %s", pointer, exc)
        return None
    is_valid: IsValid = validator.is_valid
    return is_valid


class RequestValidator:
    """``check(operation_id, body)``: None, or raise the ApiError Ollama would give."""

    def __init__(self, spec: Spec, *, fast: bool = True) -> None:
        self.spec = spec
        self.fast = fast
        self._checks: dict[str, IsValid] = {}

    def accepts(self, operation_id: str) -> IsValid:
        check = self._checks.get(operation_id)
        if check is None:
            pointer = self.spec.request_pointer(operation_id)
            check = _rust_validator(self.spec, pointer) if self.fast else None
            if check is None:
                check = self.spec.validator_at(pointer).is_valid
            self._checks[operation_id] = check
        return check

    def check(self, operation_id: str, body: Any) -> None:
        if self.accepts(operation_id)(body):
            return
        error = request_error(operation_id, body, self.spec.validate_request(operation_id, body))
        if error is not None:
            raise error
