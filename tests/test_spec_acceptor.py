"""The compiled acceptance check agrees with the Python validator on what is valid."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ollama_harness.core.spec import Spec, load_spec

SPEC = load_spec()
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


def python_accepts(spec: Spec, op: str, body: Any) -> bool:
    return bool(spec.validator_at(spec.request_pointer(op)).is_valid(body))


def test_fast_validator_is_in_use() -> None:
    pytest.importorskip("jsonschema_rs")
    acceptor = SPEC.request_acceptor("generate")
    assert "jsonschema_rs" in type(acceptor.__self__).__module__  # type: ignore[attr-defined]


@settings(max_examples=300, deadline=None)
@given(op=st.sampled_from(OPERATIONS), body=st.dictionaries(_KEYS, _VALUES, max_size=5))
def test_fast_and_python_validators_agree(op: str, body: dict[str, Any]) -> None:
    fast = SPEC.request_acceptor(op)(body)
    assert fast == python_accepts(SPEC, op, body), (op, body, SPEC.validate_request(op, body))
    assert (SPEC.validate_request(op, body) == []) == fast


def test_valid_examples_agree() -> None:
    spec = SPEC
    body = {
        "model": "smollm2:135m",
        "prompt": "hi",
        "options": {"num_predict": 3},
        "keep_alive": "5m",
    }
    assert spec.request_acceptor("generate")(body) and python_accepts(spec, "generate", body)
    late = {**body, "keep_alive": "5 minutes"}
    assert not spec.request_acceptor("generate")(late)
    assert not python_accepts(spec, "generate", late)
    assert spec.validate_request("generate", late)  # the refusal still names its issue
