"""Plan a completion from a request: its tokens, thinking, tool calls, done reason.

Planning is pure (everything follows from the request alone); playing the plan out
in time, with its timing and fault, is :mod:`mockserver.serving`'s. The native
routes and the ``/v1`` routes share the plan, so ``/api/chat`` and
``/v1/chat/completions`` give the same text for the same conversation.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import textgen
from .store import InstalledModel


@dataclass(slots=True)
class Piece:
    """One streamed line's worth of output."""

    kind: str  # "content", "thinking" or "tool_calls"
    text: str = ""
    calls: list[dict[str, Any]] | None = None


@dataclass(slots=True)
class Completion:
    """The planned output, in generation order: thinking, then tool calls or content."""

    thinking: list[str]
    calls: list[dict[str, Any]]
    content: list[str]
    done_reason: str
    prompt_tokens: int
    prompt_text: str
    seed: int

    @property
    def count(self) -> int:
        """Generated tokens, one streamed line each."""
        return len(self.thinking) + (1 if self.calls else 0) + len(self.content)

    @property
    def pieces(self) -> list[Piece]:
        pieces = [Piece("thinking", t) for t in self.thinking]
        if self.calls:
            pieces.append(Piece("tool_calls", calls=self.calls))
        pieces.extend(Piece("content", t) for t in self.content)
        return pieces

    def text(self, kind: str = "content") -> str:
        return "".join(self.thinking if kind == "thinking" else self.content)

    def tool_calls(self) -> list[dict[str, Any]]:
        return self.calls


@dataclass
class Request:
    """The parts of a generate / chat / completions request that decide the output."""

    model: InstalledModel
    prompt_text: str  # the rendered conversation, for token counts and the seed
    options: dict[str, Any] = field(default_factory=dict)
    format: Any = None
    think: bool | str = False
    tools: Sequence[dict[str, Any]] = ()
    answer_tools: bool = False  # the last message asks for a tool call
    # num_predict only bounds the text (Anthropic's max_tokens, which every request
    # must send): the text ends by itself when shorter, instead of filling the cap.
    ceiling: bool = False


def plan(request: Request) -> Completion:
    options = request.options
    tools = request.tools
    seed = textgen.request_seed(
        request.model.seed_name,
        request.prompt_text,
        options.get("seed", 0),
        request.format,
        [t.get("function", {}).get("name") for t in tools if isinstance(t, dict)] if tools else [],
    )
    # A PRNG costs ~10 us to seed: plain text reads its words from the seed directly.
    rng = random.Random(seed) if (request.think or tools or request.format) else None
    thinking: list[str] = []
    calls: list[dict[str, Any]] = []
    content: list[str] = []
    if request.think and rng is not None:
        thinking = textgen.thinking_tokens(rng, request.think)

    done_reason = "stop"
    # The context window bounds any output (no context shifting in the mock):
    # num_predict -2 fills it, -1 (or none) lets the text end by itself.
    window = options.get("num_ctx")
    if not isinstance(window, int) or isinstance(window, bool) or window <= 0:
        window = min(4096, request.model.entry.context_length)
    prompt_tokens = max(1, textgen.count_tokens(request.prompt_text))
    room = max(1, min(window, 131_072) - prompt_tokens)
    limit = options.get("num_predict")
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < -2:
        limit = None
    elif limit == -2:
        limit = room
    elif limit < 0:
        limit = None
    else:
        limit = min(limit, room)
    if request.tools and request.answer_tools and rng is not None:
        calls = [_tool_call(request.tools, rng)]
    else:
        if rng is not None and (request.format == "json" or isinstance(request.format, dict)):
            tokens = textgen.split_text(textgen.json_output(request.format, rng))
        else:
            # Left alone the synthetic model stops after 12-40 tokens; given num_predict
            # it writes until the cap (as a model that never meets its end token), so
            # load tests choose their output length.
            natural = 12 + seed % 29
            if limit is None:
                count = natural
            else:
                count = min(natural, limit + 1) if request.ceiling else limit + 1
            tokens = textgen.sentence_tokens(seed, count)
        stops = options.get("stop") or []
        if isinstance(stops, str):
            stops = [stops]
        if stops:
            # A stop sequence ends the text with done_reason "stop", the default.
            tokens, _ = textgen.apply_stops(tokens, [s for s in stops if isinstance(s, str)])
        content = tokens
    # num_predict caps every generated token, thinking included.
    if limit is not None and len(thinking) + len(calls) + len(content) > limit:
        done_reason = "length"
        thinking = thinking[:limit]
        calls = calls[: max(0, limit - len(thinking))]
        content = content[: max(0, limit - len(thinking) - len(calls))]
    return Completion(
        thinking=thinking,
        calls=calls,
        content=content,
        done_reason=done_reason,
        prompt_tokens=prompt_tokens,
        prompt_text=request.prompt_text,
        seed=seed,
    )


def _tool_call(tools: Sequence[dict[str, Any]], rng: random.Random) -> dict[str, Any]:
    usable = [t for t in tools if isinstance(t, dict) and isinstance(t.get("function"), dict)]
    tool = usable[rng.randrange(len(usable))]["function"] if usable else {"name": "tool"}
    params = tool.get("parameters") or {"type": "object", "properties": {}}
    arguments = textgen.value_for_schema(params, rng, params if isinstance(params, dict) else {})
    return {
        "function": {
            "index": 0,
            "name": str(tool.get("name", "tool")),
            "arguments": arguments if isinstance(arguments, dict) else {},
        }
    }
