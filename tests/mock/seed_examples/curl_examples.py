"""The curl commands of the seed documents, as (method, path, body) with the same bodies.

Bodies are copied from the documents; typographic quotes are made ASCII. The first
document's second generate example really sends a key with a leading space
(``" stream": false``), which a compatible server ignores (so it streams).
"""

from __future__ import annotations

from typing import Any

SKY = "Why is the sky blue? Give the shortest answer possible in under 20 words"

CURL_EXAMPLES: list[tuple[str, str, str, Any]] = [
    # 000: Ollama API: An In-Depth Technical Analysis
    (
        "000-generate-llama2",
        "POST",
        "/api/generate",
        {"model": "llama2", "prompt": "Why is the sky blue?"},
    ),
    (
        "000-generate-no-stream-typo",
        "POST",
        "/api/generate",
        {"model": "llama3.2", "prompt": "How are you today?", " stream": False},
    ),
    (
        "000-chat-smollm2",
        "POST",
        "/api/chat",
        {
            "model": "smollm2:135m",
            "stream": False,
            "messages": [
                {
                    "role": "user",
                    "content": SKY,
                }
            ],
        },
    ),
    ("000-tags", "GET", "/api/tags", None),
    ("000-show", "POST", "/api/show", {"model": "llama3.2"}),
    ("000-copy", "POST", "/api/copy", {"source": "llama3.2", "destination": "llama3.2-copy"}),
    ("000-delete", "DELETE", "/api/delete", {"model": "llama3.2-copy"}),
    ("000-pull", "POST", "/api/pull", {"model": "llama3.2"}),
    (
        "000-embeddings",
        "POST",
        "/api/embeddings",
        {"model": "nomic-embed-text", "prompt": "The sky is blue because of Rayleigh scattering"},
    ),
    ("000-ps", "GET", "/api/ps", None),
    ("000-version", "GET", "/api/version", None),
    # 001: Using Ollama APIs to generate responses and much more
    (
        "001-generate",
        "POST",
        "/api/generate",
        {
            "model": "smollm2:135m",
            "prompt": "Why is the sky blue? Give the shortest answer possible in under 20 words",
            "stream": False,
        },
    ),
    (
        "001-chat",
        "POST",
        "/api/chat",
        {
            "model": "smollm2:135m",
            "stream": False,
            "messages": [
                {
                    "role": "user",
                    "content": SKY,
                }
            ],
        },
    ),
    ("001-tags", "GET", "/api/tags", None),
    ("001-pull-embed-model", "POST", "/api/pull", {"model": "snowflake-arctic-embed:22m"}),
    # 002: Ollama REST API reference
    ("002-tags", "GET", "/api/tags", None),
    (
        "002-chat-no-stream",
        "POST",
        "/api/chat",
        {
            "model": "llama3.2",
            "messages": [{"role": "user", "content": "Why is the sky blue?"}],
            "stream": False,
        },
    ),
    (
        "002-chat-stream",
        "POST",
        "/api/chat",
        {"model": "llama3.2", "messages": [{"role": "user", "content": "Count to 5"}]},
    ),
    (
        "002-generate",
        "POST",
        "/api/generate",
        {"model": "llama3.2", "prompt": "The capital of France is", "stream": False},
    ),
    (
        "002-embeddings",
        "POST",
        "/api/embeddings",
        {"model": "nomic-embed-text", "prompt": "The quick brown fox"},
    ),
    ("002-pull-name", "POST", "/api/pull", {"name": "llama3.2"}),
    ("002-pull-tag", "POST", "/api/pull", {"name": "llama3.2:8b-instruct-q4_K_M"}),
    ("002-copy", "POST", "/api/copy", {"source": "llama3.2", "destination": "my-llama"}),
    ("002-ps", "GET", "/api/ps", None),
    ("002-show", "POST", "/api/show", {"name": "llama3.2"}),
    ("002-delete", "DELETE", "/api/delete", {"name": "llama3.2"}),
    ("002-root", "GET", "/", None),
]
