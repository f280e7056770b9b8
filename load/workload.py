"""What the simulated users send: the shipped dataset, a mix of request kinds, and
the request bodies for the native API and for /v1, encoded once before the run.

Encoding every body up front keeps JSON serialisation off the hot path: during
the run a user only picks a prepared request with its own seeded RNG.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

DATASET = Path(__file__).resolve().parent / "data" / "workload.jsonl"
KINDS: tuple[str, ...] = ("chat", "generate", "embed")
APIS: tuple[str, ...] = ("native", "openai", "anthropic", "responses")
#: The APIs with no embeddings route: a generate request becomes one user message.
CHAT_ONLY: tuple[str, ...] = ("anthropic", "responses")
#: Anthropic's API needs max_tokens; without a budget from the dataset or --max-tokens
#: a request asks for this many (a ceiling: the model may stop sooner).
ANTHROPIC_DEFAULT_MAX_TOKENS = 1024

#: Path of each kind of request, per API.
ENDPOINTS: dict[str, dict[str, str]] = {
    "native": {"chat": "/api/chat", "generate": "/api/generate", "embed": "/api/embed"},
    "openai": {
        "chat": "/v1/chat/completions",
        "generate": "/v1/completions",
        "embed": "/v1/embeddings",
    },
    "anthropic": {"chat": "/v1/messages", "generate": "/v1/messages"},
    "responses": {"chat": "/v1/responses", "generate": "/v1/responses"},
}


class WorkloadError(ValueError):
    """A mix, dataset or option that cannot make requests."""


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    kind: str
    path: str
    body: bytes
    stream: bool


def load_dataset(path: Path = DATASET) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        entry = orjson.loads(line)
        if entry.get("kind") not in KINDS:
            raise WorkloadError(f"{path}:{number}: kind must be one of {KINDS}")
        entries.append(entry)
    return entries


def parse_mix(text: str) -> dict[str, float]:
    """``"chat=5,generate=3,embed=2"`` -> weights; unknown kinds and negatives are errors."""
    mix: dict[str, float] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        kind, sep, weight = part.partition("=")
        kind = kind.strip()
        if not sep or kind not in KINDS:
            raise WorkloadError(f"mix {part!r}: expected KIND=WEIGHT with KIND in {KINDS}")
        try:
            value = float(weight)
        except ValueError:
            raise WorkloadError(f"mix {part!r}: weight is not a number") from None
        if not value >= 0:  # also rejects NaN
            raise WorkloadError(f"mix {part!r}: weight must be >= 0")
        mix[kind] = value
    if not any(mix.values()):
        raise WorkloadError(f"mix {text!r}: at least one weight must be positive")
    return mix


def _body(
    entry: dict[str, Any],
    *,
    api: str,
    model: str,
    embed_model: str,
    stream: bool,
    max_tokens: int | None,
) -> dict[str, Any]:
    kind = entry["kind"]
    budget = max_tokens if max_tokens is not None else entry.get("max_tokens")
    if kind == "embed":  # /api/embed and /v1/embeddings take the same two fields
        return {"model": embed_model, "input": entry["input"]}
    if api in CHAT_ONLY:
        return _chat_only_body(entry, api=api, model=model, stream=stream, budget=budget)
    body: dict[str, Any] = {"model": model, "stream": stream}
    if kind == "chat":
        body["messages"] = entry["messages"]
    else:
        body["prompt"] = entry["prompt"]
    if api == "native":
        if budget is not None:
            body["options"] = {"num_predict": budget}
    else:
        if budget is not None:
            body["max_tokens"] = budget
        if stream:
            # the usage chunk carries the server's token count; without it we
            # would have to count chunks
            body["stream_options"] = {"include_usage": True}
    return body


def _chat_only_body(
    entry: dict[str, Any], *, api: str, model: str, stream: bool, budget: int | None
) -> dict[str, Any]:
    """A Messages or Responses request: usage (and so the token count) comes in the
    stream's last events by itself, no option needed."""
    if entry["kind"] == "chat":
        messages = list(entry["messages"])
    else:
        messages = [{"role": "user", "content": entry["prompt"]}]
    system = "\n".join(str(m["content"]) for m in messages if m.get("role") == "system")
    turns = [m for m in messages if m.get("role") != "system"]
    body: dict[str, Any] = {"model": model, "stream": stream}
    if api == "anthropic":
        body["max_tokens"] = budget if budget is not None else ANTHROPIC_DEFAULT_MAX_TOKENS
        body["messages"] = turns
        if system:
            body["system"] = system
    else:
        body["input"] = turns
        if system:
            body["instructions"] = system
        if budget is not None:
            body["max_output_tokens"] = budget
    return body


class Workload:
    """Prepared requests grouped by kind, drawn by weight."""

    def __init__(
        self,
        mix: dict[str, float],
        *,
        api: str = "native",
        model: str = "smollm2:135m",
        embed_model: str | None = None,
        stream: bool = True,
        max_tokens: int | None = None,
        dataset: list[dict[str, Any]] | None = None,
    ) -> None:
        if api not in APIS:
            raise WorkloadError(f"api must be one of {APIS}, not {api!r}")
        if max_tokens is not None and max_tokens < 1:
            raise WorkloadError("max_tokens must be at least 1")
        if api in CHAT_ONLY and mix.get("embed", 0) > 0:
            raise WorkloadError(f"the {api} API has no embeddings: use a mix without embed")
        entries = dataset if dataset is not None else load_dataset()
        self.api = api
        self.by_kind: dict[str, list[PreparedRequest]] = {}
        for kind, weight in mix.items():
            if weight <= 0:
                continue
            chosen = [e for e in entries if e["kind"] == kind]
            if not chosen:
                raise WorkloadError(f"the dataset has no {kind!r} requests")
            self.by_kind[kind] = [
                PreparedRequest(
                    kind=kind,
                    path=ENDPOINTS[api][kind],
                    body=orjson.dumps(
                        _body(
                            e,
                            api=api,
                            model=model,
                            embed_model=embed_model or model,
                            stream=stream,
                            max_tokens=max_tokens,
                        )
                    ),
                    stream=stream and kind != "embed",
                )
                for e in chosen
            ]
        if not self.by_kind:
            raise WorkloadError("the mix selects no requests")
        self.kinds = list(self.by_kind)
        self.weights = [mix[k] for k in self.kinds]

    def pick(self, rng: random.Random) -> PreparedRequest:
        kind = self.kinds[0] if len(self.kinds) == 1 else rng.choices(self.kinds, self.weights)[0]
        return rng.choice(self.by_kind[kind])
