"""The Go template renderer: the constructs Ollama's templates use, with Go semantics."""

from __future__ import annotations

from typing import Any

import pytest

from ollama_harness.realserver.gotemplate import Template, TemplateError, render, to_text, truth


@pytest.mark.parametrize(
    ("source", "data", "expected"),
    [
        ("Hello {{ .Name }}!", {"Name": "Go"}, "Hello Go!"),
        ("{{ .A.B }}", {"A": {"B": 3}}, "3"),
        ("{{ if .X }}yes{{ else }}no{{ end }}", {"X": ""}, "no"),
        ("{{ if .X }}yes{{ else if .Y }}y{{ else }}no{{ end }}", {"X": 0, "Y": [1]}, "y"),
        ("{{ range .L }}[{{ . }}]{{ end }}", {"L": ["a", "b"]}, "[a][b]"),
        ("{{ range $i, $x := .L }}{{ $i }}={{ $x }} {{ end }}", {"L": ["a", "b"]}, "0=a 1=b "),
        ("{{ range .L }}x{{ else }}empty{{ end }}", {"L": []}, "empty"),
        ("{{ with .P }}<{{ .Q }}>{{ end }}", {"P": {"Q": "q"}}, "<q>"),
        ("{{ with .P }}<{{ .Q }}>{{ else }}none{{ end }}", {"P": None}, "none"),
        ("a  {{- .X -}}  b", {"X": "|"}, "a|b"),
        ("a\n{{- /* a comment */ -}}\nb", {}, "ab"),
        ("{{ eq .A 1 2 3 }}", {"A": 3}, "true"),
        ('{{ ne .A "x" }}', {"A": "x"}, "false"),
        ("{{ and .A .B }}", {"A": "a", "B": ""}, ""),
        ("{{ or .A .B }}", {"A": "", "B": "b"}, "b"),
        ("{{ not .A }}", {"A": []}, "true"),
        ("{{ len .L }}", {"L": [1, 2, 3]}, "3"),
        ("{{ slice .L 1 }}", {"L": [1, 2, 3]}, "[2 3]"),
        ("{{ index .L 1 }}", {"L": ["a", "b"]}, "b"),
        ("{{ json .M }}", {"M": {"a": [1, True, None]}}, '{"a":[1,true,null]}'),
        ('{{ .X | printf "%s!" }}', {"X": "hi"}, "hi!"),
        ("{{ lt 1 2 }} {{ ge 2.5 3.0 }}", {}, "true false"),
        ("{{ $x := 1 }}{{ if .A }}{{ $x = 2 }}{{ end }}{{ $x }}", {"A": True}, "2"),
        (
            "{{ range .L }}{{ if eq . 2 }}{{ break }}{{ end }}{{ . }}{{ end }}",
            {"L": [1, 2, 3]},
            "1",
        ),
        (
            "{{ range .L }}{{ if eq . 2 }}{{ continue }}{{ end }}{{ . }}{{ end }}",
            {"L": [1, 2, 3]},
            "13",
        ),
        ("{{ range $i, $_ := .L }}{{ $.Top }}{{ end }}", {"L": [1, 2], "Top": "t"}, "tt"),
        ("{{ (index .L 0).Name }}", {"L": [{"Name": "n"}]}, "n"),
        ('{{ "quoted \\"text\\"" }}', {}, 'quoted "text"'),
        ("{{ `raw {{ }}` }}", {}, "raw {{ }}"),
        ("{{ .A | or .B }}", {"A": "a", "B": ""}, "a"),
        ("{{ .A | and .B }}", {"A": "a", "B": ""}, ""),
        ("{{ with $x := .P }}{{ $x.Q }}{{ end }}", {"P": {"Q": 1}}, "1"),
        ("{{ $y := 0 }}{{ range .L }}{{ $y = . }}{{ end }}{{ $y }}", {"L": [1, 2, 3]}, "3"),
        ("{{ range $k, $v := .M }}{{ $k }}{{ $v }}{{ end }}", {"M": {"b": 2, "a": 1}}, "a1b2"),
        ("{{ range 3 }}{{ . }}{{ end }}", {}, "012"),
    ],
)
def test_renders_like_go(source: str, data: dict[str, Any], expected: str) -> None:
    assert render(source, data) == expected


def test_last_element_idiom_from_ollama_templates() -> None:
    # `$last := eq (len (slice $.Messages $i)) 1` is how Ollama templates find the last turn.
    source = (
        "{{- range $i, $m := .Messages }}"
        "{{- $last := eq (len (slice $.Messages $i)) 1 -}}"
        "{{ $m }}{{ if $last }}.{{ else }},{{ end }}"
        "{{- end }}"
    )
    assert render(source, {"Messages": ["a", "b", "c"]}) == "a,b,c."


def test_and_or_short_circuit() -> None:
    # Go 1.18+: the second operand is not evaluated once the first decides.
    assert render("{{ if and .A (index .L 5) }}x{{ end }}", {"A": False, "L": []}) == ""
    assert render("{{ or .A (index .L 5) }}", {"A": "set", "L": []}) == "set"


def test_objects_print_through_their_str() -> None:
    class Function:
        def __str__(self) -> str:
            return '{"name":"f"}'

    assert render("{{ .F }}", {"F": Function()}) == '{"name":"f"}'


def test_struct_fields_are_attributes() -> None:
    class Message:
        Role = "user"
        Content = "hi"

    assert render("{{ .Role }}: {{ .Content }}", Message()) == "user: hi"
    with pytest.raises(TemplateError, match="can't evaluate field Missing"):
        render("{{ .Missing }}", Message())


@pytest.mark.parametrize(
    "source",
    [
        "{{ if .X }}unclosed",
        "{{ end }}",
        "{{ .X",
        "{{ nosuchfunc .X }}",
        "{{ $undefined }}",
        '{{ define "x" }}{{ end }}',
        "{{ else }}",
    ],
)
def test_errors_are_template_errors(source: str) -> None:
    with pytest.raises(TemplateError):
        Template(source).render({"X": 1})


def test_truth_and_printing_follow_go() -> None:
    falsy: tuple[Any, ...] = (0, 0.0, "", [], {}, None, False)
    assert [truth(v) for v in falsy] == [False] * 7
    assert [truth(v) for v in (1, "0", [0], {"a": 1}, True, object())] == [True] * 6
    assert to_text(None) == "<no value>"
    assert to_text(True) == "true"
    assert to_text(2.0) == "2"
    assert to_text({"b": 1, "a": 2}) == "map[a:2 b:1]"


def test_uses_detects_fields() -> None:
    template = Template("{{ if .Tools }}{{ range .Tools }}{{ . }}{{ end }}{{ end }}{{ .Prompt }}")
    assert template.uses("Tools")
    assert template.uses("Prompt")
    assert not template.uses("Suffix")
