"""One module per ``ollama-harness`` subcommand (see :data:`ollama_harness.cli.COMMANDS`)."""
