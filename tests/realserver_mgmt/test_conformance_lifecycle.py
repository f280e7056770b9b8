"""The conformance suite's model-management checks pass against the reference server.

The lifecycle area (create, copy, delete, blobs, show, pull and push through
``--registry``) at level ``full``, with the mock in registry mode as the registry,
against a reference server holding only a tiny F16 model built in the test.
"""

from __future__ import annotations

from pathlib import Path

from ollama_harness.conformance.registry import all_checks
from ollama_harness.conformance.runner import run_suite
from ollama_harness.conformance.target import TargetOptions
from ollama_harness.mockserver.testing import MockServer
from tests.support import needs_llama

from .conftest import RefServer


@needs_llama
def test_lifecycle_checks_pass(ref: RefServer, registry: MockServer, tiny_f16: Path) -> None:
    digest = ref.upload(tiny_f16)
    ref.lines("/api/create", {"model": "tiny", "files": {"m.gguf": digest}})
    checks = [c for c in all_checks() if c.area == "lifecycle"]
    assert len(checks) >= 8
    options = TargetOptions(url=ref.url, level="full", registry=registry.url, timeout=120)
    run = run_suite(options, checks)
    bad = [(r.check_id, r.reason) for r in run.results if r.outcome in ("failed", "error")]
    assert bad == []
    passed = {r.check_id for r in run.results if r.outcome == "passed"}
    assert len(passed) == len(checks), [(r.check_id, r.reason) for r in run.results]
