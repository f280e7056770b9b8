"""``ollama-harness check URL``: run the conformance suite against a server.

The suite is a pytest package; this command runs pytest in-process on it with
the options below (``--pytest ARGS`` passes more pytest arguments), so the command
and ``pytest --pyargs ollama_harness.conformance --ollama-url URL`` run exactly the same checks.

Exit statuses: 0 no required check failed (with ``--strict``: no check failed);
1 a required check failed (with ``--strict``: any check); 2 interrupted by
SIGINT or SIGTERM (the partial report is written); 3 and 4 pytest's internal and
usage errors; 5 no check selected; 6 the server stopped answering (the run
stopped, the remaining checks are marked "not run").
"""

from __future__ import annotations

import argparse
import shlex
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="check a server against the Ollama API (the conformance suite)",
        description="Run the conformance suite against URL and write conformance.json, "
        "junit.xml, conformance.md and conformance.html to the report directory.",
    )
    parser.add_argument("url", help="base URL of the server, e.g. http://127.0.0.1:11434")
    parser.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME",
        help="model to test (repeatable; default: every model /api/tags lists)",
    )
    parser.add_argument(
        "--level",
        choices=("core", "full"),
        default="full",
        help="core: generate and chat only (inference-only deployments); full: everything "
        "(default), /v1/messages (Anthropic) and /v1/responses (OpenAI) included",
    )
    parser.add_argument("--junit-xml", metavar="FILE", help="also write the run's JUnit XML here")
    parser.add_argument(
        "--report", metavar="DIR", default="reports", help="report directory (default: reports)"
    )
    parser.add_argument(
        "--registry", metavar="URL", help="registry for the pull/push checks (mock --registry)"
    )
    parser.add_argument(
        "--thorough",
        action="store_true",
        help="heavy profile: 10x property examples, random and shrunk, Schemathesis negative mode",
    )
    parser.add_argument(
        "--request-timeout",
        "--timeout",
        dest="timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="total deadline of one request, streams included (default 30: checks ask for "
        "few tokens; pull, push and create get more)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 on a failed recommended check too (default: required checks only)",
    )
    parser.add_argument(
        "-k", dest="keyword", metavar="EXPR", help="only checks whose name matches (pytest -k)"
    )
    parser.add_argument(
        "--pytest",
        dest="pytest_args",
        default="",
        metavar="ARGS",
        help="more pytest arguments, as one string (e.g. --pytest '-x --maxfail 3')",
    )
    parser.set_defaults(func=run_check)


def pytest_arguments(args: argparse.Namespace) -> list[str]:
    argv = [
        "--pyargs",
        "ollama_harness.conformance",
        "-p",
        "no:cacheprovider",
        "-q",
        # The CLI has imported other layers already; pytest cannot rewrite their asserts.
        "-W",
        "ignore::pytest.PytestAssertRewriteWarning",
        # Failures carry their reason and body; pytest's per-test sections would repeat them.
        "--tb=line",
        f"--ollama-url={args.url}",
        f"--ollama-level={args.level}",
        f"--ollama-report={args.report}",
        f"--ollama-timeout={args.timeout}",
    ]
    argv += [f"--ollama-model={name}" for name in args.model]
    if args.registry:
        argv.append(f"--ollama-registry={args.registry}")
    if args.thorough:
        argv.append("--ollama-thorough")
    if args.strict:
        argv.append("--ollama-strict")
    if args.junit_xml:
        argv.append(f"--ollama-junit-xml={args.junit_xml}")
    if args.keyword:
        argv += ["-k", args.keyword]
    return argv + shlex.split(args.pytest_args or "")


class _CommandLine:
    """Hands the exact command line to the report (instead of pytest's argv)."""

    def __init__(self, command: str) -> None:
        self.command = command

    def pytest_configure(self, config: Any) -> None:
        from ollama_harness.conformance.session import COMMAND_KEY

        config.stash[COMMAND_KEY] = self.command


def run_check(args: argparse.Namespace) -> int:
    import pytest

    from ollama_harness.conformance.session import command_line

    return int(pytest.main(pytest_arguments(args), plugins=[_CommandLine(command_line())]))
