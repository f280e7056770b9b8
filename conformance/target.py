"""The server under test: its URL, level, models and what each model can do.

Nothing is assumed about the server: models come from ``/api/tags`` (or the
``--model`` options), capabilities from ``/api/show``. A check that needs what
the server lacks asks :meth:`Target.model_with`, which skips with the reason.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from ollama_harness.conformance.http import DEFAULT_DEADLINE, ServerClient
from ollama_harness.conformance.outcome import CheckFailed, CheckSkipped
from ollama_harness.core.names import parse_model_name

LEVELS = ("core", "full")


@dataclass
class TargetOptions:
    """What the person running the suite asked for."""

    url: str
    models: list[str] = field(default_factory=list)
    level: str = "full"
    registry: str | None = None
    thorough: bool = False
    #: Total deadline of one request, in seconds (``--request-timeout``).
    timeout: float = DEFAULT_DEADLINE


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
        #: What the server calls itself (its ``Server`` header), if anything.
        self.server_name = ""
        self.discovery_notes: list[str] = []
        self._completion_probes: dict[str, bool] = {}
        #: Unique prefix of every model this run creates, so cleanup never
        #: touches anything else on the server.
        self.prefix = f"conformance-{secrets.token_hex(4)}"

    @property
    def level(self) -> str:
        return self.options.level

    @property
    def thorough(self) -> bool:
        return self.options.thorough

    def renew_client(self) -> None:
        """A fresh connection pool for the next check: nothing carries over between checks."""
        self.client.close()
        self.client = ServerClient(self.options.url, timeout=self.options.timeout)

    def require_level(self, level: str) -> None:
        if LEVELS.index(self.level) < LEVELS.index(level):
            raise CheckSkipped(f"needs --level {level} (running {self.level})")

    def model_with(self, capability: str) -> str:
        """The smallest model that has ``capability``; skip when none does."""
        if not self.models:
            raise CheckSkipped("no model to test: /api/tags listed none and no --model was given")
        fitting = [m for m in self.models if m.capabilities and capability in m.capabilities]
        if fitting:
            return min(fitting, key=lambda m: m.size).name
        if capability == "completion":
            # /api/show said nothing: try the unknown models, smallest first, once.
            for model in sorted(self.models, key=lambda m: m.size):
                if model.capabilities is None and self._completes(model.name):
                    return model.name
        raise CheckSkipped(f"no model on the server has the {capability!r} capability")

    def _completes(self, name: str) -> bool:
        """Whether a model without advertised capabilities generates (asked once)."""
        if name not in self._completion_probes:
            body = {"model": name, "prompt": "hi", "stream": False}
            body["options"] = self.options_for_inference(1)
            ex = self.client.post("/api/generate", body)
            self._completion_probes[name] = ex.status == 200
            verdict = "generates" if ex.status == 200 else f"answered {ex.status}: not used"
            self.discovery_notes.append(f"no capabilities for {name}; a 1-token generate {verdict}")
        return self._completion_probes[name]

    def embedding_model(self) -> str:
        """A model to embed with: one advertising ``embedding``, else any model.

        Ollama's ``EmbedHandler`` asks for no capability (it schedules the model
        with an empty capability list), so a server that advertises none must
        still embed; only a 4xx refusal from the server itself makes the check
        skip (see :meth:`refused_embedding`).
        """
        if not self.models:
            raise CheckSkipped("no model to test: /api/tags listed none and no --model was given")
        advertised = [m for m in self.models if m.capabilities and "embedding" in m.capabilities]
        return min(advertised or self.models, key=lambda m: m.size).name

    def refused_embedding(self, model: str, status: int) -> None:
        """Skip when the server refused to embed with a model that does not advertise it."""
        info = next((m for m in self.models if m.name == model), None)
        advertised = info is not None and info.capabilities and "embedding" in info.capabilities
        if not advertised and 400 <= status < 500:
            raise CheckSkipped(
                f"no model advertises 'embedding' and the server refused to embed with "
                f"{model} ({status})"
            )

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


def model_key(name: str) -> str:
    """A name's lookup key; names outside Ollama's grammar (file paths) are their own key."""
    try:
        return parse_model_name(name).key
    except ValueError:
        return name.lower()


def discover(options: TargetOptions) -> Target:
    """Connect and learn the version, the models and their capabilities.

    Every answer is written down in ``discovery_notes`` (shown at the top of the
    console and the reports), so a reader sees what the suite was working with.
    """
    target = Target(options, ServerClient(options.url, timeout=options.timeout))
    client = target.client
    notes = target.discovery_notes
    try:
        version = client.get("/api/version")
        body = version.json() if version.media_type == "application/json" else None
        if version.status == 200 and isinstance(body, dict) and body.get("version"):
            target.version = str(body["version"])
            notes.append(f"/api/version answered {version.status}: {target.version}")
        else:
            notes.append(f"/api/version answered {version.status} (no version)")
    except (CheckFailed, ValueError) as exc:  # best effort; checks report the details
        notes.append(f"/api/version: {_reason(exc)}")
    target.server_name = client.server_header

    names = list(options.models)
    sizes: dict[str, int] = {}
    try:
        tags = client.get("/api/tags")
        if tags.status == 200:
            for entry in tags.json().get("models", []):
                name = entry.get("name") or entry.get("model")
                if isinstance(name, str):
                    sizes[name] = int(entry.get("size") or 0)
            notes.append(f"/api/tags answered 200: {len(sizes)} models")
        else:
            notes.append(f"/api/tags answered {tags.status}")
    except (CheckFailed, ValueError, AttributeError, TypeError) as exc:
        notes.append(f"/api/tags: {_reason(exc)}")
    if not names:
        names = list(sizes)
    else:
        notes.append(f"models from --model: {', '.join(names)}")

    for name in names:
        info = ModelInfo(name=name, size=sizes.get(name, 0))
        try:
            show = client.post("/api/show", {"model": name})
            if show.status == 200:
                caps = show.json().get("capabilities")
                if isinstance(caps, list):
                    info.capabilities = frozenset(str(c) for c in caps)
                    notes.append(f"/api/show {name}: capabilities {sorted(info.capabilities)}")
                else:
                    notes.append(f"/api/show {name} answered 200 without capabilities")
            else:
                notes.append(f"/api/show {name} answered {show.status}")
        except (CheckFailed, ValueError, AttributeError) as exc:
            notes.append(f"/api/show {name}: {_reason(exc)}")
        target.models.append(info)
    target.server_name = target.server_name or client.server_header
    return target


def _reason(exc: Exception) -> str:
    return exc.reason if isinstance(exc, CheckFailed) else f"{type(exc).__name__}: {exc}"
