"""Everything a request handler needs, built once per app."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ollama_harness.core.errors import ApiError
from ollama_harness.core.names import ModelNameError, parse_model_name
from ollama_harness.core.protocol import messages
from ollama_harness.core.spec import Spec
from ollama_harness.realserver.catalog import ModelCatalog, ModelRecord
from ollama_harness.realserver.scheduler import Scheduler
from ollama_harness.realserver.settings import RealServerSettings
from ollama_harness.realserver.store import ModelStore


@dataclass
class ServerState:
    settings: RealServerSettings
    spec: Spec
    store: ModelStore
    catalog: ModelCatalog
    scheduler: Scheduler
    started: float = field(default_factory=time.monotonic)

    def base_options(self) -> dict[str, Any]:
        """Server-level defaults that sit under the model's and the request's options."""
        return {"num_ctx": self.settings.context_length, "num_thread": self.settings.num_thread}

    def lookup(self, text: str, not_found: str) -> ModelRecord:
        """The model named ``text``; 400 for a bad name, 404 (``not_found``) when absent."""
        try:
            name = parse_model_name(text)
        except ModelNameError:
            raise ApiError(400, messages.INVALID_MODEL_NAME) from None
        record = self.catalog.resolve(name)
        if record is None:
            raise ApiError(404, not_found)
        return record
