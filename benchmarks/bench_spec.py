"""How long request validation takes (target: well under a millisecond).

python benchmarks/bench_spec.py
"""

from __future__ import annotations

import timeit
from functools import partial

from ollama_harness.core.spec import load_spec

TYPICAL = {
    "model": "smollm2:135m",
    "prompt": "Why is the sky blue?",
    "stream": False,
    "options": {"temperature": 0, "seed": 42, "num_predict": 64, "stop": ["\n"]},
    "keep_alive": "5m",
}
CHAT = {
    "model": "smollm2:135m",
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Why is the sky blue?"},
    ],
    "options": {"temperature": 0.7, "top_k": 40},
}


def main() -> None:
    started = timeit.default_timer()
    spec = load_spec()
    spec.validate_request("generate", TYPICAL)
    spec.validate_request("chat", CHAT)
    print(f"load + compile: {(timeit.default_timer() - started) * 1e3:.1f} ms")
    for op, body in (("generate", TYPICAL), ("chat", CHAT)):
        assert spec.validate_request(op, body) == []
        runs = 5000
        total = timeit.timeit(partial(spec.validate_request, op, body), number=runs)
        per_call = total / runs
        print(f"{op}: {per_call * 1e6:.1f} µs per request ({per_call / 1e-3:.3f} of 1 ms)")


if __name__ == "__main__":
    main()
