"""``ollama-harness serve``: the llama.cpp-backed reference server.

One flag per field of :class:`realserver.settings.RealServerSettings`; a flag
given on the command line wins over its ``OLLAMA_*`` variable, which wins over
the default.
"""

from __future__ import annotations

import argparse
from typing import Any

from pydantic import ValidationError

from ollama_harness.commands._settings import add_settings_arguments, settings_from_arguments
from ollama_harness.realserver.settings import RealServerSettings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the reference server (real inference on llama.cpp)",
        description="Serve the Ollama API from the local model store with llama.cpp. "
        "Every option also reads its OLLAMA_* environment variable.",
    )
    add_settings_arguments(parser, RealServerSettings)
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn log level (default warning)",
    )
    parser.set_defaults(func=run)


def settings_from(args: argparse.Namespace) -> RealServerSettings:
    return settings_from_arguments(args, RealServerSettings)


def run(args: argparse.Namespace) -> int:
    try:
        settings = settings_from(args)
    except ValidationError as exc:
        print(f"invalid settings:\n{exc}")
        return 2
    from ollama_harness.realserver.server import serve

    return serve(settings, log_level=args.log_level)
