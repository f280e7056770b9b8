"""The main job: a server, the conformance suite and a load run, one joint report.

``ollama-harness demo`` starts the reference server with the bundled model on a
free loopback port (or the mock, saying so, when the ``reference`` extra is not
installed), runs the conformance suite and a mixed load profile against it,
writes ``reports/<timestamp>/index.html`` joining both, prints a summary and
stops the server. Servers run as child processes so that what is measured is
the server a user would run, over HTTP, exactly like any other target.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from ollama_harness.core.names import parse_model_name

DEFAULT_MODEL = "smollm2:135m"


@dataclass
class DemoOptions:
    reports: Path = Path("reports")
    duration: str = "30s"
    users: int = 4
    level: str = "full"
    model: str = DEFAULT_MODEL
    server: str = "auto"  # auto | reference | mock
    models_dir: Path | None = None
    startup_timeout_s: float = 120.0


@dataclass
class DemoResult:
    directory: Path
    server_kind: str
    url: str
    conformance: dict[str, int] = field(default_factory=dict)
    conformance_exit: int = 0
    load: dict[str, Any] = field(default_factory=dict)
    index: Path | None = None

    @property
    def ok(self) -> bool:
        return self.conformance_exit == 0 and bool(self.load)


def reference_available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class ServerProcess:
    kind: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def demo_models_dir(options: DemoOptions) -> Path:
    """The demo's model store: --models, else OLLAMA_MODELS, else one of its own.

    Its own lies under the harness's cache directory, so a demo never writes into a
    real Ollama installation's ~/.ollama/models (``serve`` keeps Ollama's default).
    """
    if options.models_dir is not None:
        return options.models_dir
    if os.environ.get("OLLAMA_MODELS"):
        return Path(os.environ["OLLAMA_MODELS"]).expanduser()
    from ollama_harness.realserver.bundled import default_cache_dir

    return default_cache_dir() / "models"


def _server_command(kind: str, port: int, options: DemoOptions) -> list[str]:
    base = [sys.executable, "-m", "ollama_harness"]
    if kind == "reference":
        return [
            *base,
            "serve",
            "--host",
            f"127.0.0.1:{port}",
            "--models",
            str(demo_models_dir(options)),
        ]
    return [*base, "mock", "--host", "127.0.0.1", "--port", str(port)]


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path, deadline_s: float) -> None:
    """Poll ``GET /`` until it answers; show the server's output if it dies first."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
            raise RuntimeError(f"the server exited with status {process.returncode}:\n{tail}")
        try:
            if httpx.get(url + "/", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer on {url} within {deadline_s:.0f}s")


@contextlib.contextmanager
def running_server(kind: str, options: DemoOptions, log: Path) -> Iterator[ServerProcess]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            _server_command(kind, port, options), stdout=out, stderr=subprocess.STDOUT
        )
        try:
            wait_until_up(url, process, log, options.startup_timeout_s)
            yield ServerProcess(kind, url, process, log)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def install_bundled_model(options: DemoOptions) -> str:
    """Register smollm2:135m in the store (idempotent); returns a line to print."""
    from ollama_harness.realserver.bundled import SMOLLM2, install
    from ollama_harness.realserver.store import ModelStore

    # The same store the server it starts is given (--models).
    root = demo_models_dir(options)
    stored = install(ModelStore(root), SMOLLM2)
    return f"{stored.name.display} in {root}"


def run_conformance(
    url: str, kind: str, options: DemoOptions, directory: Path
) -> tuple[int, dict[str, int]]:
    """The suite in a child process (pytest wants a fresh interpreter per session)."""
    from ollama_harness.conformance.results import RunResult

    command = [
        sys.executable,
        "-m",
        "ollama_harness",
        "check",
        url,
        "--level",
        options.level,
        "--report",
        str(directory),
    ]
    if kind == "reference":
        # The mock's catalogue has a model for every capability: let the suite use them all.
        command += ["--model", options.model]
    with (directory.parent / "conformance.log").open("wb") as out:
        code = subprocess.call(command, stdout=out, stderr=subprocess.STDOUT)
    counts = (
        RunResult.read(directory).counts() if (directory / "conformance.json").is_file() else {}
    )
    return code, counts


def run_load(url: str, options: DemoOptions, directory: Path) -> dict[str, Any]:
    from ollama_harness.load.runner import run_profile

    return run_profile(
        url,
        "mixed",
        directory,
        duration=options.duration,
        users=options.users,
        model=options.model,
        show_progress=sys.stderr.isatty(),
    )


def write_index(result: DemoResult) -> Path:
    from ollama_harness.conformance.report import matrix_html_fragment
    from ollama_harness.conformance.results import RunResult
    from ollama_harness.load.htmlreport import render_load_fragment, render_page

    fragments = []
    intro = (
        f"<p>Server: <b>{result.server_kind}</b> at <code>{result.url}</code>; "
        f"run at {result.directory.name}.</p>"
    )
    fragments.append(intro)
    conformance_dir = result.directory / "conformance"
    if (conformance_dir / "conformance.json").is_file():
        fragments.append("<h2>Conformance</h2>")
        fragments.append(matrix_html_fragment([RunResult.read(conformance_dir)]))
    if result.load:
        fragments.append(render_load_fragment(result.load, title="Load: mixed workload"))
    index = result.directory / "index.html"
    index.write_text(render_page("ollama-harness demo", *fragments), encoding="utf-8")
    return index


def choose_server(options: DemoOptions) -> tuple[str, str]:
    """The kind of server to start and a sentence saying why."""
    if options.server == "mock":
        return "mock", "the mock server (asked for with --server mock)"
    if reference_available():
        return "reference", "the reference server (llama.cpp) with the bundled model"
    if options.server == "reference":
        raise RuntimeError(
            "the reference server needs the reference extra: pip install -e '.[reference]'"
        )
    return "mock", (
        "the MOCK server: the reference extra (llama-cpp-python) is not installed, "
        "so this run measures synthetic text, not real inference"
    )


def run_demo(options: DemoOptions, say: Any = print) -> DemoResult:
    parse_model_name(options.model)  # refuse a bad name before starting anything
    kind, why = choose_server(options)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    directory = options.reports / stamp
    directory.mkdir(parents=True, exist_ok=True)
    say(f"Server: {why}.")
    if kind == "reference":
        say(f"Model store: {install_bundled_model(options)}")
    with running_server(kind, options, directory / "server.log") as server:
        result = DemoResult(directory=directory, server_kind=kind, url=server.url)
        say(f"Listening on {server.url}; running the conformance suite ({options.level})...")
        result.conformance_exit, result.conformance = run_conformance(
            server.url, kind, options, directory / "conformance"
        )
        say(f"Running the mixed load profile for {options.duration} with {options.users} users...")
        result.load = run_load(server.url, options, directory / "load")
    result.index = write_index(result)
    return result
