"""Settings precedence (flag > OLLAMA_* env > default), the CLI, catalogue files."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
import yaml
from pydantic import ValidationError

from ollama_harness.cli import build_parser
from ollama_harness.commands.mock import build_settings
from ollama_harness.mockserver.catalogue import dump_default_catalogue, load_catalogue
from ollama_harness.mockserver.settings import MockSettings
from ollama_harness.mockserver.testing import MockServer


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in MockSettings.model_fields:
        monkeypatch.delenv(f"OLLAMA_{name.upper()}", raising=False)
    defaults = MockSettings()
    assert (defaults.host, defaults.port, defaults.clock) == ("127.0.0.1", 11434, "real")
    assert (defaults.num_parallel, defaults.max_queue) == (1, 512)
    assert defaults.keep_alive_seconds() == 300
    monkeypatch.setenv("OLLAMA_NUM_PARALLEL", "4")
    monkeypatch.setenv("OLLAMA_HOST", "127.0.0.1:12000")
    monkeypatch.setenv("OLLAMA_KEEP_ALIVE", "-1")
    from_env = MockSettings()
    assert (from_env.num_parallel, from_env.port) == (4, 12000)
    assert from_env.keep_alive_seconds() is None
    args = build_parser().parse_args(["mock", "--num-parallel", "2", "--clock", "fixed"])
    flagged = build_settings(args)
    assert (flagged.num_parallel, flagged.clock, flagged.port) == (2, "fixed", 12000)


def test_every_field_is_described_and_a_flag() -> None:
    import argparse

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    help_text = commands.choices["mock"].format_help()
    for name, field in MockSettings.model_fields.items():
        assert field.description, name
        assert "--" + name.replace("_", "-") in help_text
        assert f"OLLAMA_{name.upper()}" in help_text


def test_bad_values_are_refused() -> None:
    with pytest.raises(ValidationError):
        MockSettings(keep_alive="5 minutes")
    with pytest.raises(ValidationError):
        MockSettings(num_parallel=0)


def test_catalogue_round_trip(tmp_path: Path) -> None:
    text = dump_default_catalogue()
    path = tmp_path / "models.yaml"
    path.write_text(text, encoding="utf-8")
    models = load_catalogue(path)
    assert [m.name for m in models][:2] == ["smollm2:135m", "llama3.2:latest"]
    capabilities = {c for m in models for c in m.capabilities}
    assert capabilities == {"completion", "tools", "insert", "vision", "embedding", "thinking"}
    assert yaml.safe_load(text)["models"][0]["name"] == "smollm2:135m"
    bad = tmp_path / "bad.json"
    bad.write_text('{"models": [{"name": "bad name!"}]}', encoding="utf-8")
    with pytest.raises(ValidationError):
        load_catalogue(bad)


def test_async_context_manager() -> None:
    async def scenario() -> int:
        async with MockServer(clock="fixed") as mock, httpx.AsyncClient(base_url=mock.url) as http:
            return (await http.get("/api/version")).status_code

    assert asyncio.run(scenario()) == 200


def test_cli_dump_models(capsys: pytest.CaptureFixture[str]) -> None:
    from ollama_harness.cli import main

    assert main(["mock", "--dump-models"]) == 0
    assert "smollm2:135m" in capsys.readouterr().out


def test_cli_serves(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys
    import time

    from tests.support import free_port

    port = free_port()
    env = {**os.environ, "OLLAMA_CLOCK": "real", "OLLAMA_KEEP_ALIVE": "1m"}
    process = subprocess.Popen(
        [sys.executable, "-m", "ollama_harness", "mock", "--port", str(port), "--clock", "fixed"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                response = httpx.post(
                    f"http://127.0.0.1:{port}/api/generate",
                    json={"model": "smollm2:135m", "prompt": "hi", "stream": False},
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        assert response.json()["created_at"] == "2024-06-01T00:00:00.000000Z"  # flag beat env
        expires = httpx.get(f"http://127.0.0.1:{port}/api/ps").json()["models"][0]["expires_at"]
        assert expires == "2024-06-01T00:01:00.000000Z"  # env beat the default
    finally:
        process.terminate()
        process.wait(timeout=10)
