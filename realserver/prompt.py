"""Prompt building: request + model template -> the text llama.cpp evaluates.

Mirrors Ollama's ``template.Execute``: a template that uses ``.Messages`` gets the
whole conversation (system messages collated into ``.System``, consecutive
messages of one role merged); an older template that only knows ``.System``,
``.Prompt`` and ``.Response`` is executed once per user turn and cut where
``.Response`` would be printed for the last, unanswered turn.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from ollama_harness.realserver.gotemplate import Template

# ChatML with tools, the Go template Ollama ships for ChatML models such as
# smollm2 and qwen2.5. Used when a GGUF's Jinja template is ChatML.
CHATML_TEMPLATE = """{{- if .Messages }}
{{- if or .System .Tools }}<|im_start|>system
{{- if .System }}
{{ .System }}
{{- end }}
{{- if .Tools }}

# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{{- range .Tools }}
{"type": "function", "function": {{ .Function }}}
{{- end }}
</tools>

For each function call, return a json object with function name and arguments within \
<tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call>
{{- end }}<|im_end|>
{{ end }}
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 -}}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
{{ if .Content }}{{ .Content }}
{{- else if .ToolCalls }}<tool_call>
{{ range .ToolCalls }}{"name": "{{ .Function.Name }}", "arguments": {{ .Function.Arguments }}}
{{ end }}</tool_call>
{{- end }}{{ if not $last }}<|im_end|>
{{ end }}
{{- else if eq .Role "tool" }}<|im_start|>user
<tool_response>
{{ .Content }}
</tool_response><|im_end|>
{{ end }}
{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
{{ end }}
{{- end }}
{{- else }}
{{- if .System }}<|im_start|>system
{{ .System }}<|im_end|>
{{ end }}{{ if .Prompt }}<|im_start|>user
{{ .Prompt }}<|im_end|>
{{ end }}<|im_start|>assistant
{{ end }}{{ .Response }}{{ if .Response }}<|im_end|>{{ end }}"""

CHATML_STOPS = ["<|im_start|>", "<|im_end|>"]

_DEFAULT_SYSTEM_RE = re.compile(
    r"messages\[0\]\['role'\] != 'system' %\}\{\{ '<\|im_start\|>system\n(.*?)<\|im_end\|>",
    re.DOTALL,
)


@dataclass(frozen=True)
class TemplateChoice:
    """The Go template (and what comes with it) derived from a GGUF's Jinja template."""

    template: str
    stop: list[str]
    system: str | None


def from_chat_template(jinja: str | None) -> TemplateChoice | None:
    """Map a known Jinja chat template to Ollama's Go equivalent (None: unknown)."""
    if not jinja:
        return None
    if "<|im_start|>" in jinja and "<|im_end|>" in jinja:
        match = _DEFAULT_SYSTEM_RE.search(jinja)
        return TemplateChoice(CHATML_TEMPLATE, list(CHATML_STOPS), match[1] if match else None)
    return None


class JSONObject(dict[str, Any]):
    """A map that prints as JSON, as Ollama's argument and tool types do."""

    def __str__(self) -> str:
        return json.dumps(self, ensure_ascii=False)


@dataclass
class ToolCallFunction:
    Name: str
    Arguments: JSONObject
    Index: int = 0

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.Name, "arguments": dict(self.Arguments)}
        if self.Index:
            out["index"] = self.Index
        return out


@dataclass
class ToolCall:
    Function: ToolCallFunction
    ID: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"function": self.Function.to_json()}


@dataclass
class ToolFunction:
    Name: str
    Description: str
    Parameters: JSONObject
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return self.raw or {
            "name": self.Name,
            "description": self.Description,
            "parameters": dict(self.Parameters),
        }

    def __str__(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False)


@dataclass
class Tool:
    Type: str
    Function: ToolFunction

    def to_json(self) -> dict[str, Any]:
        return {"type": self.Type, "function": self.Function.to_json()}

    def __str__(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False)


@dataclass
class Message:
    """api.Message as templates see it (Go field names)."""

    Role: str
    Content: str = ""
    Images: list[str] = field(default_factory=list)
    ToolCalls: list[ToolCall] = field(default_factory=list)
    ToolName: str = ""
    Thinking: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.Role, "content": self.Content}
        if self.ToolCalls:
            out["tool_calls"] = [call.to_json() for call in self.ToolCalls]
        if self.ToolName:
            out["tool_name"] = self.ToolName
        return out


