"""Keep the import rules of ARCHITECTURE.md true."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("ollama_harness", "mockserver", "realserver", "conformance", "load")
APP_LAYER = (
    "ollama_harness.cli",
    "ollama_harness.commands",
    "ollama_harness.demo",
    "ollama_harness.__main__",
)

# layer -> project packages it may import
ALLOWED: dict[str, set[str]] = {
    "core": {"core"},
    "mockserver": {"core", "mockserver"},
    "realserver": {"core", "realserver"},
    "conformance": {"core", "conformance"},
    "load": {"core", "load"},
    "app": {"core", "mockserver", "realserver", "conformance", "load", "app"},
}


def layer_of(module: str) -> str | None:
    if module.startswith(APP_LAYER) or module in APP_LAYER:
        return "app"
    top = module.split(".", maxsplit=1)[0]
    if top == "ollama_harness":
        return "core"
    return top if top in PROJECT else None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            found.append((node.lineno, target))
    return found


def project_modules() -> list[Path]:
    files: list[Path] = []
    for top in PROJECT:
        files.extend(sorted((ROOT / top).rglob("*.py")))
    return files


def test_there_are_modules_to_check() -> None:
    assert len(project_modules()) >= 5


@pytest.mark.parametrize("path", project_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_layers(path: Path) -> None:
    source_layer = layer_of(module_name(path))
    assert source_layer is not None
    violations = []
    for lineno, target in imports_of(path):
        target_layer = layer_of(target)
        if target_layer is None:
            continue  # stdlib or third party
        if target_layer not in ALLOWED[source_layer]:
            violations.append(f"line {lineno}: {source_layer} imports {target}")
    assert not violations, "; ".join(violations)


def test_rules_catch_a_violation(tmp_path: Path) -> None:
    """The checker itself works: a conformance module importing the mock is flagged."""
    assert layer_of("conformance.checks") == "conformance"
    assert "mockserver" not in ALLOWED["conformance"]
    assert "realserver" not in ALLOWED["mockserver"]
    assert layer_of("ollama_harness.commands.mock") == "app"
    assert layer_of("ollama_harness.spec") == "core"
