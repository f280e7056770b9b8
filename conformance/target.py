"""The server under test: its URL, level, models and what each model can do.

Nothing is assumed about the server: models come from ``/api/tags`` (or the
``--model`` options), capabilities from ``/api/show``. A check that needs what
the server lacks asks :meth:`Target.model_with`, which skips with the reason.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from conformance.http import ServerClient
from conformance.outcome import CheckSkipped

LEVELS = ("core", "full", "compat")  # compat: full + /v1/messages and /v1/responses


@dataclass
class TargetOptions:
    """What the person running the suite asked for."""

    url: str
    models: list[str] = field(default_factory=list)
    level: str = "full"
    registry: str | None = None
    thorough: bool = False
    timeout: float = 120.0


@dataclass
class ModelInfo:
    name: str
    size: int = 0
    capabilities: frozenset[str] | None = None  # None: /api/show did not say


class Target:
    """A connected server; built once per run by :func:`discover`."""

    def __init__(self, options: TargetOptions, client: ServerClient) -> None:
        self.options = options
        self.client = client
        self.models: list[ModelInfo] = []
        self.version: str | None = None
        self.discovery_notes: list[str] = []
        #: Unique prefix of every model this run creates, so cleanup never
        #: touches anything else on the server.
        self.prefix = f"conformance-{secrets.token_hex(4)}"

    @property
    def level(self) -> str:
        return self.options.level

    @property
    def thorough(self) -> bool:
        return self.options.thorough

    def require_level(self, level: str) -> None:
        if LEVELS.index(self.level) < LEVELS.index(level):
            raise CheckSkipped(f"needs --level {level} (running {self.level})")

    def model_with(self, capability: str) -> str:
        """The smallest model that has ``capability``; skip when none does."""
        if not self.models:
            raise CheckSkipped("no model to test: /api/tags listed none and no --model was given")
        fitting = [
            m
            for m in self.models
            if (m.capabilities is None and capability == "completion")
            or (m.capabilities is not None and capability in m.capabilities)
        ]
        if not fitting:
            raise CheckSkipped(f"no model on the server has the {capability!r} capability")
        return min(fitting, key=lambda m: m.size).name

    def model_without(self, capability: str, *, having: str | None = None) -> str:
        """A model known (from /api/show) to lack ``capability``; skip when none is."""
        known = [m for m in self.models if m.capabilities is not None]
        fitting = [
            m
            for m in known
            if capability not in (m.capabilities or ())
            and (having is None or having in (m.capabilities or ()))
        ]
        if not fitting:
            extra = f" (with {having!r})" if having else ""
            raise CheckSkipped(f"no model{extra} known to lack the {capability!r} capability")
        return min(fitting, key=lambda m: m.size).name

    def options_for_inference(self, num_predict: int = 8, **extra: Any) -> dict[str, Any]:
        """Deterministic and short: real models here decode ~100 tokens/s on 2 cores."""
        return {"temperature": 0, "seed": 42, "num_predict": num_predict, **extra}

    def new_model_name(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}:latest"


def discover(options: TargetOptions) -> Target:
    """Connect and learn the version, the models and their capabilities."""
    target = Target(options, ServerClient(options.url, timeout=options.timeout))
    client = target.client
    try:
        version = client.get("/api/version")
        if version.status == 200 and version.media_type == "application/json":
            target.version = str(version.json().get("version"))
    except Exception as exc:  # discovery is best effort; checks report the details
        target.discovery_notes.append(f"/api/version: {exc}")

    names = list(options.models)
    sizes: dict[str, int] = {}
    try:
        tags = client.get("/api/tags")
        if tags.status == 200:
            for entry in tags.json().get("models", []):
                name = entry.get("name") or entry.get("model")
                if isinstance(name, str):
                    sizes[name] = int(entry.get("size") or 0)
        else:
            target.discovery_notes.append(f"/api/tags answered {tags.status}")
    except Exception as exc:
        target.discovery_notes.append(f"/api/tags: {exc}")
    if not names:
        names = list(sizes)

    for name in names:
        info = ModelInfo(name=name, size=sizes.get(name, 0))
        try:
            show = client.post("/api/show", {"model": name})
            if show.status == 200:
                caps = show.json().get("capabilities")
                if isinstance(caps, list):
                    info.capabilities = frozenset(str(c) for c in caps)
            else:
                target.discovery_notes.append(f"/api/show {name} answered {show.status}")
        except Exception as exc:
            target.discovery_notes.append(f"/api/show {name}: {exc}")
        target.models.append(info)
    return target
