"""Suite-wide hooks: the ``reference`` marker skips a test when llama-cpp-python is absent."""

from __future__ import annotations

import pytest

from tests.support import HAS_LLAMA


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if HAS_LLAMA:
        return
    skip = pytest.mark.skip(reason="llama-cpp-python (the reference extra) is not installed")
    for item in items:
        if item.get_closest_marker("reference") is not None:
            item.add_marker(skip)
