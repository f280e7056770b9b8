"""Run a registered check as a pytest item and leave what the reports need on it."""

from __future__ import annotations

import pytest

from conformance.outcome import CheckFailed, CheckSkipped
from conformance.registry import Check
from conformance.target import Target


def run_in_pytest(chk: Check, target: Target, request: pytest.FixtureRequest) -> None:
    # The check's identity is put on the item by the session plugin at setup.
    props = request.node.user_properties
    skipped: CheckSkipped | None = None
    failed: CheckFailed | None = None
    try:
        target.require_level(chk.level)
        chk.func(target)
    except CheckSkipped as exc:
        skipped = exc
    except CheckFailed as exc:
        failed = exc
    # Outside the except blocks, so pytest does not print the check's exception
    # chained under its own.
    if skipped is not None:
        pytest.skip(skipped.reason)
    if failed is not None:
        props += [("reason", failed.reason), ("excerpt", failed.excerpt)]
        pytest.fail(f"{failed.reason}\n{failed.excerpt}".rstrip(), pytrace=False)
