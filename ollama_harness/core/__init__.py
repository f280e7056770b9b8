"""The core layer: what every server and client of this project shares.

Spec loading and validation, Ollama's model-name grammar, Go durations, Ollama's
error wording and the Modelfile grammar. Nothing here imports the servers, the
clients or the application layer (`ollama_harness.cli`, `commands`, `demo`);
tests/test_architecture.py keeps it so.
"""
