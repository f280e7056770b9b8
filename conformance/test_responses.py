"""The responses checks as pytest items (see :mod:`conformance.checks.responses`)."""

from __future__ import annotations

import pytest

from conformance.pytest_bridge import run_in_pytest
from conformance.registry import Check, all_checks
from conformance.target import Target


@pytest.mark.parametrize("check", all_checks("responses"), ids=str)
def test_responses(
    check: Check, conformance_target: Target, request: pytest.FixtureRequest
) -> None:
    run_in_pytest(check, conformance_target, request)
