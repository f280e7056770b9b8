"""ollama-harness: the shared core (spec loading, model names, durations) and the CLI.

`mockserver`, `realserver`, `conformance` and `load` build on the modules re-exported
here; see ARCHITECTURE.md for which layer may import which.
"""

from ollama_harness.durations import DurationError, format_go_duration, parse_keep_alive
from ollama_harness.names import ModelName, ModelNameError, parse_model_name
from ollama_harness.spec import Spec, SpecIssue, load_spec

__all__ = [
    "DurationError",
    "ModelName",
    "ModelNameError",
    "Spec",
    "SpecIssue",
    "format_go_duration",
    "load_spec",
    "parse_keep_alive",
    "parse_model_name",
]

__version__ = "0.1.0"
