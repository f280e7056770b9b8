"""Synthetic, reproducible model output.

Everything here is a pure function of the request: the same model, prompt,
system prompt, options.seed and format give the same tokens, so a client test can
assert on exact bytes. Tokens are words with their leading space (the way BPE
vocabularies split English), which keeps streamed chunks natural.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import string
import zlib
from array import array
from collections.abc import Sequence
from typing import Any

import orjson

_WORDS = [
    "the",
    "a",
    "model",
    "answer",
    "light",
    "sky",
    "blue",
    "because",
    "short",
    "waves",
    "scatter",
    "more",
    "than",
    "long",
    "ones",
    "in",
    "air",
    "molecules",
    "sun",
    "red",
    "evening",
    "colour",
    "we",
    "see",
    "of",
    "and",
    "to",
    "is",
    "that",
    "it",
    "this",
    "for",
    "with",
    "as",
    "on",
    "by",
    "from",
    "at",
    "are",
    "was",
    "be",
    "or",
    "an",
    "which",
    "can",
    "will",
    "data",
    "token",
    "server",
    "request",
    "stream",
    "local",
    "simple",
    "quick",
    "result",
    "value",
    "each",
    "first",
    "next",
    "small",
    "large",
    "fast",
    "slow",
    "time",
    "system",
    "reason",
    "question",
    "clear",
    "open",
    "source",
    "code",
    "test",
    "mock",
    "reply",
    "line",
    "number",
    "word",
    "text",
    "example",
    "works",
    "well",
    "here",
    "there",
    "when",
    "where",
    "how",
    "why",
    "what",
    "who",
    "very",
    "also",
    "just",
    "only",
    "often",
    "usually",
    "every",
    "into",
    "over",
    "under",
    "between",
    "through",
    "after",
    "before",
    "during",
    "without",
    "about",
    "against",
    "among",
]
_THOUGHTS = [
    "let",
    "me",
    "think",
    "about",
    "what",
    "is",
    "being",
    "asked",
    "first",
    "then",
    "consider",
    "the",
    "key",
    "facts",
    "check",
    "the",
    "details",
    "and",
    "make",
    "sure",
    "the",
    "reply",
    "is",
    "short",
    "correct",
    "and",
    "useful",
    "before",
    "I",
    "answer",
]


def request_seed(*parts: Any) -> int:
    """A 64-bit seed from the parts of a request that decide its output."""
    digest = hashlib.blake2b(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS), digest_size=8)
    return int.from_bytes(digest.digest(), "big")


_PUNCTUATION = string.punctuation.encode()


def count_tokens(text: str) -> int:
    """Prompt tokens: words plus punctuation marks, about what a BPE tokenizer gives.

    (Counted with C string methods: a regex over every prompt costs more than the
    rest of a request.)"""
    data = text.encode()
    return len(text.split()) + len(data) - len(data.translate(None, _PUNCTUATION))


def token_ids(seed: int, count: int) -> list[int]:
    """Stable token ids for ``context``: ``count`` 16-bit ids drawn from the seed."""
    ids = array("H", hashlib.shake_256(b"ctx" + seed.to_bytes(8, "big")).digest(2 * count))
    return ids.tolist()


# A stream byte's word, with its leading space, as it starts a sentence or not.
_SPACED = [" " + _WORDS[b % len(_WORDS)] for b in range(256)]
_SPACED_CAPITAL = [" " + _WORDS[b % len(_WORDS)].capitalize() for b in range(256)]


def sentence_tokens(seed: int, count: int) -> list[str]:
    """``count`` word tokens forming sentences: capitalised, ending with a period.

    Words are read from the seed's SHAKE-256 stream, one byte each, and sentence
    breaks are placed per sentence rather than per word: this runs on every
    generate request.
    """
    if count <= 0:
        return []
    key = seed.to_bytes(8, "big")
    length = 2 * count + 1
    stream = (  # blake2b is cheaper to set up; SHAKE-256 for any length beyond its 64 bytes
        hashlib.blake2b(key, digest_size=length).digest()
        if length <= 64
        else hashlib.shake_256(key).digest(length)
    )
    head = stream[:count]
    tokens = list(map(_SPACED.__getitem__, head))
    breaks = stream[count:]
    start = 0
    while start < count:
        end = min(count, start + 6 + breaks[start] % 9)  # sentences of 6-14 words
        tokens[start] = _SPACED_CAPITAL[head[start]]
        tokens[end - 1] += "."
        start = end
    tokens[0] = tokens[0][1:]
    return tokens


def thinking_tokens(rng: random.Random, level: str | bool) -> list[str]:
    scale = {"low": 1, "medium": 2, "high": 3, "max": 4}.get(str(level), 2)
    count = rng.randint(6, 10) * scale
    words = [rng.choice(_THOUGHTS) for _ in range(count)]
    words[0] = words[0].capitalize()
    words[-1] += "."
    return [words[0], *(" " + w for w in words[1:])]


def split_text(text: str) -> list[str]:
    """Tokens of a given text (JSON output, echoes): each with its leading whitespace."""
    pieces = re.findall(r"\s*\S+", text)
    if not pieces:
        return [text] if text else []
    trailing = text[len("".join(pieces)) :]
    if trailing:
        pieces[-1] += trailing
    return pieces


def apply_stops(tokens: list[str], stops: Sequence[str]) -> tuple[list[str], bool]:
    """Cut the tokens where a stop sequence first appears (the stop itself is dropped)."""
    stops = [s for s in stops if s]
    if not stops:
        return tokens, False
    text = ""
    for index, token in enumerate(tokens):
        before = len(text)
        text += token
        cut = min((p for p in (text.find(s) for s in stops) if p >= 0), default=-1)
        if cut >= 0:
            kept = tokens[:index]
            if cut > before:
                kept.append(text[before:cut])
            elif cut < before:  # the stop began inside earlier tokens: trim them
                joined = "".join(kept)[:cut]
                kept = split_text(joined)
            return kept, True
    return tokens, False


def logprobs(tokens: Sequence[str], seed: int, top: int) -> list[dict[str, Any]]:
    """Per-token log probabilities: the chosen token first among ``top`` alternatives."""
    out: list[dict[str, Any]] = []
    for index, token in enumerate(tokens):
        draw = zlib.crc32(f"{seed}:{index}".encode())
        chosen = -round((draw % 2000) / 1000.0, 4)  # in (-2, 0]
        entry: dict[str, Any] = {"token": token, "logprob": chosen, "bytes": list(token.encode())}
        if top:
            alternatives = [{"token": token, "logprob": chosen, "bytes": list(token.encode())}]
            for rank in range(1, top):
                word = " " + _WORDS[(draw >> rank) % len(_WORDS)]
                value = round(chosen - rank * 0.75, 4)
                alternatives.append({"token": word, "logprob": value, "bytes": list(word.encode())})
            entry["top_logprobs"] = alternatives
        out.append(entry)
    return out


# -- JSON output ---------------------------------------------------------------


def _resolve(schema: Any, root: dict[str, Any]) -> Any:
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 32:
        ref = str(schema["$ref"])
        node: Any = root
        if not ref.startswith("#"):
            return {}
        for part in ref.lstrip("#").strip("/").split("/"):
            if not part:
                continue
            node = (
                node.get(part.replace("~1", "/").replace("~0", "~"), {})
                if isinstance(node, dict)
                else {}
            )
        schema = node
        seen += 1
    return schema


def value_for_schema(schema: Any, rng: random.Random, root: dict[str, Any], depth: int = 0) -> Any:
    """A deterministic instance of a JSON schema (the subset structured outputs use)."""
    schema = _resolve(schema, root)
    if not isinstance(schema, dict) or depth > 8:
        return None
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return rng.choice(list(schema["enum"]))
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            options = [s for s in schema[key] if _resolve(s, root).get("type") != "null"]
            return value_for_schema((options or schema[key])[0], rng, root, depth + 1)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            part = _resolve(part, root)
            merged.setdefault("properties", {}).update(part.get("properties", {}))
            merged["required"] = [*merged.get("required", []), *part.get("required", [])]
            merged.setdefault("type", part.get("type"))
        return value_for_schema(merged, rng, root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        props = schema.get("properties", {})
        return {
            name: value_for_schema(sub, rng, root, depth + 1)
            for name, sub in props.items()
            if isinstance(name, str)
        }
    if kind == "array":
        low = int(schema.get("minItems", 1))
        high = int(schema.get("maxItems", max(low, 3)))
        count = rng.randint(low, max(low, high))
        items = schema.get("items", {"type": "string"})
        values = [value_for_schema(items, rng, root, depth + 1) for _ in range(count)]
        if schema.get("uniqueItems"):
            unique: list[Any] = []
            for value in values:
                if value not in unique:
                    unique.append(value)
            values = unique
        return values
    if kind in ("integer", "number"):
        return _number(schema, rng, integer=kind == "integer")
    if kind == "boolean":
        return rng.random() < 0.5
    if kind == "null":
        return None
    return _string(schema, rng)


def _number(schema: dict[str, Any], rng: random.Random, *, integer: bool) -> float | int:
    low = float(schema.get("minimum", schema.get("exclusiveMinimum", 0)))
    high = float(schema.get("maximum", schema.get("exclusiveMaximum", low + 100)))
    if "exclusiveMinimum" in schema:
        low += 1 if integer else 1e-6
    if "exclusiveMaximum" in schema:
        high -= 1 if integer else 1e-6
    high = max(low, high)
    if integer:
        value: float | int = rng.randint(math.ceil(low), max(math.ceil(low), math.floor(high)))
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0:
            value = int(value) - int(value) % step
            if value < low:
                value += step
        return value
    return round(rng.uniform(low, high), 3)


def _string(schema: dict[str, Any], rng: random.Random) -> str:
    fmt = schema.get("format")
    if fmt == "date-time":
        return f"2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}T12:00:00Z"
    if fmt == "date":
        return f"2024-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}"
    if fmt == "email":
        return f"{rng.choice(_WORDS)}@example.com"
    if fmt == "uuid":
        return "12345678-1234-4234-8234-" + f"{rng.getrandbits(48):012x}"
    if fmt in ("uri", "url"):
        return f"https://example.com/{rng.choice(_WORDS)}"
    low = int(schema.get("minLength", 1))
    high = int(schema.get("maxLength", max(low, 40)))
    words = [rng.choice(_WORDS) for _ in range(rng.randint(1, 4))]
    text = " ".join(words)
    while len(text) < low:
        text += " " + rng.choice(_WORDS)
    return text[:high] if high >= low else text


def json_output(fmt: Any, rng: random.Random) -> str:
    """The text of a ``format`` response: a JSON object as a model would write it."""
    if isinstance(fmt, dict):
        value = value_for_schema(fmt, rng, fmt)
    else:
        value = {
            "answer": "".join(sentence_tokens(rng.getrandbits(64), rng.randint(4, 10))),
            "confidence": round(rng.uniform(0.5, 1.0), 2),
        }
    return json.dumps(value, ensure_ascii=False)


# -- embeddings ------------------------------------------------------------------


def embedding(model: str, text: str, dimension: int) -> list[float]:
    """A raw (unnormalised) vector per (model, text), values in about [-1, 1]."""
    rng = random.Random(request_seed("embed", model, text))
    return [rng.gauss(0.0, 0.35) for _ in range(dimension)]


def normalised(vector: Sequence[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]
