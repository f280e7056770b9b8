"""Run a registered check as a pytest item and leave what the reports need on it."""

from __future__ import annotations

import pytest

from conformance.outcome import CheckFailed, CheckSkipped
from conformance.registry import Check
from conformance.target import Target


def run_in_pytest(chk: Check, target: Target, request: pytest.FixtureRequest) -> None:
    # The check's identity is put on the item by the session plugin at setup.
    props = request.node.user_properties
    try:
        target.require_level(chk.level)
        chk.func(target)
    except CheckSkipped as exc:
        pytest.skip(exc.reason)
    except CheckFailed as exc:
        props += [("reason", exc.reason), ("excerpt", exc.excerpt)]
        pytest.fail(f"{exc.reason}\n{exc.excerpt}".rstrip(), pytrace=False)
