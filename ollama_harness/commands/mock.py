"""``ollama-harness mock``: run the deterministic mock server.

Every field of :class:`mockserver.settings.MockSettings` is a flag; a flag beats
the ``OLLAMA_*`` environment variable, which beats the default.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ollama_harness.commands._settings import add_settings_arguments, settings_from_arguments


def register(subparsers: Any) -> None:
    from ollama_harness.mockserver.settings import MockSettings

    parser = subparsers.add_parser(
        "mock",
        help="run the deterministic mock Ollama server",
        description="Run the deterministic mock of the Ollama API. Precedence: flag > "
        "OLLAMA_<FIELD> environment variable > default. Request headers X-Mock-Timing "
        "and X-Mock-Fault steer single requests (see README).",
    )
    add_settings_arguments(parser, MockSettings)
    parser.add_argument(
        "--dump-models",
        action="store_true",
        help="print the built-in model catalogue as YAML (a template for --models) and exit",
    )
    parser.set_defaults(func=run)


def build_settings(args: argparse.Namespace) -> Any:
    from ollama_harness.mockserver.settings import MockSettings

    return settings_from_arguments(args, MockSettings)


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    if args.dump_models:
        from ollama_harness.mockserver.catalogue import dump_default_catalogue

        sys.stdout.write(dump_default_catalogue())
        return 0
    try:
        settings = build_settings(args)
    except ValidationError as exc:
        print(f"invalid settings: {exc}", file=sys.stderr)
        return 2

    import uvicorn

    from ollama_harness.mockserver.app import create_app
    from ollama_harness.mockserver.testing import bound_socket

    # Bound here and handed to uvicorn: port 0 becomes a free port no one can take
    # between choosing it and listening on it.
    sock = bound_socket(settings.host, settings.port)
    settings.port = int(sock.getsockname()[1])

    try:
        app = create_app(settings)
    except (OSError, ValueError) as exc:
        print(f"cannot start the mock: {exc}", file=sys.stderr)
        return 2
    from ollama_harness.mockserver.app import freeze_startup_objects

    freeze_startup_objects()
    print(
        f"mock Ollama on http://{settings.host}:{settings.port} "
        f"(clock={settings.clock}, {len(app.state.store.models)} models)",
        file=sys.stderr,
    )
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
    return 0