def tool_from_json(data: dict[str, Any]) -> Tool:
    function = data.get("function") or {}
    return Tool(
        Type=str(data.get("type") or "function"),
        Function=ToolFunction(
            Name=str(function.get("name", "")),
            Description=str(function.get("description", "")),
            Parameters=JSONObject(function.get("parameters") or {}),
            raw=dict(function),
        ),
    )


def _arguments(value: Any) -> JSONObject:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = {}
    return JSONObject(value if isinstance(value, dict) else {})


def message_from_json(data: dict[str, Any]) -> Message:
    calls = []
    for index, call in enumerate(data.get("tool_calls") or []):
        function = call.get("function") or {}
        calls.append(
            ToolCall(
                ToolCallFunction(
                    Name=str(function.get("name", "")),
                    Arguments=_arguments(function.get("arguments")),
                    Index=int(function.get("index", index) or 0),
                )
            )
        )
    content = data.get("content")
    return Message(
        Role=str(data.get("role", "")),
        Content=content if isinstance(content, str) else "",
        Images=list(data.get("images") or []),
        ToolCalls=calls,
        ToolName=str(data.get("tool_name") or data.get("name") or ""),
        Thinking=str(data.get("thinking") or ""),
    )


def collate(messages: list[Message]) -> tuple[str, list[Message]]:
    """All system texts joined, and consecutive same-role messages merged."""
    system = [m.Content for m in messages if m.Role == "system"]
    merged: list[Message] = []
    for message in messages:
        previous = merged[-1] if merged else None
        if (
            previous is not None
            and previous.Role == message.Role
            and message.Role in ("system", "user")
            and not message.ToolCalls
        ):
            previous.Content += "\n\n" + message.Content
            previous.Images.extend(message.Images)
            continue
        merged.append(
            Message(
                message.Role,
                message.Content,
                list(message.Images),
                list(message.ToolCalls),
                message.ToolName,
                message.Thinking,
            )
        )
    return "\n\n".join(system), merged


_RESPONSE_MARK = "\x00ollama-harness-response\x00"


def render_messages(
    template: Template, messages: list[Message], tools: list[Tool] | None = None
) -> str:
    """The prompt for a conversation whose next message the model writes."""
    system, merged = collate(messages)
    if template.uses("Messages"):
        return template.render(
            {
                "System": system,
                "Messages": merged,
                "Tools": tools or [],
                "Response": "",
                "Prompt": "",
                "Suffix": "",
                "Think": False,
                "ThinkLevel": "",
                "IsThinkSet": False,
            }
        )
    # A legacy template: one execution per (system, prompt, response) turn.
    out: list[str] = []
    turn = {"System": "", "Prompt": "", "Response": ""}

    def flush() -> None:
        out.append(template.render(dict(turn)))
        turn.update(System="", Prompt="", Response="")

    for message in merged:
        if message.Role == "system":
            if turn["Prompt"] or turn["Response"]:
                flush()
            turn["System"] = message.Content
        elif message.Role == "user":
            if turn["Response"]:
                flush()
            turn["Prompt"] = message.Content
        elif message.Role == "assistant":
            turn["Response"] = message.Content
    # The last turn is cut where the model's response goes.
    last = template.render({**turn, "Response": _RESPONSE_MARK})
    out.append(last.split(_RESPONSE_MARK, 1)[0])
    return "".join(out)


def render_suffix(template: Template, prompt: str, suffix: str) -> str:
    """Fill-in-the-middle: the template sees ``.Prompt`` and ``.Suffix`` only."""
    return template.render({"Prompt": prompt, "Suffix": suffix, "Response": "", "System": ""})


def render_jinja(
    source: str,
    messages: list[Message],
    tools: list[Tool] | None = None,
    bos_token: str = "",
    eos_token: str = "",
) -> str:
    """A GGUF's own (Jinja) chat template, for models whose format has no Go mapping."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)

    def raise_exception(message: str) -> None:
        raise ValueError(message)

    template = environment.from_string(source)
    return template.render(
        messages=[m.to_json() for m in messages],
        tools=[t.to_json() for t in tools] if tools else None,
        add_generation_prompt=True,
        bos_token=bos_token,
        eos_token=eos_token,
        raise_exception=raise_exception,
    )
