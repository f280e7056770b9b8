"""Tool calls parsed from scripted model output, whole and token by token."""

from __future__ import annotations

import pytest

from ollama_harness.realserver.prompt import CHATML_TEMPLATE
from ollama_harness.realserver.toolcalls import ToolCallParser, tool_call_prefix


def run(
    parser: ToolCallParser, pieces: list[str]
) -> tuple[str, list[tuple[str, dict[str, object]]]]:
    content = ""
    calls = []
    for piece in pieces:
        text, found = parser.feed(piece)
        content += text
        calls += [(c.Function.Name, dict(c.Function.Arguments)) for c in found]
    content += parser.flush()
    return content, calls


def test_prefix_comes_from_the_template() -> None:
    assert tool_call_prefix(CHATML_TEMPLATE) == "<tool_call>"
    mistral = "{{ if .ToolCalls }}[TOOL_CALLS] [{{ range .ToolCalls }}{{ .Function }}{{ end }}]"
    assert tool_call_prefix(mistral) == "[TOOL_CALLS]"
    assert tool_call_prefix("{{ .Prompt }}") == ""


def test_chatml_call_split_across_tokens() -> None:
    pieces = [
        "Let me",
        " check.",
        "<",
        "tool_",
        'call>\n{"name": "get_',
        'weather", "arguments": ',
        '{"city": "Paris"}}\n</tool_call>',
    ]
    content, calls = run(ToolCallParser("<tool_call>", {"get_weather"}), pieces)
    assert content == "Let me check."
    assert calls == [("get_weather", {"city": "Paris"})]


def test_two_calls_in_a_row() -> None:
    text = (
        '<tool_call>\n{"name": "a", "arguments": {"x": 1}}\n</tool_call>\n'
        '<tool_call>\n{"name": "b", "arguments": {}}\n</tool_call>'
    )
    parser = ToolCallParser("<tool_call>", {"a", "b"})
    content, calls = run(parser, list(text))  # one character at a time
    assert content == ""
    assert calls == [("a", {"x": 1}), ("b", {})]
    assert [c.Function.Index for c in parser.calls] == [0, 1]


def test_arguments_as_a_json_string_and_parameters_key() -> None:
    text = '<tool_call>{"name": "a", "parameters": "{\\"x\\": 2}"}</tool_call>'
    assert run(ToolCallParser("<tool_call>", {"a"}), [text])[1] == [("a", {"x": 2})]


def test_unknown_tool_name_is_not_a_call() -> None:
    _content, calls = run(
        ToolCallParser("<tool_call>", {"a"}), ['<tool_call>{"name": "zzz", "arguments": {}}']
    )
    assert calls == []


def test_text_that_only_looks_like_a_prefix_is_content() -> None:
    content, calls = run(ToolCallParser("<tool_call>", {"a"}), ["1 <", " 2 and <tool", "s>"])
    assert content == "1 < 2 and <tools>"
    assert calls == []


def test_unfinished_call_is_returned_as_content() -> None:
    content, calls = run(ToolCallParser("<tool_call>", {"a"}), ['<tool_call>{"name": "a", "argu'])
    assert calls == []
    assert content == '<tool_call>{"name": "a", "argu'


@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        (['{"name": "a", ', '"arguments": {"q": "x"}}'], [("a", {"q": "x"})]),
        (
            ['[{"name": "a", "arguments": {}}, {"name": "a", "arguments": {"n": 1}}]'],
            [("a", {}), ("a", {"n": 1})],
        ),
    ],
)
def test_bare_json_calls_without_a_prefix(pieces: list[str], expected: list[object]) -> None:
    assert run(ToolCallParser("", {"a"}), pieces) == ("", expected)


def test_bare_json_mode_leaves_prose_alone() -> None:
    assert run(ToolCallParser("", {"a"}), ["Hello ", "{world}"]) == ("Hello {world}", [])
