"""The pytest plugin (entry point ``ollama_conformance``): options, then nothing.

It is loaded by every pytest run in an environment where ollama-harness is
installed, so importing it must cost nothing and it must stay inert unless
``--ollama-url`` is given. Only then is :mod:`conformance.session` imported
and registered; it collects results and writes the reports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ollama_harness.conformance.target import TargetOptions


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("ollama-conformance", "Ollama API conformance suite")
    group.addoption("--ollama-url", default=None, help="base URL of the server under test")
    group.addoption(
        "--ollama-model",
        action="append",
        default=[],
        help="model to test (repeatable; default: every model /api/tags lists)",
    )
    group.addoption(
        "--ollama-level",
        choices=("core", "full"),
        default="full",
        help="core: generate and chat only (inference-only deployments); full: everything, "
        "the Anthropic Messages and OpenAI Responses APIs included",
    )
    group.addoption(
        "--ollama-registry",
        default=None,
        help="registry URL for the pull and push checks (e.g. the mock in registry mode)",
    )
    group.addoption(
        "--ollama-thorough",
        action="store_true",
        default=False,
        help="heavy property-test profile: many random examples, with shrinking",
    )
    group.addoption(
        "--ollama-report",
        default="reports",
        help="directory for conformance.json, junit.xml, conformance.md and .html",
    )
    group.addoption(
        "--ollama-request-timeout",
        "--ollama-timeout",
        dest="ollama_timeout",
        type=float,
        default=30.0,
        help="total deadline of one request in seconds (default 30: checks ask for few tokens)",
    )
    group.addoption(
        "--ollama-strict",
        action="store_true",
        default=False,
        help="fail the run on recommended checks too (default: required ones only)",
    )
    group.addoption(
        "--ollama-junit-xml",
        default=None,
        help="also write the run's JUnit XML here (same counts as the console and reports)",
    )


def options_from_config(config: Any) -> TargetOptions | None:
    url = config.getoption("ollama_url", default=None)
    if not url:
        return None
    from ollama_harness.conformance.target import TargetOptions

    return TargetOptions(
        url=url,
        models=list(config.getoption("ollama_model") or []),
        level=config.getoption("ollama_level"),
        registry=config.getoption("ollama_registry"),
        thorough=bool(config.getoption("ollama_thorough")),
        timeout=float(config.getoption("ollama_timeout")),
    )


def pytest_configure(config: Any) -> None:
    if not config.getoption("ollama_url", default=None):
        return
    from ollama_harness.conformance.session import ConformanceSession

    options = options_from_config(config)
    if options is None:
        return
    session = ConformanceSession(config, options, bool(config.getoption("ollama_strict")))
    config.pluginmanager.register(session, "ollama-conformance-session")
