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

from load.compare import Comparison, compare
from load.htmlreport import (
    render_load_fragment,
    render_load_html,
    render_sweep_fragment,
    render_sweep_html,
)
from load.metrics import key_figures, summarize
from load.options import RunOptions
from load.profiles import PROFILE_NAMES, PROFILES
from load.reportfiles import ReportError, is_load_run, load_summary, write_run
from load.runner import Distribution, LoadRunError, run_locust, run_profile, run_sweep
from load.samples import Sample, SampleStore
from load.slo import parse_slo

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
