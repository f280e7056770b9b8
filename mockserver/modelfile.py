"""Modelfiles for the mock: the core grammar, with Ollama's 400 on a bad one.

Parsing and rendering live in :mod:`ollama_harness.core.modelfile`, shared with the
reference server; this module only adapts them to the catalogue's entries.
"""

from __future__ import annotations

from ollama_harness.core.errors import ApiError
from ollama_harness.core.modelfile import (
    MISSING_FROM,
    Modelfile,
    ModelfileError,
    parameters_text,
    parse_modelfile,
    render_modelfile,
)

from .catalogue import ModelEntry

__all__ = ["Modelfile", "parameters_text", "parse", "render"]


def parse(text: str) -> Modelfile:
    """Parse the legacy ``modelfile`` field of /api/create; a bad one is a 400."""
    try:
        parsed = parse_modelfile(text)
    except ModelfileError as exc:
        raise ApiError(400, str(exc)) from None
    if parsed.from_ is None:
        raise ApiError(400, MISSING_FROM)
    return parsed


def render(display: str, entry: ModelEntry, weights_digest: str) -> str:
    """The ``modelfile`` /api/show returns, as ``ollama show --modelfile`` prints it."""
    described = Modelfile(
        template=entry.template or None,
        system=entry.system or None,
        parameters=dict(entry.parameters),
        messages=[dict(m) for m in entry.messages],
        license=[entry.license] if entry.license else [],
    )
    blob = weights_digest.replace(":", "-")
    return render_modelfile(
        described, name=display, model_path=f"/root/.ollama/models/blobs/{blob}"
    )
