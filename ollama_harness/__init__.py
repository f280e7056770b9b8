"""ollama-harness: the application layer (CLI, commands, demo) over the shared core.

`ollama_harness.core` is the core layer that `mockserver`, `realserver`, `conformance`
and `load` build on; a few of its names are re-exported here for convenience. See
ARCHITECTURE.md for which layer may import which.
"""

from ollama_harness.core.durations import DurationError, format_go_duration, parse_keep_alive
from ollama_harness.core.names import ModelName, ModelNameError, parse_model_name
from ollama_harness.core.spec import Spec, SpecIssue, load_spec

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
