"""Load ``spec/openapi.yaml`` once and hand out compiled validators.

Every consumer goes through here: the mock and reference servers validate
requests, the conformance suite validates responses and stream lines. Validators
are compiled once per schema location and cached, so validating a typical request
costs tens of microseconds, not milliseconds.

Conventions the spec follows (and this module relies on):

* every operation has an ``operationId``;
* a request body is ``application/json``;
* a streaming response declares ``application/x-ndjson`` (native routes) or
  ``text/event-stream`` (``/v1`` routes) whose schema describes ONE line / chunk.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, relevance
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

log = logging.getLogger("ollama_harness.core.spec")

IsValid = Callable[[Any], bool]

_BASE_URI = "urn:ollama-harness:openapi"
_METHODS = ("get", "head", "post", "put", "delete", "patch", "options")
NDJSON = "application/x-ndjson"
SSE = "text/event-stream"
JSON = "application/json"
#: Keywords whose values are instance data, not schemas: never rewritten when inlining.
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples", "example"})


def default_spec_path() -> Path:
    """The spec beside the sources (checkout, editable install) or inside the wheel."""
    beside = Path(__file__).resolve().parents[2] / "spec" / "openapi.yaml"
    if beside.is_file():
        return beside
    packaged = resources.files("ollama_harness").joinpath("_spec/openapi.yaml")
    return Path(str(packaged))


@dataclass(frozen=True, slots=True)
class SpecIssue:
    """One way a document departs from the spec: where, which rule, and why."""

    path: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message} (rule: {self.rule})"


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str
    pointer: str  # JSON pointer of the operation object inside the document
    raw: dict[str, Any] = field(repr=False)

    @property
    def summary(self) -> str:
        return str(self.raw.get("summary", ""))

    @property
    def has_request_body(self) -> bool:
        return "requestBody" in self.raw

    @property
    def statuses(self) -> list[str]:
        return list(self.raw.get("responses", {}))

    def content_types(self, status: int | str) -> list[str]:
        response = self.raw.get("responses", {}).get(str(status), {})
        return list(response.get("content", {}))

    @property
    def stream_content_type(self) -> str | None:
        for ctype in self.content_types(200):
            if ctype in (NDJSON, SSE):
                return ctype
        return None


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _issue(error: ValidationError) -> SpecIssue:
    # A `false` schema (a property that must be absent) has no keyword: name it "false".
    rule = "false" if error.validator is None else str(error.validator)
    return SpecIssue(path=error.json_path, rule=rule, message=error.message)


class Spec:
    """The parsed spec with cached validators; build it with :func:`load_spec`."""

    def __init__(self, document: dict[str, Any], source: Path | None = None) -> None:
        self.document = document
        self.source = source
        self._registry: Registry[Any] = Registry().with_resource(
            _BASE_URI, Resource.from_contents(document, default_specification=DRAFT202012)
        )
        self._validators: dict[str, Draft202012Validator] = {}
        self._acceptors: dict[str, IsValid] = {}
        self.operations: dict[str, Operation] = {}
        for path, item in document.get("paths", {}).items():
            for method in _METHODS:
                op = item.get(method)
                if op is None:
                    continue
                op_id = op["operationId"]
                pointer = f"/paths/{_escape(path)}/{method}"
                self.operations[op_id] = Operation(op_id, method.upper(), path, pointer, op)
        self._routes = [
            (re.compile("^" + re.sub(r"\{[^/]+\}", "[^/]+", op.path) + "$"), op)
            for op in self.operations.values()
        ]

    # -- lookup -------------------------------------------------------------
    @property
    def version(self) -> str:
        return str(self.document.get("info", {}).get("version", ""))

    def operation(self, operation_id: str) -> Operation:
        try:
            return self.operations[operation_id]
        except KeyError:
            raise KeyError(f"no operation {operation_id!r} in the spec") from None

    def route(self, method: str, path: str) -> Operation | None:
        """The operation serving ``method path`` (``/api/blobs/sha256:..`` included)."""
        method = method.upper()
        for pattern, op in self._routes:
            if op.method == method and pattern.match(path):
                return op
        return None

    def methods_for(self, path: str) -> set[str]:
        """Methods the spec allows on a concrete path: empty means unknown path (404)."""
        return {op.method for pattern, op in self._routes if pattern.match(path)}

    def schema(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.document["components"]["schemas"][name]
        return result

    def resolve(self, pointer: str) -> Any:
        node: Any = self.document
        for token in pointer.strip("/").split("/"):
            if not token:
                continue
            token = token.replace("~1", "/").replace("~0", "~")
            node = node[int(token)] if isinstance(node, list) else node[token]
        return node

    # -- validators ---------------------------------------------------------
    def validator_at(self, pointer: str) -> Draft202012Validator:
        """A compiled validator for the schema at a JSON pointer in the document."""
        cached = self._validators.get(pointer)
        if cached is None:
            schema = self.resolve(pointer)  # fail early with KeyError on a wrong pointer
            cached = Draft202012Validator(
                self._inline(schema, ()),
                registry=self._registry,
                format_checker=Draft202012Validator.FORMAT_CHECKER,
            )
            self._validators[pointer] = cached
        return cached

    def _inline(self, node: Any, seen: tuple[str, ...]) -> Any:
        """The schema with its local ``$ref``s replaced by their targets.

        Looking a ``$ref`` up on every validation costs about half the time of a typical
        request; inlined once, it costs nothing. Instance paths (what a ``SpecIssue``
        reports) do not change. A ``$ref`` with sibling keywords becomes an ``allOf``
        beside them; a recursive ``$ref`` stays a reference, resolved by the registry.
        """
        if isinstance(node, list):
            return [self._inline(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            rest = {k: self._inline(v, seen) for k, v in node.items() if k != "$ref"}
            if ref in seen:
                target: Any = {"$ref": f"{_BASE_URI}{ref}"}
            else:
                target = self._inline(self.resolve(ref[1:]), (*seen, ref))
            return {"allOf": [target], **rest} if rest else target
        return {
            key: value
            if key in _DATA_KEYWORDS or key.startswith("x-")
            else self._inline(value, seen)
            for key, value in node.items()
        }

    def component_validator(self, name: str) -> Draft202012Validator:
        return self.validator_at(f"/components/schemas/{_escape(name)}")

    def request_pointer(self, operation_id: str) -> str:
        op = self.operation(operation_id)
        if not op.has_request_body:
            raise KeyError(f"{operation_id} takes no request body")
        return f"{op.pointer}/requestBody/content/{_escape(JSON)}/schema"

    def response_pointer(
        self, operation_id: str, status: int | str, content_type: str = JSON
    ) -> str:
        op = self.operation(operation_id)
        responses = op.raw.get("responses", {})
        key = str(status)
        if key not in responses:
            key = f"{key[0]}XX" if f"{key[0]}XX" in responses else "default"
        if key not in responses:
            raise KeyError(f"{operation_id} declares no response {status}")
        content = responses[key].get("content", {})
        if content_type not in content:
            raise KeyError(f"{operation_id} {status} declares no {content_type} body")
        return f"{op.pointer}/responses/{key}/content/{_escape(content_type)}/schema"

    def stream_pointer(self, operation_id: str) -> str:
        ctype = self.operation(operation_id).stream_content_type
        if ctype is None:
            raise KeyError(f"{operation_id} does not stream")
        return self.response_pointer(operation_id, 200, ctype)

    # -- validation -----------------------------------------------------------
    @staticmethod
    def _issues(validator: Draft202012Validator, instance: Any) -> list[SpecIssue]:
        errors = sorted(validator.iter_errors(instance), key=relevance, reverse=True)
        return [_issue(e) for e in _deepest(errors)]

    def request_acceptor(self, operation_id: str) -> IsValid:
        """A yes/no check of a request body, compiled in Rust where it can be.

        Servers validate every request, and almost every one is valid: a compiled
        ``jsonschema_rs`` validator (installed with schemathesis) answers that in about
        a microsecond, where collecting issues in Python costs ~100. A test keeps the
        two in agreement; without ``jsonschema_rs`` the Python validator answers.
        """
        check = self._acceptors.get(operation_id)
        if check is None:
            pointer = self.request_pointer(operation_id)
            check = _compiled_acceptor(self.document, pointer)
            if check is None:
                check = self.validator_at(pointer).is_valid
            self._acceptors[operation_id] = check
        return check

    def validate_request(self, operation_id: str, body: Any) -> list[SpecIssue]:
        if self.request_acceptor(operation_id)(body):
            return []
        return self._issues(self.validator_at(self.request_pointer(operation_id)), body)

    def validate_response(
        self, operation_id: str, status: int | str, body: Any, content_type: str = JSON
    ) -> list[SpecIssue]:
        pointer = self.response_pointer(operation_id, status, content_type)
        return self._issues(self.validator_at(pointer), body)

    def validate_stream_line(self, operation_id: str, line: Any) -> list[SpecIssue]:
        return self._issues(self.validator_at(self.stream_pointer(operation_id)), line)

    def validate_component(self, name: str, instance: Any) -> list[SpecIssue]:
        return self._issues(self.component_validator(name), instance)


def _compiled_acceptor(document: dict[str, Any], pointer: str) -> IsValid | None:
    try:
        import jsonschema_rs
    except ImportError:
        return None
    # The whole document is the root, so "#/components/..." references resolve; its
    # OpenAPI keys (openapi, info, paths) are unknown keywords and ignored.
    encoded = pointer.replace("{", "%7B").replace("}", "%7D")
    root = {**document, "$ref": "#" + encoded}
    root.pop("$schema", None)
    try:
        validator = jsonschema_rs.validator_for(root, validate_formats=True)
    except Exception as exc:  # a schema the Rust side cannot compile: Python only
        log.warning("fast validator unavailable for %s: %s", pointer, exc)
        return None
    is_valid: IsValid = validator.is_valid
    return is_valid


def _deepest(errors: list[ValidationError]) -> Iterator[ValidationError]:
    """Replace a oneOf/anyOf failure by its most relevant sub-error, which names the
    field that actually broke instead of "is not valid under any of the given schemas".

    Inside a oneOf/anyOf the best branch error is the *smallest* by ``relevance``, as
    in ``jsonschema.exceptions.best_match``: the deepest one, and among equals the one
    whose schema at least has the instance's type (``"5 minutes"`` against
    ``Duration`` is a ``pattern`` failure, not "is not of type 'number'"). Ties keep
    the first branch."""
    for error in errors:
        while error.context:
            error = min(error.context, key=relevance)
        yield error


@cache
def load_spec(path: str | None = None) -> Spec:
    """Parse the spec once per process (per path)."""
    source = Path(path) if path else default_spec_path()
    with source.open("rb") as handle:
        document = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return Spec(document, source)


__all__ = ["JSON", "NDJSON", "SSE", "Operation", "Spec", "SpecIssue", "load_spec"]
