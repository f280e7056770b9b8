"""Locust entry point: ``locust -f load/locustfile.py --host URL --workload mixed``.

Every option of ``ollama-harness load`` is a Locust option here too (see
``locust -f load/locustfile.py --help``, group "ollama-harness"), and each has a
``LOCUST_*`` environment variable. The shape runs the chosen profile and ends
the test itself; reports go to ``--report-dir`` (default ``reports/load-<time>``).
Run it with ``--processes 4``, or ``--master`` / ``--worker`` across machines,
exactly as any Locust test.
"""

from ollama_harness.load.locust_runtime import install
from ollama_harness.load.locust_shape import ProfileShape
from ollama_harness.load.locust_users import AnthropicUser, NativeUser, OpenAIUser, ResponsesUser

install()

__all__ = ["AnthropicUser", "NativeUser", "OpenAIUser", "ProfileShape", "ResponsesUser"]
