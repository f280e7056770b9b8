"""``ollama-harness serve``: the llama.cpp-backed reference server.

One flag per field of :class:`realserver.settings.RealServerSettings`; a flag
given on the command line wins over its ``OLLAMA_*`` variable, which wins over
the default.
"""

from __future__ import annotations

import argparse
from typing import Any

from pydantic import ValidationError

from realserver.settings import RealServerSettings


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the reference server (real inference on llama.cpp)",
        description="Serve the Ollama API from the local model store with llama.cpp. "
        "Every option also reads its OLLAMA_* environment variable.",
    )
    for name, field in RealServerSettings.model_fields.items():
        env = f"OLLAMA_{name.upper()}"
        help_text = f"{field.description} [env {env}, default {field.default}]"
        if field.annotation is bool:
            parser.add_argument(
                _flag(name),
                dest=name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        else:
            parser.add_argument(_flag(name), dest=name, default=None, help=help_text)
    parser.add_argument(
        "--log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn log level (default warning)",
    )
    parser.set_defaults(func=run)


def settings_from(args: argparse.Namespace) -> RealServerSettings:
    given = {
        name: getattr(args, name)
        for name in RealServerSettings.model_fields
        if getattr(args, name, None) is not None
    }
    return RealServerSettings(**given)


def run(args: argparse.Namespace) -> int:
    try:
        settings = settings_from(args)
    except ValidationError as exc:
        print(f"invalid settings:\n{exc}")
        return 2
    from realserver.server import serve

    return serve(settings, log_level=args.log_level)
