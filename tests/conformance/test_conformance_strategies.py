"""The spec-derived strategies draw what the spec accepts (valid) and refuses (invalid)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from ollama_harness.conformance.strategies import invalid_request_strategy, request_strategy
from ollama_harness.core.spec import load_spec

OPERATIONS = [
    op.operation_id
    for op in load_spec().operations.values()
    if "application/json" in op.raw.get("requestBody", {}).get("content", {})
]
PROFILE = settings(
    max_examples=40, database=None, derandomize=True, suppress_health_check=list(HealthCheck)
)


def test_every_operation_with_a_body_is_covered() -> None:
    assert {"generate", "chat", "embed", "create", "openaiChatCompletions"} <= set(OPERATIONS)


@pytest.mark.parametrize("op_id", OPERATIONS)
def test_valid_strategy_draws_bodies_the_spec_accepts(op_id: str) -> None:
    spec = load_spec()

    @PROFILE
    @given(request_strategy(spec, op_id))
    def drawn(body: Any) -> None:
        assert spec.validate_request(op_id, body) == [], body

    drawn()


@pytest.mark.parametrize("op_id", OPERATIONS)
def test_invalid_strategy_draws_bodies_the_spec_refuses(op_id: str) -> None:
    spec = load_spec()

    @PROFILE
    @given(invalid_request_strategy(spec, op_id))
    def drawn(body: Any) -> None:
        assert spec.validate_request(op_id, body), body

    drawn()
