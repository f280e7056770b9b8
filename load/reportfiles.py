"""The three files of a run (summary.json, samples.csv, report.html) and reading them back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ollama_harness.load.htmlreport import render_load_html, render_sweep_html
from ollama_harness.load.metrics import SUMMARY_SCHEMA
from ollama_harness.load.samples import Sample, write_csv
from ollama_harness.load.sweep import SWEEP_SCHEMA

SUMMARY_FILE = "summary.json"
SAMPLES_FILE = "samples.csv"
REPORT_FILE = "report.html"
SWEEP_FILE = "sweep.json"


class ReportError(ValueError):
    """A path that does not hold a load run's summary."""


def write_run(out: Path, samples: Sequence[Sample], summary: dict[str, Any]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=1), encoding="utf-8")
    with (out / SAMPLES_FILE).open("w", encoding="utf-8", newline="") as handle:
        write_csv(samples, handle)
    title = f"Load test: {summary.get('run', {}).get('profile', 'run')}"
    (out / REPORT_FILE).write_text(render_load_html(summary, title), encoding="utf-8")
    return out


def write_sweep(out: Path, sweep: dict[str, Any]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / SWEEP_FILE).write_text(json.dumps(sweep, indent=1), encoding="utf-8")
    (out / REPORT_FILE).write_text(render_sweep_html(sweep), encoding="utf-8")
    return out


def load_summary(path: Path) -> dict[str, Any]:
    """A run's summary from its directory or its summary.json (or a sweep's sweep.json)."""
    if path.is_dir():
        for name in (SUMMARY_FILE, SWEEP_FILE):
            if (path / name).is_file():
                path = path / name
                break
        else:
            raise ReportError(f"{path}: no {SUMMARY_FILE} or {SWEEP_FILE} in this directory")
    if not path.is_file():
        raise ReportError(f"{path}: no such file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("schema") not in (SUMMARY_SCHEMA, SWEEP_SCHEMA):
        raise ReportError(f"{path}: not a load summary (schema {SUMMARY_SCHEMA})")
    return data


def is_load_run(path: Path) -> bool:
    try:
        load_summary(path)
    except ReportError:
        return False
    return True
