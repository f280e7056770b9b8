"""The Ollama API conformance suite: checks any server over HTTP against the spec.

Run it with ``ollama-harness check URL`` or ``pytest --pyargs ollama_harness.conformance
--ollama-url URL``. Reports of runs are rendered by :mod:`conformance.report`
(``matrix_html_fragment`` for embedding the matrix elsewhere).
"""
