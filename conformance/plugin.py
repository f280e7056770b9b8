"""The pytest plugin (entry point ``ollama_conformance``): options, then nothing.

It is loaded by every pytest run in an environment where ollama-harness is
installed, so importing it must cost nothing and it must stay inert unless
``--ollama-url`` is given. Only then is :mod:`conformance.session` imported
and registered; it collects results and writes the reports.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from conformance.target import TargetOptions


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
        choices=("core", "full", "compat"),
        default="full",
        help="core: generate and chat only (inference-only deployments); full: everything; "
        "compat: full plus the Anthropic Messages and OpenAI Responses APIs",
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
        "--ollama-timeout", type=float, default=120.0, help="seconds per request before failing"
    )


def options_from_config(config: Any) -> TargetOptions | None:
    url = config.getoption("ollama_url", default=None)
    if not url:
        return None
    from conformance.target import TargetOptions

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
    from conformance.session import ConformanceSession

    config.pluginmanager.register(ConformanceSession(config), "ollama-conformance-session")
