"""The fast acceptance path agrees with the core validator on what is valid."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mockserver.validation import RequestValidator
from ollama_harness.spec import Spec, load_spec

SPEC = load_spec()
VALIDATOR = RequestValidator(SPEC)
OPERATIONS = sorted(
    op.operation_id
    for op in SPEC.operations.values()
    if op.has_request_body and "application/json" in op.raw["requestBody"].get("content", {})
)
_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from(
        ["", "json", "smollm2:135m", "bad name!", "5m", "high", "user", "sha256:" + "a" * 64]
    ),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["role", "content", "type", "function", "name", "num_ctx", "stop"]),
            inner,
            max_size=3,
        )
    ),
    max_leaves=6,
)
_KEYS = st.sampled_from(
    [
        "model",
        "name",
        "prompt",
        "messages",
        "stream",
        "options",
        "format",
        "keep_alive",
        "think",
        "input",
        "images",
        "tools",
        "source",
        "destination",
        "files",
        "dimensions",
        "top_logprobs",
        "stream_options",
        "max_tokens",
        "stop",
        "response_format",
    ]
)


def test_fast_validator_is_in_use() -> None:
    validator = RequestValidator(SPEC)
    pytest.importorskip("jsonschema_rs")
    assert "jsonschema_rs" in type(validator.accepts("generate").__self__).__module__  # type: ignore[attr-defined]


@settings(max_examples=300, deadline=None)
@given(op=st.sampled_from(OPERATIONS), body=st.dictionaries(_KEYS, _VALUES, max_size=5))
def test_fast_and_core_validators_agree(op: str, body: dict[str, Any]) -> None:
    fast = VALIDATOR.accepts(op)(body)
    core = SPEC.validate_request(op, body) == []
    assert fast == core, (op, body, SPEC.validate_request(op, body))


def test_valid_examples_agree(spec: Spec) -> None:
    validator = RequestValidator(spec)
    body = {
        "model": "smollm2:135m",
        "prompt": "hi",
        "options": {"num_predict": 3},
        "keep_alive": "5m",
    }
    assert validator.accepts("generate")(body)
    assert not validator.accepts("generate")({**body, "keep_alive": "5 minutes"})
