"""The status lines of ``/api/pull``, ``/api/push`` and ``/api/create``.

Clients show these words to people and some scripts wait for ``success``, so both
servers take them from here.
"""

from __future__ import annotations

from typing import Any

PULLING_MANIFEST = "pulling manifest"
VERIFYING_DIGEST = "verifying sha256 digest"
WRITING_MANIFEST = "writing manifest"
REMOVING_UNUSED_LAYERS = "removing unused layers"
RETRIEVING_MANIFEST = "retrieving manifest"
RETRIEVE_MANIFEST_FAILED = "couldn't retrieve manifest"  # push, before its error line
PUSHING_MANIFEST = "pushing manifest"
PARSING_GGUF = "parsing GGUF"
SUCCESS = "success"


def short_digest(digest: str) -> str:
    """``sha256:2977e9705f4b...`` -> ``2977e9705f4b`` (Ollama's ``digest[7:19]``)."""
    return digest.removeprefix("sha256:")[:12]


def layer_transfer(verb: str, digest: str) -> str:
    """``pulling 2977e9705f4b`` / ``pushing 2977e9705f4b``: one layer's progress."""
    return f"{verb} {short_digest(digest)}"


def layer_written(digest: str, *, created: bool) -> str:
    """create's line per layer: ``creating new layer sha256:...`` or ``using existing ...``."""
    return f"{'creating new' if created else 'using existing'} layer {digest}"


def pull_manifest_failed(detail: object) -> str:
    """The error line of a pull whose manifest could not be fetched."""
    return f"pull model manifest: {detail}"


def status(text: str) -> dict[str, Any]:
    return {"status": text}


WIRE_STRINGS: tuple[str, ...] = (
    PULLING_MANIFEST,
    VERIFYING_DIGEST,
    WRITING_MANIFEST,
    REMOVING_UNUSED_LAYERS,
    RETRIEVING_MANIFEST,
    RETRIEVE_MANIFEST_FAILED,
    PUSHING_MANIFEST,
    PARSING_GGUF,
    "creating new",
    "using existing",
    "pull model manifest",
)
