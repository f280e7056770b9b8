import sys

from ollama_harness.cli import main

sys.exit(main())
