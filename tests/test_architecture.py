"""Keep the import rules of ARCHITECTURE.md true.

Layers are packages: ``ollama_harness.core`` is the core, the servers and clients
are ``ollama_harness.mockserver``, ``.realserver``, ``.conformance`` and ``.load``
(the repository's top-level folders of those names), and the rest of
``ollama_harness`` (the CLI, ``commands``, ``demo``) is the application layer. An
import is judged by the package it names, so a new module inherits its package's
rules without being listed here.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The four folders installed as subpackages of ollama_harness (see ARCHITECTURE.md).
SUBPACKAGE_FOLDERS = ("mockserver", "realserver", "conformance", "load")
CORE_PACKAGE = "ollama_harness.core"

# layer -> the layers it may import
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset({"core"}),
    "mockserver": frozenset({"core", "mockserver"}),
    "realserver": frozenset({"core", "realserver"}),
    "conformance": frozenset({"core", "conformance"}),
    "load": frozenset({"core", "load"}),
    "app": frozenset({"core", "mockserver", "realserver", "conformance", "load", "app"}),
}


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def layer_of(module: str) -> str | None:
    """The layer of a dotted module name, or None for the standard library and third parties."""
    if _within(module, CORE_PACKAGE):
        return "core"
    for folder in SUBPACKAGE_FOLDERS:
        if _within(module, f"ollama_harness.{folder}"):
            return folder
    if _within(module, "ollama_harness"):
        return "app"
    if module.split(".", maxsplit=1)[0] in SUBPACKAGE_FOLDERS:
        return "uninstalled"  # a bare `import load`: no such package outside a checkout
    return None


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    if parts[0] in SUBPACKAGE_FOLDERS:
        parts.insert(0, "ollama_harness")
    return ".".join(parts)


def imports_of(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    package = module_name(path, root).split(".")
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
            # `from ollama_harness import core` names the subpackage in the alias.
            found.extend((node.lineno, f"{target}.{alias.name}") for alias in node.names)
    return found


def violations_in(path: Path, root: Path = ROOT) -> list[str]:
    source_layer = layer_of(module_name(path, root))
    if source_layer is None:
        raise AssertionError(f"{path} is in no layer")
    found = []
    for lineno, target in imports_of(path, root):
        target_layer = layer_of(target)
        if target_layer is not None and target_layer not in ALLOWED[source_layer]:
            found.append(f"line {lineno}: {source_layer} imports {target}")
    return found


def project_modules(root: Path = ROOT) -> list[Path]:
    # The symbolic links ollama_harness/<folder> are skipped: the folders are walked once.
    files = [p for p in sorted((root / "ollama_harness").rglob("*.py")) if not _linked(p, root)]
    for folder in SUBPACKAGE_FOLDERS:
        files.extend(sorted((root / folder).rglob("*.py")))
    return files


def _linked(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts
    return len(parts) > 2 and parts[1] in SUBPACKAGE_FOLDERS


def test_there_are_modules_to_check() -> None:
    layers = {layer_of(module_name(p)) for p in project_modules()}
    assert layers == set(ALLOWED)


@pytest.mark.parametrize("folder", SUBPACKAGE_FOLDERS)
def test_each_folder_is_a_subpackage_of_ollama_harness(folder: str) -> None:
    link = ROOT / "ollama_harness" / folder
    assert link.is_symlink() and link.resolve() == (ROOT / folder).resolve()


@pytest.mark.parametrize("path", project_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_follow_the_layers(path: Path) -> None:
    assert not violations_in(path)


@pytest.mark.parametrize(
    ("where", "source", "expected"),
    [
        (
            "conformance/checks/planted.py",
            "from ollama_harness.mockserver.app import build_app\n",
            "conformance",
        ),
        ("mockserver/planted.py", "import ollama_harness.realserver.engine\n", "mockserver"),
        ("ollama_harness/core/planted.py", "from ollama_harness import cli\n", "core"),
        ("ollama_harness/core/planted.py", "from ..commands import check\n", "core"),
        ("load/planted.py", "from ..conformance.report import write_reports\n", "load"),
        ("load/planted.py", "from conformance.report import write_reports\n", "load"),
    ],
)
def test_a_planted_violation_is_caught(
    tmp_path: Path, where: str, source: str, expected: str
) -> None:
    """The checker fails on a module that breaks the table, written into a copy of the layout."""
    planted = tmp_path / where
    planted.parent.mkdir(parents=True)
    planted.write_text(source, encoding="utf-8")
    found = violations_in(planted, tmp_path)
    assert len(found) >= 1
    assert all(f": {expected} imports " in line for line in found)


def test_allowed_imports_are_not_flagged(tmp_path: Path) -> None:
    planted = tmp_path / "realserver" / "fine.py"
    planted.parent.mkdir(parents=True)
    planted.write_text(
        "import json\nfrom ollama_harness.core.spec import load_spec\nfrom . import engine\n"
        "from ollama_harness.realserver.store import ModelStore\n",
        encoding="utf-8",
    )
    assert violations_in(planted, tmp_path) == []
