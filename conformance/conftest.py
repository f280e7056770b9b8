"""Fixtures of the conformance tests: the server the session plugin discovered."""

from __future__ import annotations

import pytest

from ollama_harness.conformance.session import TARGET_KEY
from ollama_harness.conformance.target import Target


@pytest.fixture(scope="session")
def conformance_target(request: pytest.FixtureRequest) -> Target:
    target = request.config.stash.get(TARGET_KEY, None)
    if target is None:
        pytest.skip("no --ollama-url given: the conformance suite needs a server")
    return target
