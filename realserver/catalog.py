"""A stored model resolved into what the server needs: GGUF, template, parameters...

The manifest's layers are read once per manifest digest: the model GGUF (its
metadata gives details and model_info), the template, system prompt, parameters,
licence, messages, adapters and projector. When a model has no template layer
the GGUF's own chat template is used: mapped to Ollama's Go template when it is a
known format, else rendered as Jinja. Capabilities follow from these facts, never
from the name.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ollama_harness.core.modelfile import Modelfile, parameters_text, render_modelfile
from ollama_harness.core.names import ModelName
from ollama_harness.realserver import store as st
from ollama_harness.realserver.gguf_info import GGUFInfo, read_gguf
from ollama_harness.realserver.gotemplate import Template, TemplateError
from ollama_harness.realserver.prompt import from_chat_template


@dataclass
class ModelRecord:
    name: ModelName
    stored: st.StoredModel
    model_path: Path
    gguf: GGUFInfo
    template: str
    template_source: str  # "layer", "gguf" (mapped), "jinja" or "none"
    system: str
    parameters: dict[str, Any]
    license: list[str]
    messages: list[dict[str, Any]]
    adapters: list[Path] = field(default_factory=list)
    projector: Path | None = None
    jinja_template: str | None = None
    parent: str = ""
    _compiled: Template | None = field(default=None, repr=False, compare=False)

    @property
    def digest(self) -> str:
        return self.stored.digest

    @property
    def size(self) -> int:
        return self.stored.manifest.size

    def compiled_template(self) -> Template | None:
        """The parsed template, parsed once per record (records are cached per digest)."""
        if not self.template:
            return None
        if self._compiled is None or self._compiled.source != self.template:
            self._compiled = Template(self.template)
        return self._compiled

    @property
    def capabilities(self) -> list[str]:
        caps: list[str] = []
        if self.gguf.is_embedding_model:
            return ["embedding"]
        caps.append("completion")
        if "Tools" in _fields_used(self.template) or (
            self.jinja_template is not None and "tools" in self.jinja_template
        ):
            caps.append("tools")
        if "Suffix" in _fields_used(self.template):
            caps.append("insert")
        if self.projector is not None:
            caps.append("vision")
        if "Think" in _fields_used(self.template):
            caps.append("thinking")
        return caps

    def details(self) -> dict[str, Any]:
        return self.gguf.details(parent=self.parent)

    def modelfile(self) -> str:
        """The Modelfile ``ollama show --modelfile`` prints for this model."""
        described = Modelfile(
            adapters=[str(path) for path in self.adapters],
            template=self.template if self.template and self.template_source != "none" else None,
            system=self.system or None,
            parameters=dict(self.parameters),
            messages=[
                {"role": str(m.get("role", "")), "content": str(m.get("content", ""))}
                for m in self.messages
            ],
            license=list(self.license),
        )
        return render_modelfile(described, name=self.name.display, model_path=str(self.model_path))

    def parameters_text(self) -> str:
        """/api/show's ``parameters``: one ``key value`` line per value, aligned."""
        return parameters_text(self.parameters)


def _fields_used(template: str) -> set[str]:
    import re

    return set(re.findall(r"\.([A-Z][A-Za-z]*)", template))


class ModelCatalog:
    """Resolve names to :class:`ModelRecord`, caching by manifest digest."""

    def __init__(self, store: st.ModelStore) -> None:
        self.store = store
        self._cache: dict[str, ModelRecord] = {}
        self._lock = threading.Lock()

    def resolve(self, name: ModelName) -> ModelRecord | None:
        stored = self.store.get(name)
        if stored is None:
            return None
        with self._lock:
            cached = self._cache.get(stored.digest)
        if cached is not None and cached.name == stored.name:
            return cached
        try:
            record = self._build(stored)
        except (OSError, ValueError, st.StoreError):
            return None
        with self._lock:
            self._cache[stored.digest] = record
        return record

    def _text(self, manifest: st.Manifest, media_type: str) -> str | None:
        layer = manifest.layer(media_type)
        if layer is None:
            return None
        return self.store.read_blob(layer.digest).decode("utf-8", "replace")

    def _build(self, stored: st.StoredModel) -> ModelRecord:
        manifest = stored.manifest
        model_layer = manifest.layer(st.MEDIA_MODEL)
        if model_layer is None:
            raise st.StoreError("model has no weights layer")
        model_path = self.store.blob_path(model_layer.digest)
        gguf = read_gguf(model_path)
        jinja = gguf.chat_template
        template = self._text(manifest, st.MEDIA_TEMPLATE)
        source = "layer"
        system = self._text(manifest, st.MEDIA_SYSTEM)
        params_text = self._text(manifest, st.MEDIA_PARAMS)
        parameters: dict[str, Any] = json.loads(params_text) if params_text else {}
        if template is None:
            mapped = from_chat_template(jinja)
            if mapped is not None:
                template, source = mapped.template, "gguf"
                parameters.setdefault("stop", mapped.stop)
                if system is None and mapped.system:
                    system = mapped.system
            elif jinja:
                template, source = "", "jinja"
            else:
                # No template at all: the prompt goes to the model as written.
                template, source = "{{ .Prompt }}", "none"
        if template:
            try:
                Template(template)
            except TemplateError as exc:
                raise st.StoreError(f"template error: {exc}") from exc
        messages_text = self._text(manifest, st.MEDIA_MESSAGES)
        licenses = [
            self.store.read_blob(layer.digest).decode("utf-8", "replace")
            for layer in manifest.layers
            if layer.media_type == st.MEDIA_LICENSE
        ]
        adapters = [
            self.store.blob_path(layer.digest)
            for layer in manifest.layers
            if layer.media_type == st.MEDIA_ADAPTER
        ]
        projector = manifest.layer(st.MEDIA_PROJECTOR)
        config = json.loads(self.store.read_blob(manifest.config.digest) or b"{}")
        return ModelRecord(
            name=stored.name,
            stored=stored,
            model_path=model_path,
            gguf=gguf,
            template=template,
            template_source=source,
            system=system or "",
            parameters=parameters,
            license=licenses,
            messages=json.loads(messages_text) if messages_text else [],
            adapters=adapters,
            projector=self.store.blob_path(projector.digest) if projector else None,
            jinja_template=jinja if source == "jinja" else None,
            parent=str(config.get("parent_model", "")) if isinstance(config, dict) else "",
        )
