"""Load testing for Ollama-compatible servers, on Locust.

The public surface (none of it imports Locust, which monkey-patches with gevent;
the runs themselves happen in a Locust process, see :mod:`load.runner`):

- :func:`run_profile` / :func:`run_sweep`: run against a URL, write summary.json,
  samples.csv and report.html, return the summary;
- :func:`render_load_fragment` / :func:`render_sweep_fragment`: the report as an
  embeddable HTML ``<section>``;
- :func:`summarize`, :func:`compare`, :func:`load_summary` for existing runs.

``load/locustfile.py`` is the Locust entry point for people who run Locust directly.
"""

from ollama_harness.load.compare import Comparison, compare
from ollama_harness.load.htmlreport import (
    render_load_fragment,
    render_load_html,
    render_sweep_fragment,
    render_sweep_html,
)
from ollama_harness.load.metrics import key_figures, summarize
from ollama_harness.load.options import RunOptions
from ollama_harness.load.profiles import PROFILE_NAMES, PROFILES
from ollama_harness.load.reportfiles import ReportError, is_load_run, load_summary, write_run
from ollama_harness.load.runner import (
    Distribution,
    LoadRunError,
    run_locust,
    run_profile,
    run_sweep,
)
from ollama_harness.load.samples import Sample, SampleStore
from ollama_harness.load.slo import parse_slo

__all__ = [
    "PROFILES",
    "PROFILE_NAMES",
    "Comparison",
    "Distribution",
    "LoadRunError",
    "ReportError",
    "RunOptions",
    "Sample",
    "SampleStore",
    "compare",
    "is_load_run",
    "key_figures",
    "load_summary",
    "parse_slo",
    "render_load_fragment",
    "render_load_html",
    "render_sweep_fragment",
    "render_sweep_html",
    "run_locust",
    "run_profile",
    "run_sweep",
    "summarize",
    "write_run",
]
