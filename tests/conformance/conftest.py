"""Fixtures of the conformance suite's own tests: one correct mock per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ollama_harness.mockserver.testing import MockServer


@pytest.fixture(scope="module")
def quirk_mock() -> Iterator[MockServer]:
    """One correct mock for a module's quirky proxies (see ``quirky_servers.py``)."""
    with MockServer() as mock:
        yield mock
