"""The shared core: model names, durations and the spec loader."""

from __future__ import annotations

import pytest

from ollama_harness.core.durations import (
    DURATION_PATTERN,
    DurationError,
    format_go_duration,
    parse_go_duration,
    parse_keep_alive,
)
from ollama_harness.core.names import (
    MODEL_NAME_PATTERN,
    ModelName,
    ModelNameError,
    is_valid_model_name,
    parse_model_name,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("llama3", ModelName("registry.ollama.ai", "library", "llama3", "latest")),
        ("smollm2:135m", ModelName("registry.ollama.ai", "library", "smollm2", "135m")),
        ("me/mymodel:v1", ModelName("registry.ollama.ai", "me", "mymodel", "v1")),
        ("localhost:5000/me/m:t", ModelName("localhost:5000", "me", "m", "t")),
        ("_x.y-z:1.2_b", ModelName("registry.ollama.ai", "library", "_x.y-z", "1.2_b")),
    ],
)
def test_valid_names_parse_with_defaults(text: str, expected: ModelName) -> None:
    assert parse_model_name(text) == expected
    assert is_valid_model_name(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "../x",
        "../../etc/passwd",
        "/etc/passwd",
        "a/../b",
        "..",
        ".hidden",
        "x" * 81,
        "m:" + "t" * 81,
        "a/b/c/d",
        "name\x00",
        "name\n",
        "sp ace",
        "m:",
        ":tag",
        "-dash",
        "a//b",
    ],
)
def test_invalid_names_are_refused(text: str) -> None:
    assert not is_valid_model_name(text)
    with pytest.raises(ModelNameError):
        parse_model_name(text)


def test_display_and_key() -> None:
    name = parse_model_name("SmolLM2:135M")
    assert name.display == "SmolLM2:135M"
    assert name.key == parse_model_name("smollm2:135m").key
    assert parse_model_name("me/x").display == "me/x:latest"
    assert parse_model_name("h:1/me/x").display == "h:1/me/x:latest"


def test_eighty_character_parts_are_the_limit() -> None:
    assert is_valid_model_name("x" * 80 + ":" + "t" * 80)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("0", 0.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("300ms", 0.3),
        ("1.5s", 1.5),
        ("-1m", -60.0),
        ("2h45m10s", 9910.0),
        ("10us", 1e-5),
    ],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "5x", "m", "1h 30m", "five minutes", "--1s", "."])
def test_bad_durations(text: str) -> None:
    with pytest.raises(DurationError):
        parse_go_duration(text)


def test_keep_alive_forms() -> None:
    assert parse_keep_alive(None) == 300.0
    assert parse_keep_alive(None, default=60.0) == 60.0
    assert parse_keep_alive(0) == 0.0
    assert parse_keep_alive("10m") == 600.0
    assert parse_keep_alive(-1) is None
    assert parse_keep_alive("-1s") is None
    assert parse_keep_alive(2.5) == 2.5
    bad_values: tuple[object, ...] = (True, [], {}, "soon")
    for bad in bad_values:
        with pytest.raises(DurationError):
            parse_keep_alive(bad)


def test_format_go_duration() -> None:
    assert format_go_duration(300) == "5m0s"
    assert format_go_duration(0) == "0s"
    assert format_go_duration(5400) == "1h30m0s"
    assert format_go_duration(1.5) == "1.5s"


def test_patterns_are_anchored() -> None:
    assert MODEL_NAME_PATTERN.startswith("^") and MODEL_NAME_PATTERN.endswith("$")
    assert DURATION_PATTERN.startswith("^") and DURATION_PATTERN.endswith("$")
