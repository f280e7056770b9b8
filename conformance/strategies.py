"""Hypothesis strategies derived from the spec's request schemas.

A small JSON-Schema-to-strategy translator (``hypothesis-jsonschema`` is not a
dependency): it covers the keywords the spec's request schemas use (``$ref``,
``type`` lists, ``enum``/``const``, ``oneOf``/``anyOf``/``allOf``, string
patterns and lengths, numeric bounds, arrays, objects with required and
optional properties). What it cannot express exactly is over-approximated, and
callers keep only drawn values that the spec itself accepts, so "valid" always
means "valid per :mod:`ollama_harness.core.spec`".
"""

from __future__ import annotations

import string
from typing import Any

from hypothesis import strategies as st

from ollama_harness.core.spec import Spec

_TEXT = st.text(alphabet=string.ascii_letters + string.digits + " .,-_", max_size=12)
_SCALARS = st.none() | st.booleans() | st.integers(-100, 100) | _TEXT
MAX_DEPTH = 5


def _resolve(schema: Any, spec: Spec) -> Any:
    while isinstance(schema, dict) and "$ref" in schema:
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        schema = {**spec.resolve(schema["$ref"].split("#", 1)[1]), **rest}
    return schema


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """``allOf``-style conjunction of two object schemas (properties and required joined)."""
    merged = {**base, **extra}
    if "properties" in base or "properties" in extra:
        merged["properties"] = {**base.get("properties", {}), **extra.get("properties", {})}
    if "required" in base or "required" in extra:
        merged["required"] = sorted({*base.get("required", []), *extra.get("required", [])})
    return merged


def from_schema(schema: Any, spec: Spec, depth: int = 0) -> st.SearchStrategy[Any]:
    """A strategy for values meant to satisfy ``schema`` (resolved inside ``spec``)."""
    schema = _resolve(schema, spec)
    if not isinstance(schema, dict) or not schema:
        return _SCALARS
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "allOf" in schema:
        merged = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            merged = _merge(merged, _resolve(part, spec))
        return from_schema(merged, spec, depth)
    for key in ("oneOf", "anyOf"):
        if key in schema:
            base = {k: v for k, v in schema.items() if k not in ("oneOf", "anyOf")}
            branches = [_merge(base, _resolve(b, spec)) for b in schema[key]]
            return st.one_of([from_schema(b, spec, depth) for b in branches])
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": k}, spec, depth) for k in kind])
    if kind is None:
        kind = "object" if "properties" in schema or "required" in schema else None
    builder = _BUILDERS.get(kind or "")
    return builder(schema, spec, depth) if builder else _SCALARS


def _string(schema: dict[str, Any], spec: Spec, depth: int) -> st.SearchStrategy[Any]:
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True).filter(
            lambda s: len(s) <= schema.get("maxLength", 200)
        )
    low = schema.get("minLength", 0)
    return st.text(
        alphabet=string.printable,
        min_size=low,
        max_size=max(low, min(schema.get("maxLength", 24), 24)),
    )


def _integer(schema: dict[str, Any], spec: Spec, depth: int) -> st.SearchStrategy[Any]:
    low = schema.get("minimum", -1000)
    high = schema.get("maximum", 1000)
    if "exclusiveMinimum" in schema:
        low = schema["exclusiveMinimum"] + 1
    if "exclusiveMaximum" in schema:
        high = schema["exclusiveMaximum"] - 1
    return st.integers(int(low), int(high))


def _number(schema: dict[str, Any], spec: Spec, depth: int) -> st.SearchStrategy[Any]:
    return st.floats(
        min_value=schema.get("minimum", -1000.0),
        max_value=schema.get("maximum", 1000.0),
        exclude_min="exclusiveMinimum" in schema,
        exclude_max="exclusiveMaximum" in schema,
        allow_nan=False,
        allow_infinity=False,
    )


def _array(schema: dict[str, Any], spec: Spec, depth: int) -> st.SearchStrategy[Any]:
    low = schema.get("minItems", 0)
    high = low if depth >= MAX_DEPTH else max(low, min(schema.get("maxItems", 3), 3))
    return st.lists(
        from_schema(schema.get("items", {}), spec, depth + 1), min_size=low, max_size=high
    )


def _object(schema: dict[str, Any], spec: Spec, depth: int) -> st.SearchStrategy[Any]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    optional = (
        {}
        if depth >= MAX_DEPTH
        else {
            k: from_schema(v, spec, depth + 1) for k, v in properties.items() if k not in required
        }
    )
    return st.fixed_dictionaries(
        {k: from_schema(properties.get(k, {}), spec, depth + 1) for k in sorted(required)},
        optional=optional,
    )


_BUILDERS = {
    "string": _string,
    "integer": _integer,
    "number": _number,
    "boolean": lambda schema, spec, depth: st.booleans(),
    "null": lambda schema, spec, depth: st.none(),
    "array": _array,
    "object": _object,
}


def request_strategy(spec: Spec, op_id: str) -> st.SearchStrategy[Any]:
    """Bodies drawn from an operation's request schema."""
    return from_schema(spec.resolve(spec.request_pointer(op_id)), spec)


_WRONG = {
    "string": st.integers(-5, 5) | st.booleans() | st.just([]),
    "integer": _TEXT | st.booleans() | st.just({}),
    "number": _TEXT | st.just([1]),
    "boolean": _TEXT | st.integers(0, 1) | st.just({}),
    "array": _TEXT | st.integers() | st.just({"a": 1}),
    "object": _TEXT | st.integers() | st.just([1, 2]),
}


def invalid_request_strategy(spec: Spec, op_id: str) -> st.SearchStrategy[Any]:
    """Bodies that break the request schema in one place: a wrong type or a non-object body.

    Callers keep only draws the spec rejects (a wrong "type" can still satisfy a
    ``oneOf`` elsewhere).
    """
    schema = spec.resolve(spec.request_pointer(op_id))
    properties = {
        name: sub
        for name, sub in schema.get("properties", {}).items()
        if _declared_type(sub, spec) is not None
    }
    valid = request_strategy(spec, op_id)
    non_object = st.sampled_from([[], [1, 2], "text", 5, True])
    if not properties:
        return non_object

    @st.composite
    def wrong_field(draw: st.DrawFn) -> Any:
        body = dict(draw(valid))
        name = draw(st.sampled_from(sorted(properties)))
        body[name] = draw(_WRONG[str(_declared_type(properties[name], spec))])
        return body

    return st.one_of(wrong_field(), non_object)


def _declared_type(schema: Any, spec: Spec) -> str | None:
    schema = _resolve(schema, spec)
    kind = schema.get("type") if isinstance(schema, dict) else None
    return kind if isinstance(kind, str) and kind in _WRONG else None
