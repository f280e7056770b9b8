"""Parts of the token loop that need no model: stop strings, options, settings."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from ollama_harness.realserver import engine
from ollama_harness.realserver import options as opts
from ollama_harness.realserver.engine import StopMatcher
from ollama_harness.realserver.settings import RealServerSettings, split_host


def feed_all(matcher: StopMatcher, pieces: list[str]) -> tuple[str, bool]:
    out = ""
    for piece in pieces:
        text, stopped = matcher.feed(piece)
        out += text
        if stopped:
            return out, True
    return out + matcher.flush(), False


def test_stop_string_split_across_tokens_is_cut() -> None:
    assert feed_all(StopMatcher(("<|im_end|>",)), ["Hi", " there<", "|im_", "end|>more"]) == (
        "Hi there",
        True,
    )


def test_partial_stop_is_held_back_then_released() -> None:
    matcher = StopMatcher(("\n\n",))
    assert matcher.feed("a\n") == ("a", False)
    assert matcher.feed("b") == ("\nb", False)


def test_earliest_of_several_stops_wins() -> None:
    assert feed_all(StopMatcher(("END", "x")), ["abxcEND"]) == ("ab", True)


def test_no_stops_passes_through() -> None:
    assert feed_all(StopMatcher(()), ["a", "b"]) == ("ab", False)


def test_options_precedence_and_split() -> None:
    merged = opts.merge(
        {"num_ctx": 2048},
        {"stop": ["<|im_end|>"], "temperature": 0.2},
        {"temperature": 0.0, "num_ctx": 99999, "seed": 7, "unknown": 1},
    )
    load, sampling = opts.split(merged, context_length=8192)
    assert load.num_ctx == 8192  # capped at what the model was trained for
    assert sampling.temperature == 0.0 and sampling.seed == 7
    assert sampling.stop == ("<|im_end|>",)
    assert sampling.top_k == 40 and sampling.repeat_penalty == 1.1  # Ollama's defaults
    assert opts.LoadOptions(num_gpu=-1).n_gpu_layers(30) == -1
    assert opts.LoadOptions(num_gpu=99).n_gpu_layers(30) == 31


def test_settings_flag_beats_env_beats_default(monkeypatch: pytest.MonkeyPatch) -> None:
    from ollama_harness.cli import build_parser
    from ollama_harness.commands.serve import settings_from

    monkeypatch.setenv("OLLAMA_NUM_PARALLEL", "3")
    monkeypatch.setenv("OLLAMA_KEEP_ALIVE", "10m")
    args = build_parser().parse_args(["serve", "--keep-alive", "-1", "--host", ":8080"])
    settings = settings_from(args)
    assert settings.num_parallel == 3  # env
    assert settings.keep_alive_seconds() is None  # flag: negative means forever
    assert settings.bind() == ("127.0.0.1", 8080)
    assert settings.max_queue == 512  # default
    monkeypatch.setenv("OLLAMA_KEEP_ALIVE", "soon")
    with pytest.raises(ValueError, match="invalid duration"):
        RealServerSettings()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:11434", ("127.0.0.1", 11434)),
        ("0.0.0.0", ("0.0.0.0", 11434)),
        ("http://localhost:9/", ("localhost", 9)),
        ("[::1]:5", ("::1", 5)),
    ],
)
def test_host_forms(text: str, expected: tuple[str, int]) -> None:
    assert split_host(text) == expected


def test_listening_socket_disables_nagle() -> None:
    # Small NDJSON lines would otherwise wait for the client's delayed ACK (~40 ms).
    import socket

    from ollama_harness.realserver.server import bind_socket

    sock = bind_socket("127.0.0.1", 0)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        assert sock.proto == socket.IPPROTO_TCP  # asyncio only sets NODELAY on TCP sockets
    finally:
        sock.close()


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread niceness is Linux-only")
@pytest.mark.parametrize("niceness", [0, 7])
def test_inference_threads_run_below_the_event_loop(niceness: int) -> None:
    def own_niceness() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    here = own_niceness()
    previous = engine._backend.nice
    engine.lower_inference_priority(niceness)
    try:
        with engine.inference_executor() as executor:
            inside = executor.submit(own_niceness).result()
    finally:
        engine.lower_inference_priority(previous)
    assert inside == min(19, here + niceness)
    assert own_niceness() == here  # the calling thread (the event loop's) is untouched
