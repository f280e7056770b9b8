"""Prompt building: ChatML from the GGUF, Messages templates, legacy templates, tools."""

from __future__ import annotations

from ollama_harness.realserver.gotemplate import Template
from ollama_harness.realserver.prompt import (
    CHATML_TEMPLATE,
    Message,
    collate,
    from_chat_template,
    message_from_json,
    render_jinja,
    render_messages,
    tool_from_json,
)

SMOLLM2_JINJA = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging "
    "Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}"
)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def test_chatml_jinja_maps_to_ollamas_go_template() -> None:
    choice = from_chat_template(SMOLLM2_JINJA)
    assert choice is not None
    assert choice.template == CHATML_TEMPLATE
    assert choice.stop == ["<|im_start|>", "<|im_end|>"]
    assert choice.system == "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    assert from_chat_template("{{ bos_token }}[INST] {{ x }} [/INST]") is None
    assert from_chat_template(None) is None


def test_chatml_conversation_matches_the_gguf_jinja_template() -> None:
    # The Go template must produce exactly what the model was trained on.
    messages = [
        Message("system", "Be brief."),
        Message("user", "Hi"),
        Message("assistant", "Hello!"),
        Message("user", "Why is the sky blue?"),
    ]
    go = render_messages(Template(CHATML_TEMPLATE), messages)
    jinja = render_jinja(SMOLLM2_JINJA, messages)
    assert go == jinja
    assert go.endswith("<|im_start|>user\nWhy is the sky blue?<|im_end|>\n<|im_start|>assistant\n")


def test_tools_reach_the_template_and_tool_turns_render() -> None:
    messages = [
        message_from_json({"role": "user", "content": "Weather in Paris?"}),
        message_from_json(
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
                ],
            }
        ),
        message_from_json({"role": "tool", "content": "22C", "tool_name": "get_weather"}),
    ]
    prompt = render_messages(Template(CHATML_TEMPLATE), messages, [tool_from_json(WEATHER)])
    assert prompt.startswith("<|im_start|>system\n\n# Tools\n")
    assert '{"type": "function", "function": {"name": "get_weather"' in prompt
    assert (
        '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'
        in prompt
    )
    assert "<tool_response>\n22C\n</tool_response>" in prompt
    assert prompt.endswith("<|im_start|>assistant\n")


def test_no_tools_no_tool_section() -> None:
    prompt = render_messages(Template(CHATML_TEMPLATE), [Message("user", "Hi")])
    assert prompt == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"


def test_legacy_template_runs_per_turn_and_cuts_at_response() -> None:
    template = Template(
        "{{ if .System }}<<SYS>>{{ .System }}<</SYS>>{{ end }}[INST] {{ .Prompt }} [/INST]"
        "{{ .Response }}</s>"
    )
    messages = [
        Message("system", "S"),
        Message("user", "a"),
        Message("assistant", "b"),
        Message("user", "c"),
    ]
    assert render_messages(template, messages) == (
        "<<SYS>>S<</SYS>>[INST] a [/INST]b</s>[INST] c [/INST]"
    )


def test_collate_joins_systems_and_merges_consecutive_roles() -> None:
    system, merged = collate(
        [Message("system", "a"), Message("system", "b"), Message("user", "x"), Message("user", "y")]
    )
    assert system == "a\n\nb"
    assert [(m.Role, m.Content) for m in merged] == [("system", "a\n\nb"), ("user", "x\n\ny")]
