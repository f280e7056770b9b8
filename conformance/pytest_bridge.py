"""Run a registered check as a pytest item and hand its result to the session plugin."""

from __future__ import annotations

import pytest

from ollama_harness.conformance.registry import Check, run_check
from ollama_harness.conformance.target import Target


def run_in_pytest(chk: Check, target: Target, request: pytest.FixtureRequest) -> None:
    """Run through :func:`run_check`, exactly as outside pytest, then tell pytest the verdict."""
    result = run_check(chk, target)
    session = request.config.pluginmanager.get_plugin("ollama-conformance-session")
    if session is not None:
        session.record(request.node.nodeid, result)
    if result.outcome == "skipped":
        pytest.skip(result.reason)
    if result.outcome in ("failed", "error"):
        # pytrace=False: the reason and the body are the message, never a traceback.
        crashed = "the check crashed: " if result.outcome == "error" else ""
        label = f"[{result.severity}] {crashed}"
        pytest.fail(f"{label}{result.reason}\n{result.excerpt}".rstrip(), pytrace=False)
