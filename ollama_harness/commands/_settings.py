"""Command-line flags built from a server's pydantic-settings class.

One surface per server: every field is a ``--flag`` whose help names its
``OLLAMA_*`` variable and default. A flag given on the command line is passed to
the settings class as an init argument, which pydantic-settings ranks above the
environment, which ranks above the default.
"""

from __future__ import annotations

import argparse
import typing
from typing import Any, TypeVar

from pydantic_settings import BaseSettings

S = TypeVar("S", bound=BaseSettings)


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_settings_arguments(parser: argparse.ArgumentParser, settings: type[BaseSettings]) -> None:
    for name, field in settings.model_fields.items():
        help_text = f"{field.description} [env OLLAMA_{name.upper()}, default {field.default}]"
        kwargs: dict[str, Any] = {"dest": name, "default": None, "help": help_text}
        annotation = field.annotation
        if annotation is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(annotation) is typing.Literal:
            kwargs["choices"] = list(typing.get_args(annotation))
        elif annotation in (int, float):
            kwargs["type"] = annotation
        parser.add_argument(flag(name), **kwargs)


def settings_from_arguments(args: argparse.Namespace, settings: type[S]) -> S:
    """The settings with every flag the user gave taking precedence."""
    given = {
        name: getattr(args, name)
        for name in settings.model_fields
        if getattr(args, name, None) is not None
    }
    return settings(**given)
