"""The ``ollama-harness`` command: one entry point, one module per subcommand.

Subcommand modules live in :mod:`ollama_harness.commands`; each exposes
``register(subparsers)`` and sets ``func`` on its parser. They import their
heavy layers (servers, locust, llama.cpp) only when run, so ``--help`` is quick
and a base install never touches the reference extra.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ollama_harness import __version__

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS: tuple[str, ...] = ("spec", "check", "report", "mock", "serve", "models", "load", "demo")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ollama-harness",
        description="Spec, mock server, reference server, conformance suite and load tool "
        "for the Ollama REST API.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"ollama_harness.commands.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
