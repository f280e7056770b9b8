"""The public surface of ``load``: what demo and other callers may rely on."""

from __future__ import annotations

import subprocess
import sys

from ollama_harness import load


def test_every_exported_name_exists() -> None:
    assert len(set(load.__all__)) == len(load.__all__)
    for name in load.__all__:
        assert hasattr(load, name), name
    for needed in ("run_profile", "run_sweep", "render_load_fragment", "key_figures"):
        assert needed in load.__all__


def test_importing_load_does_not_patch_the_caller_with_gevent() -> None:
    # Locust monkey-patches the standard library on import: it must stay in the
    # Locust process, never in a caller that also runs servers and threads
    code = (
        "import sys, load, load.runner, load.htmlreport, load.compare\n"
        "bad = sorted(m for m in ('gevent', 'locust') if m in sys.modules)\n"
        "assert not bad, bad\n"
    )
    command = [sys.executable, "-c", code]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
