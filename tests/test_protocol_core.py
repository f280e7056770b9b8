"""The wire protocol lives once, in ``ollama_harness.core.protocol``.

Every fragment of :data:`WIRE_STRINGS` (Ollama's messages, progress statuses,
framing, the ``/v1`` objects' names) must be spelled in the core only: a server
module that writes one itself has started a second copy of the protocol, which is
how the two servers drifted apart before. The search reads string constants (f-string
pieces included) through the AST, so comments and docstrings may still name them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from ollama_harness.core.errors import ApiError
from ollama_harness.core.protocol import WIRE_STRINGS, checks, framing, messages, openai
from ollama_harness.core.protocol.metrics import Metrics
from ollama_harness.core.protocol.origins import RequestGuard

ROOT = Path(__file__).resolve().parent.parent
SERVER_PACKAGES = ("mockserver", "realserver")
# The mutants are deliberate deviations from the protocol that inspect and rewrite
# answers (they match on ``[DONE]`` to drop it); they are not a second copy of it.
EXEMPT = {Path("mockserver/mutations.py")}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.add(id(value))
    return found


def string_constants(source: str) -> list[tuple[int, str]]:
    """(line, text) of every str or bytes constant that is not a docstring."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or id(node) in skip:
            continue
        if isinstance(node.value, str):
            found.append((node.lineno, node.value))
        elif isinstance(node.value, bytes):
            found.append((node.lineno, node.value.decode("latin-1")))
    return found


def wire_strings_in(source: str) -> list[str]:
    return [
        f"line {line}: {fragment!r}"
        for line, text in string_constants(source)
        for fragment in WIRE_STRINGS
        if fragment in text
    ]


def _server_modules() -> list[Path]:
    return sorted(
        path.relative_to(ROOT)
        for package in SERVER_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if path.relative_to(ROOT) not in EXEMPT
    )


@pytest.mark.parametrize("module", _server_modules(), ids=str)
def test_no_server_module_spells_a_wire_string(module: Path) -> None:
    found = wire_strings_in((ROOT / module).read_text(encoding="utf-8"))
    assert not found, f"{module} writes protocol strings itself (use the core): {found}"


def test_the_check_finds_a_planted_wire_string() -> None:
    planted = (
        'BUSY = "server busy, please try again.  maximum pending requests exceeded"\n'
        "def refuse(name):\n    return f'\"{name}\" does not support tools'\n"
        'END = b"data: [DONE]\\n\\n"\n'
    )
    found = wire_strings_in(planted)
    assert len(found) == 3, found
    assert wire_strings_in('"""Says "pulling manifest" in a docstring only."""\n') == []


def test_wire_strings_are_distinctive() -> None:
    """Fragments short enough to appear in ordinary code would make the check noise."""
    assert all(len(fragment) >= 6 for fragment in WIRE_STRINGS)


# -- the protocol itself ----------------------------------------------------------


def test_metrics_leave_out_zeros() -> None:
    line = Metrics(total_duration=5, prompt_eval_count=3).add_to({"done": True})
    assert line == {"done": True, "total_duration": 5, "prompt_eval_count": 3}


def test_generate_checks_follow_ollamas_order() -> None:
    raw = {"raw": True, "system": "x", "suffix": "s", "think": True}
    with pytest.raises(ApiError, match="raw mode"):
        checks.check_generate("m", raw, [])
    with pytest.raises(ApiError, match='"m" does not support generate'):
        checks.check_generate("m", {"suffix": "s"}, [])
    with pytest.raises(ApiError, match="does not support insert"):
        checks.check_generate("m", {"suffix": "s", "think": True}, ["completion"])
    with pytest.raises(ApiError, match="does not support thinking"):
        checks.check_generate("m", {"think": True, "images": ["x"]}, ["completion"])
    with pytest.raises(ApiError, match="illegal base64"):
        checks.check_generate("m", {"images": ["not base64!"]}, ["completion", "vision"])
    assert (
        checks.unloads(True, 0) and not checks.unloads(True, 300) and not checks.unloads(False, 0)
    )


def test_openai_options_map_every_sampling_field() -> None:
    body = {
        "max_tokens": 5,
        "temperature": 0.1,
        "top_p": 0.9,
        "seed": 7,
        "frequency_penalty": 0.5,
        "presence_penalty": 0.25,
        "stop": "x",
    }
    assert openai.options(body) == {
        "num_predict": 5,
        "temperature": 0.1,
        "top_p": 0.9,
        "seed": 7,
        "frequency_penalty": 0.5,
        "presence_penalty": 0.25,
        "stop": ["x"],
    }
    assert openai.options({"max_tokens": 5, "max_completion_tokens": 9})["num_predict"] == 9


def test_openai_stream_end_frames_finish_usage_and_done() -> None:
    base = openai.envelope(openai.CHAT_CHUNK, "chatcmpl-1", 0, "m")
    end = openai.stream_end(base, "stop", openai.usage(2, 3), chat=True)
    events = end.split(b"\n\n")
    assert events[0].startswith(b"data: ") and b'"delta":{}' in events[0]
    assert b'"total_tokens":5' in events[1]
    assert end.endswith(framing.SSE_DONE)
    assert openai.finish_reason("length") == "length"
    assert openai.finish_reason("stop", tool_calls=True) == "tool_calls"


def test_request_guard_applies_host_and_origin_policy() -> None:
    guard = RequestGuard("127.0.0.1", "https://*.example.com")
    assert guard.verdict("GET", "evil.com", None) == (403, [])
    assert guard.verdict("GET", "localhost:11434", None) == (None, [])
    assert guard.verdict("GET", "localhost", "https://evil.com") == (403, [])
    status, headers = guard.verdict("OPTIONS", "localhost", "https://app.example.com")
    assert status == 204 and (b"access-control-allow-origin", b"https://app.example.com") in headers
    assert RequestGuard("0.0.0.0").verdict("GET", "evil.com", None) == (None, [])


def test_messages_keep_ollamas_quoting() -> None:
    assert messages.does_not_support("llama3", "tools") == '"llama3" does not support tools'
    assert messages.model_not_found("x") == "model 'x' not found"
    assert messages.model_not_found_pull("x") == 'model "x" not found, try pulling it first'
