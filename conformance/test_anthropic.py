"""The anthropic checks as pytest items (see :mod:`conformance.checks.anthropic`)."""

from __future__ import annotations

import pytest

from ollama_harness.conformance.pytest_bridge import run_in_pytest
from ollama_harness.conformance.registry import Check, all_checks
from ollama_harness.conformance.target import Target


@pytest.mark.parametrize("check", all_checks("anthropic"), ids=str)
def test_anthropic(
    check: Check, conformance_target: Target, request: pytest.FixtureRequest
) -> None:
    run_in_pytest(check, conformance_target, request)
