"""Fixtures of the conformance tests: one discovered server per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.session import TARGET_KEY
from conformance.target import Target, discover


@pytest.fixture(scope="session")
def conformance_target(request: pytest.FixtureRequest) -> Iterator[Target]:
    from conformance.plugin import options_from_config

    options = options_from_config(request.config)
    if options is None:
        pytest.skip("no --ollama-url given: the conformance suite needs a server")
    target = discover(options)
    request.config.stash[TARGET_KEY] = target
    yield target
    target.client.close()
