"""Rejected requests get the words real Ollama uses."""

from __future__ import annotations

import pytest

from ollama_harness.core.errors import ApiError, decode_body, openai_error, translate_issue
from ollama_harness.core.spec import SpecIssue


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "missing request body"),
        (b"   ", "missing request body"),
        (b"{nope", "invalid character 'n' looking for beginning of value"),
        (b'{"model": "x"', "unexpected EOF"),
        (b"[1, 2]", "json: cannot unmarshal array into Go value of type api.GenerateRequest"),
        (b'"text"', "json: cannot unmarshal string into Go value of type api.GenerateRequest"),
    ],
)
def test_decode_errors(raw: bytes, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        decode_body(raw, "generate")
    assert caught.value.status == 400
    assert caught.value.message == message
    assert caught.value.body() == {"error": message}


def test_decode_accepts_objects() -> None:
    assert decode_body(b'{"model": "m"}', "chat") == {"model": "m"}


@pytest.mark.parametrize(
    ("op", "body", "issue", "status", "message"),
    [
        (
            "generate",
            {},
            SpecIssue("$", "required", "'model' is a required property"),
            404,
            "model '' not found",
        ),
        (
            "chat",
            {},
            SpecIssue("$", "required", "'model' is a required property"),
            400,
            "model is required",
        ),
        (
            "show",
            {},
            SpecIssue("$", "required", "'model' is a required property"),
            400,
            "model is required",
        ),
        (
            "generate",
            {"model": "../x"},
            SpecIssue("$.model", "pattern", "does not match"),
            400,
            "invalid model name",
        ),
        (
            "delete",
            {"model": "../x"},
            SpecIssue("$.model", "pattern", "does not match"),
            400,
            'name "../x" is invalid',
        ),
        (
            "copy",
            {"source": "a", "destination": "/x"},
            SpecIssue("$.destination", "pattern", "does not match"),
            400,
            'destination "/x" is invalid',
        ),
        (
            "generate",
            {"options": {"temperature": "hot"}},
            SpecIssue("$.options.temperature", "type", "'hot' is not of type 'number'"),
            400,
            'option "temperature" must be of type float32',
        ),
        (
            "generate",
            {"options": {"num_predict": 1.5}},
            SpecIssue("$.options.num_predict", "type", "1.5 is not of type 'integer'"),
            400,
            'option "num_predict" must be of type integer',
        ),
        (
            "generate",
            {"options": {"stop": [1]}},
            SpecIssue("$.options.stop[0]", "type", "1 is not of type 'string'"),
            400,
            'option "stop" must be of an array of strings',
        ),
        (
            "generate",
            {"keep_alive": "5 minutes"},
            SpecIssue("$.keep_alive", "pattern", "does not match"),
            400,
            'time: invalid duration "5 minutes"',
        ),
        (
            "generate",
            {"keep_alive": True},
            SpecIssue("$.keep_alive", "type", "True is not of type 'string', 'number'"),
            400,
            "Unsupported type: 'bool'",
        ),
        (
            "chat",
            {"think": "max2"},
            SpecIssue("$.think", "enum", "'max' is not one of"),
            400,
            'invalid think value: "max2" (must be "high", "medium", "low", "max", true, or false)',
        ),
        (
            "generate",
            {"prompt": 3},
            SpecIssue("$.prompt", "type", "3 is not of type 'string'"),
            400,
            "json: cannot unmarshal number into Go struct field "
            "GenerateRequest.prompt of type string",
        ),
        (
            "embed",
            {"input": 3},
            SpecIssue("$.input", "type", "3 is not valid"),
            400,
            "invalid input type",
        ),
        (
            "generate",
            {"top_logprobs": 21},
            SpecIssue("$.top_logprobs", "maximum", "21 > 20"),
            400,
            "top_logprobs must be between 0 and 20",
        ),
    ],
)
def test_translate_issue(
    op: str, body: dict[str, object], issue: SpecIssue, status: int, message: str
) -> None:
    error = translate_issue(op, body, issue)
    assert (error.status, error.message) == (status, message)


def test_openai_envelope() -> None:
    assert openai_error(404, "model 'x' not found") == {
        "error": {
            "message": "model 'x' not found",
            "type": "not_found_error",
            "param": None,
            "code": None,
        }
    }
    assert openai_error(400, "bad")["error"]["type"] == "invalid_request_error"
    assert openai_error(503, "busy")["error"]["type"] == "api_error"
