"""The mock's one settings object: CLI flag > ``OLLAMA_*`` environment > default.

Field names follow the environment variables real Ollama reads where one exists
(``OLLAMA_NUM_PARALLEL``, ``OLLAMA_MAX_QUEUE``, ``OLLAMA_MAX_LOADED_MODELS``,
``OLLAMA_KEEP_ALIVE``); the rest are the mock's own knobs, under the same prefix so
that one ``env`` block configures either server.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ollama_harness.core.durations import DurationError, parse_keep_alive


class MockSettings(BaseSettings):
    """Everything the mock server can be told; ``ollama-harness mock --help`` lists it."""

    model_config = SettingsConfigDict(env_prefix="OLLAMA_", extra="ignore", frozen=False)

    host: str = Field(
        default="127.0.0.1",
        description="address to bind; loopback by default so nothing outside this machine "
        "reaches the mock (a non-local Host header is then refused with 403, like Ollama)",
    )
    port: int = Field(default=11434, ge=0, le=65535, description="TCP port (0 picks a free one)")
    models: str | None = Field(
        default=None,
        description="catalogue file (YAML or JSON) replacing the built-in catalogue; "
        "`ollama-harness mock --dump-models` prints the built-in one as a template",
    )
    clock: Literal["real", "fixed"] = Field(
        default="real",
        description="'fixed' freezes timestamps at 2024-06-01T00:00:00Z and reports the "
        "planned durations, so the same request gives the same bytes",
    )
    num_parallel: int = Field(
        default=1,
        ge=1,
        le=1024,
        description="requests one model serves at once (OLLAMA_NUM_PARALLEL)",
    )
    max_queue: int = Field(
        default=512,
        ge=0,
        le=1_000_000,
        description="requests that may wait for a slot; beyond it: 503 (OLLAMA_MAX_QUEUE)",
    )
    max_loaded_models: int = Field(
        default=3,
        ge=1,
        le=1024,
        description="models kept loaded at once (OLLAMA_MAX_LOADED_MODELS)",
    )
    keep_alive: str = Field(
        default="5m",
        description="default keep_alive: Go duration or seconds; negative keeps models loaded",
    )
    ttft_ms: float = Field(
        default=0.0, ge=0, le=600_000, description="default time to first token, milliseconds"
    )
    itl_ms: float = Field(default=0.0, ge=0, le=60_000, description="default inter-token delay, ms")
    jitter_ms: float = Field(
        default=0.0, ge=0, le=60_000, description="uniform +/- jitter added to each delay, ms"
    )
    timing_seed: int = Field(default=0, description="seed of the jitter (mixed with each request)")
    faults: str | None = Field(
        default=None,
        description="fault scenario file (YAML or JSON): faults by model/route/probability",
    )
    mutation: str | None = Field(
        default=None,
        description="name of a deliberate defect to inject (mockserver.mutations); "
        "for testing the conformance suite only",
    )
    blob_size: int = Field(
        default=1 << 20,
        ge=64,
        le=1 << 30,
        description="bytes of each catalogue model's weights blob in the registry and in pulls",
    )
    origins: str = Field(
        default="",
        description="extra allowed browser origins, comma-separated, * wildcards "
        "(OLLAMA_ORIGINS); localhost, 127.0.0.1, 0.0.0.0, app://, file://, tauri:// always are",
    )
    report_version: str = Field(
        default="0.13.0", description="version the mock reports on /api/version"
    )

    @model_validator(mode="after")
    def _split_host_port(self) -> MockSettings:
        # OLLAMA_HOST is "host:port" (optionally with a scheme) for real Ollama.
        host = self.host.split("://", 1)[-1].rstrip("/")
        if host.startswith("["):  # [::1]:11434
            inside, _, rest = host[1:].partition("]")
            host, port = inside, rest.lstrip(":")
        elif host.count(":") == 1:
            host, port = host.split(":")
        else:
            port = ""
        self.host = host or "127.0.0.1"
        if port.isdigit():
            self.port = int(port)
        return self

    @field_validator("keep_alive")
    @classmethod
    def _keep_alive_parses(cls, value: str) -> str:
        try:
            parse_keep_alive(value if not _is_number(value) else float(value))
        except DurationError as exc:
            raise ValueError(str(exc)) from None
        return value

    def keep_alive_seconds(self) -> float | None:
        """The default keep_alive in seconds; None means forever."""
        value: object = float(self.keep_alive) if _is_number(self.keep_alive) else self.keep_alive
        return parse_keep_alive(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
