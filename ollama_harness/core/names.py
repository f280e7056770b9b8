"""The model-name grammar shared by every server and by the spec.

Ollama names look like ``[host/][namespace/]model[:tag]``. Each part is 1-80
characters and starts with a letter, digit or underscore, so a part can never be
``.`` or ``..``: a valid name never builds a path outside the model store.
The same patterns appear in ``spec/openapi.yaml`` (``ModelName``); a test keeps
them identical.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEFAULT_HOST = "registry.ollama.ai"
DEFAULT_NAMESPACE = "library"
DEFAULT_TAG = "latest"

_PART = r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,79}"
_HOST = r"[A-Za-z0-9_][A-Za-z0-9_.:\-]{0,79}"

#: The grammar as one anchored regular expression (also the spec's ModelName pattern).
MODEL_NAME_PATTERN = rf"^(?:{_HOST}/{_PART}/|{_PART}/)?{_PART}(?::{_PART})?$"

# The same language with named groups; used with fullmatch so that a trailing
# newline (which `$` tolerates) is refused.
_NAME_RE = re.compile(
    rf"(?:(?P<host>{_HOST})/(?P<ns_after_host>{_PART})/|(?P<namespace>{_PART})/)?"
    rf"(?P<model>{_PART})(?::(?P<tag>{_PART}))?"
)


class ModelNameError(ValueError):
    """A model name that does not match the grammar."""


@dataclass(frozen=True, slots=True)
class ModelName:
    """A fully qualified model name; every part is filled with its default."""

    host: str
    namespace: str
    model: str
    tag: str

    @property
    def display(self) -> str:
        """The short form Ollama shows: defaults omitted, tag always present."""
        prefix = ""
        if self.host != DEFAULT_HOST:
            prefix = f"{self.host}/{self.namespace}/"
        elif self.namespace != DEFAULT_NAMESPACE:
            prefix = f"{self.namespace}/"
        return f"{prefix}{self.model}:{self.tag}"

    @property
    def key(self) -> str:
        """Case-insensitive identity: Ollama looks names up without case."""
        return f"{self.host}/{self.namespace}/{self.model}:{self.tag}".lower()

    def manifest_parts(self) -> tuple[str, str, str, str]:
        """Path components of the manifest, as Ollama lays them out on disk."""
        return (self.host, self.namespace, self.model, self.tag)

    def __str__(self) -> str:
        return self.display


def is_valid_model_name(text: str) -> bool:
    return isinstance(text, str) and _NAME_RE.fullmatch(text) is not None


def parse_model_name(text: str) -> ModelName:
    """Parse and fill defaults; raise :class:`ModelNameError` when the grammar is not met."""
    if not isinstance(text, str) or "\x00" in text:
        raise ModelNameError("invalid model name")
    match = _NAME_RE.fullmatch(text)
    if match is None:
        raise ModelNameError("invalid model name")
    return ModelName(
        host=match["host"] or DEFAULT_HOST,
        namespace=match["ns_after_host"] or match["namespace"] or DEFAULT_NAMESPACE,
        model=match["model"],
        tag=match["tag"] or DEFAULT_TAG,
    )
