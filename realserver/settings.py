"""The reference server's settings: CLI flag, then ``OLLAMA_*`` variable, then default.

Field names are the ones Ollama's environment uses (``OLLAMA_HOST``,
``OLLAMA_MODELS``, ``OLLAMA_KEEP_ALIVE``...). ``ollama-harness serve`` builds one
flag per field from this class, so ``--help`` and the environment always agree.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from ollama_harness.core.durations import DurationError, parse_keep_alive

DEFAULT_PORT = 11434


class RealServerSettings(BaseSettings):
    """Settings of the llama.cpp-backed reference server."""

    model_config = SettingsConfigDict(env_prefix="OLLAMA_", extra="ignore")

    host: str = Field(
        default="127.0.0.1:11434",
        description="address to listen on, HOST[:PORT] (port 0 picks a free one)",
    )
    models: Path = Field(
        default=Path.home() / ".ollama" / "models",
        description="model store directory (blobs/ and manifests/)",
    )
    keep_alive: str = Field(
        default="5m",
        description="how long a model stays loaded after its last request "
        "(Go duration or seconds; negative keeps it forever, 0 unloads at once)",
    )
    num_parallel: int = Field(
        default=1,
        ge=1,
        le=64,
        description="requests served at once per loaded model (one context each)",
    )
    max_queue: int = Field(
        default=512, ge=0, description="requests that may wait for a slot before 503 server busy"
    )
    max_loaded_models: int = Field(
        default=3,
        ge=1,
        le=64,
        description="models kept loaded at once; the idle one used last goes first",
    )
    context_length: int = Field(
        default=4096, ge=16, description="default num_ctx when neither model nor request sets one"
    )
    num_thread: int = Field(
        default=0, ge=0, description="llama.cpp threads when the request sets none (0: all cores)"
    )
    origins: str = Field(
        default="",
        description="extra allowed CORS origins, comma separated (localhost always allowed)",
    )
    registry_mirror: str = Field(
        default="",
        description="registry URL (e.g. http://127.0.0.1:5000) that pull and push use for "
        "names on the default registry (registry.ollama.ai); empty: the default registry",
    )
    llama_extra_buffers: bool = Field(
        default=False,
        description="let llama.cpp repack CPU weights (AMX/extra buffer types); off because "
        "the AMX kernels crash in some VMs that advertise AMX",
    )

    inference_nice: int = Field(
        default=10,
        ge=0,
        le=19,
        description="niceness added to the threads that run llama.cpp, so that the event "
        "loop wins a CPU sooner when a token is ready (0: same priority; Linux only); "
        "other busy processes on the host then win it first too: use 0 when the server "
        "shares its CPUs with other work, a load generator included",
    )

    @field_validator("keep_alive")
    @classmethod
    def _valid_keep_alive(cls, value: str) -> str:
        try:
            env_keep_alive(value)
        except DurationError as exc:
            raise ValueError(str(exc)) from exc
        return value

    @field_validator("host")
    @classmethod
    def _valid_host(cls, value: str) -> str:
        split_host(value)
        return value

    def bind(self) -> tuple[str, int]:
        return split_host(self.host)

    def keep_alive_seconds(self) -> float | None:
        return env_keep_alive(self.keep_alive)


def env_keep_alive(value: str) -> float | None:
    """OLLAMA_KEEP_ALIVE as Ollama reads it: a Go duration, or else whole seconds."""
    try:
        return parse_keep_alive(float(value))
    except ValueError:
        return parse_keep_alive(value)


def split_host(value: str) -> tuple[str, int]:
    """``"127.0.0.1:11434"``, ``"0.0.0.0"``, ``":8080"`` or ``"http://host:port"``."""
    text = value.strip()
    for scheme in ("http://", "https://"):
        text = text.removeprefix(scheme)
    text = text.rstrip("/")
    host, port = text, DEFAULT_PORT
    if text.startswith("["):  # [::1]:11434
        end = text.find("]")
        host, rest = text[1:end], text[end + 1 :]
        if rest.startswith(":"):
            port = int(rest[1:])
    elif text.count(":") == 1:
        host, port_text = text.split(":")
        port = int(port_text)
    if not 0 <= port <= 65535:
        raise ValueError(f"port out of range: {port}")
    return host or "127.0.0.1", port
