"""The main job, end to end against the mock (the reference run is the README's)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from ollama_harness import demo
from ollama_harness.commands.demo import summary_table
from ollama_harness.demo import DemoOptions, choose_server, run_demo


def test_without_the_reference_extra_the_demo_says_it_uses_the_mock(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(demo, "reference_available", lambda: False)
    kind, why = choose_server(DemoOptions())
    assert kind == "mock" and "MOCK" in why and "reference extra" in why
    with pytest.raises(RuntimeError, match="reference extra"):
        choose_server(DemoOptions(server="reference"))


def test_a_bad_model_name_starts_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        run_demo(DemoOptions(reports=tmp_path, model="../x", server="mock"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_demo_against_the_mock_writes_one_joint_report(tmp_path: Path) -> None:
    said: list[str] = []
    result = run_demo(
        DemoOptions(reports=tmp_path, duration="3s", users=2, level="core", server="mock"),
        say=said.append,
    )
    assert result.server_kind == "mock" and said[0].startswith("Server: the mock")
    assert result.conformance_exit == 0
    assert result.conformance["failed"] == 0 and result.conformance["passed"] > 10
    assert result.load["requests"]["ok"] > 0 and result.load["requests"]["errors"] == 0
    assert result.ok
    assert result.index is not None and result.index.parent.parent == tmp_path
    page = result.index.read_text(encoding="utf-8")
    assert "Conformance" in page and "basics.root_says_running" in page
    assert "Load: mixed workload" in page and page.count("<svg") >= 3
    # self-contained: nothing to fetch when the file is opened
    assert "<script src" not in page and "<link" not in page and "@import" not in page
    for part in ("conformance/conformance.json", "load/summary.json", "server.log"):
        assert (result.directory / part).is_file(), part
    console = Console(record=True, width=120)
    console.print(summary_table(result))
    text = console.export_text()
    assert "conformance checks" in text and "TTFT p50 / p95" in text


def test_the_demo_keeps_out_of_a_real_ollama_model_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from types import SimpleNamespace

    from ollama_harness.realserver import bundled

    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("OLLAMA_MODELS", raising=False)
    installed: list[Path] = []

    def install(store: object, _model: object = None) -> object:
        root = Path(store.root)  # type: ignore[attr-defined]
        installed.append(root)
        (root / "blobs").mkdir(parents=True, exist_ok=True)
        return SimpleNamespace(name=SimpleNamespace(display="smollm2:135m"))

    monkeypatch.setattr(bundled, "install", install)
    demo.install_bundled_model(DemoOptions())
    command = demo._server_command("reference", 1234, DemoOptions())
    own = tmp_path / "cache" / "ollama-harness" / "models"
    assert installed == [own]
    assert command[command.index("--models") + 1] == str(own)  # the server it starts too
    assert not (home / ".ollama").exists()
    # OLLAMA_MODELS, when set, is the user's choice; serve keeps Ollama's default.
    monkeypatch.setenv("OLLAMA_MODELS", str(tmp_path / "chosen"))
    assert demo.demo_models_dir(DemoOptions()) == tmp_path / "chosen"
    from ollama_harness.realserver.settings import RealServerSettings

    monkeypatch.delenv("OLLAMA_MODELS")
    assert RealServerSettings().models.parts[-2:] == (".ollama", "models")
