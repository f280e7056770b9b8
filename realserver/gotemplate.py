"""A Go ``text/template`` renderer for Ollama's prompt templates.

Ollama keeps each model's prompt format as a Go template (the TEMPLATE of a
Modelfile). This module parses and executes the subset those templates use:

* actions ``{{ pipeline }}`` with whitespace trimming ``{{-`` / ``-}}`` and
  comments ``{{/* ... */}}``;
* ``if`` / ``else if`` / ``else`` / ``end``, ``range`` (with ``$i, $x :=`` and
  ``else``), ``with`` (and ``else``), ``break`` / ``continue``;
* fields ``.A.B``, variables ``$`` and ``$x`` (declared with ``:=``, set with
  ``=``), literals, parenthesised pipelines and ``|`` pipes;
* the functions ``and or not eq ne lt le gt ge len index slice print printf
  println json`` plus Ollama's ``currentDate`` and ``yesterdayDate``.

Semantics follow Go: truthiness (zero values are false), ``and``/``or`` return
one of their arguments and short-circuit, ``eq`` compares its first argument with
every other one, and printing a value with a ``__str__`` (Ollama's tool types
print as JSON) uses it.

Why one module of ~800 lines: the lexer, the parser, the compiler to closures and
Go's built-in functions share one set of node types and error positions; split
apart, each part would import all the others.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class TemplateError(ValueError):
    """A template that does not parse, or fails while executing."""


# -- lexing --------------------------------------------------------------------

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\]|\\.)')
  | (?P<number>[-+]?(?:0[xX][0-9a-fA-F]+|\d+\.\d*(?:[eE][-+]?\d+)?|\.\d+|\d+(?:[eE][-+]?\d+)?))
  | (?P<declare>:=)
  | (?P<assign>=)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
  | (?P<variable>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<pipe>\|)
  | (?P<lparen>\()
  | (?P<rparen>\)(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<comma>,)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str
    text: str


def _action_end(source: str, pos: int) -> int:
    """Index of the ``}}`` closing an action, skipping quoted text and comments."""
    while pos < len(source):
        char = source[pos]
        if source.startswith("}}", pos):
            return pos
        if source.startswith("/*", pos):
            close = source.find("*/", pos + 2)
            if close < 0:
                break
            pos = close + 2
            continue
        if char in "\"'`":
            pos += 1
            while pos < len(source) and source[pos] != char:
                pos += 2 if source[pos] == "\\" and char != "`" else 1
        pos += 1
    raise TemplateError("unclosed action")


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(source):
        match = _TOKEN_RE.match(source, pos)
        if match is None:
            raise TemplateError(f"unexpected {source[pos]!r} in action {source.strip()!r}")
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(_Token(kind, match.group()))
        pos = match.end()
    return tokens


# -- the parse tree ------------------------------------------------------------


@dataclass(slots=True)
class _Text:
    text: str


@dataclass(slots=True)
class _Operand:
    """One argument: a literal, a field chain, a variable, a function name or a
    parenthesised pipeline (optionally followed by a field chain)."""

    kind: str  # literal | field | variable | ident | pipeline
    value: Any = None
    chain: tuple[str, ...] = ()


@dataclass(slots=True)
class _Command:
    args: list[_Operand]


@dataclass(slots=True)
class _Pipeline:
    commands: list[_Command]
    variables: list[str] = field(default_factory=list)
    declare: bool = True  # ':=' declares, '=' assigns


@dataclass(slots=True)
class _Action:
    pipeline: _Pipeline


@dataclass(slots=True)
class _Branch:
    kind: str  # if | range | with
    pipeline: _Pipeline
    body: list[Any]
    otherwise: list[Any]


@dataclass(slots=True)
class _Loop:
    kind: str  # break | continue


class _BreakError(Exception):
    pass


class _ContinueError(Exception):
    pass


def _unquote(token: _Token) -> Any:
    if token.kind == "string":
        return json.loads(token.text.replace("\\'", "'"))
    if token.kind == "raw":
        return token.text[1:-1]
    if token.kind == "char":
        return ord(json.loads('"' + token.text[1:-1] + '"'))
    text = token.text
    if re.fullmatch(r"[-+]?0[xX][0-9a-fA-F]+", text):
        return int(text, 16)
    if re.fullmatch(r"[-+]?\d+", text):
        return int(text)
    return float(text)


class _Parser:
    """Recursive descent over actions; text between actions becomes _Text nodes."""

    def __init__(self, source: str) -> None:
        self.items = self._split(source)
        self.pos = 0

    @staticmethod
    def _split(source: str) -> list[tuple[str, Any]]:
        items: list[tuple[str, Any]] = []
        pos = 0
        trim_next = False
        while True:
            start = source.find("{{", pos)
            if start < 0:
                break
            end = _action_end(source, start + 2)
            inner = source[start + 2 : end]
            trim_left = len(inner) > 1 and inner[0] == "-" and inner[1] in " \t\r\n"
            trim_right = len(inner) > 1 and inner[-1] == "-" and inner[-2] in " \t\r\n"
            body = inner[1 if trim_left else 0 : len(inner) - 1 if trim_right else len(inner)]
            text = source[pos:start]
            if trim_next:
                text = text.lstrip()
            if trim_left:
                text = text.rstrip()
            if text:
                items.append(("text", text))
            stripped = body.strip()
            if not (stripped.startswith("/*") and stripped.endswith("*/")):
                items.append(("action", stripped))
            trim_next = trim_right
            pos = end + 2
        tail = source[pos:]
        if trim_next:
            tail = tail.lstrip()
        if tail:
            items.append(("text", tail))
        return items

    def parse(self) -> list[Any]:
        nodes, end = self._list()
        if end is not None:
            raise TemplateError(f"unexpected {{{{{end}}}}}")
        return nodes

    def _list(self) -> tuple[list[Any], str | None]:
        """Nodes up to an ``end`` / ``else ...`` (returned as the second item)."""
        nodes: list[Any] = []
        while self.pos < len(self.items):
            kind, value = self.items[self.pos]
            self.pos += 1
            if kind == "text":
                nodes.append(_Text(value))
                continue
            word = value.split(None, 1)[0] if value else ""
            rest = value[len(word) :].strip()
            if word in ("end",) or word == "else":
                return nodes, value
            if word in ("if", "range", "with"):
                nodes.append(self._branch(word, rest))
            elif word in ("break", "continue"):
                nodes.append(_Loop(word))
            elif word in ("define", "template", "block"):
                raise TemplateError(f"{word} is not supported in prompt templates")
            elif not value:
                raise TemplateError("missing value for command")
            else:
                nodes.append(_Action(self._pipeline(_tokenize(value))))
        return nodes, None

    def _branch(self, kind: str, header: str) -> _Branch:
        pipeline = self._pipeline(_tokenize(header))
        body, end = self._list()
        otherwise: list[Any] = []
        if end is None:
            raise TemplateError(f"unexpected EOF in {kind}")
        if end.startswith("else"):
            rest = end[4:].strip()
            if rest:
                # "else if ..." / "else with ...": a nested branch closed by the same end
                word = rest.split(None, 1)[0]
                if word not in ("if", "with"):
                    raise TemplateError(f"unexpected {{{{{end}}}}}")
                otherwise = [self._branch(word, rest[len(word) :].strip())]
                return _Branch(kind, pipeline, body, otherwise)
            otherwise, end = self._list()
            if end != "end":
                raise TemplateError(f"expected end, got {end!r}")
        elif end != "end":
            raise TemplateError(f"unexpected {{{{{end}}}}}")
        return _Branch(kind, pipeline, body, otherwise)

    def _pipeline(self, tokens: list[_Token]) -> _Pipeline:
        variables: list[str] = []
        declare = True
        # "$x := ...", "$i, $x := ...", "$x = ..."
        for index, token in enumerate(tokens):
            if token.kind in ("declare", "assign"):
                names = [t for t in tokens[:index] if t.kind != "comma"]
                if not names or any(t.kind != "variable" for t in names):
                    raise TemplateError("bad variable declaration")
                variables = [t.text for t in names]
                declare = token.kind == "declare"
                tokens = tokens[index + 1 :]
                break
        commands: list[_Command] = []
        current: list[_Operand] = []
        pos = 0
        while pos < len(tokens):
            token = tokens[pos]
            if token.kind == "pipe":
                if not current:
                    raise TemplateError("missing command before |")
                commands.append(_Command(current))
                current = []
                pos += 1
                continue
            operand, pos = self._operand(tokens, pos)
            current.append(operand)
        if not current:
            raise TemplateError("missing value for command")
        commands.append(_Command(current))
        return _Pipeline(commands, variables, declare)

    def _operand(self, tokens: list[_Token], pos: int) -> tuple[_Operand, int]:
        token = tokens[pos]
        if token.kind in ("string", "raw", "char", "number"):
            return _Operand("literal", _unquote(token)), pos + 1
        if token.kind == "field":
            chain = tuple(p for p in token.text.split(".") if p)
            return _Operand("field", None, chain), pos + 1
        if token.kind == "variable":
            name, *rest = token.text.split(".")
            return _Operand("variable", name, tuple(rest)), pos + 1
        if token.kind == "ident":
            name, *rest = token.text.split(".")
            if name in ("true", "false"):
                return _Operand("literal", name == "true"), pos + 1
            if name == "nil":
                return _Operand("literal", None), pos + 1
            if rest:
                raise TemplateError(f"unexpected . after {name}")
            return _Operand("ident", name), pos + 1
        if token.kind == "lparen":
            depth = 1
            end = pos + 1
            while end < len(tokens) and depth:
                if tokens[end].kind == "lparen":
                    depth += 1
                elif tokens[end].kind == "rparen":
                    depth -= 1
                end += 1
            if depth:
                raise TemplateError("unclosed left paren")
            inner = self._pipeline(tokens[pos + 1 : end - 1])
            chain = tuple(p for p in tokens[end - 1].text[1:].split(".") if p)
            return _Operand("pipeline", inner, chain), end
        raise TemplateError(f"unexpected {token.text!r}")


# -- values ----------------------------------------------------------------------


def truth(value: Any) -> bool:
    """Go's truthiness: zero values and empty collections are false."""
    if value is None or value is False:
        return False
    if isinstance(value, bool):
        return True
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str | bytes | Sequence | Mapping):
        return len(value) > 0
    return True


def to_text(value: Any) -> str:
    """What ``{{ value }}`` prints (fmt's %v for the types templates see)."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        return format(value, "g") if value != int(value) or abs(value) >= 1e21 else str(int(value))
    if isinstance(value, Mapping) and type(value).__str__ in (object.__str__, dict.__str__):
        inner = " ".join(f"{to_text(k)}:{to_text(v)}" for k, v in sorted(value.items()))
        return f"map[{inner}]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(to_text(v) for v in value) + "]"
    return str(value)


def _field(value: Any, name: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(name)
    if value is None:
        raise TemplateError(f"nil pointer evaluating .{name}")
    if hasattr(value, name):
        return getattr(value, name)
    raise TemplateError(f"can't evaluate field {name} in type {type(value).__name__}")


def _compare_kind(value: Any) -> Any:
    if isinstance(value, bool):
        return bool
    if isinstance(value, int | float):
        return float
    return type(value)


def _eq(first: Any, *others: Any) -> bool:
    if not others:
        raise TemplateError("missing argument for comparison")
    for other in others:
        if first is not None and other is not None and _compare_kind(first) != _compare_kind(other):
            raise TemplateError("incompatible types for comparison")
        if first == other:
            return True
    return False


def _ordered(op: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def compare(left: Any, right: Any) -> bool:
        if _compare_kind(left) != _compare_kind(right) or isinstance(left, bool):
            raise TemplateError("incompatible types for comparison")
        return op(left, right)

    return compare


def _len(value: Any) -> int:
    if value is None:
        raise TemplateError("len of nil pointer")
    try:
        return len(value)
    except TypeError:
        raise TemplateError(f"len of type {type(value).__name__}") from None


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, Mapping):
            value = value.get(key)
        elif isinstance(value, Sequence) and isinstance(key, int):
            if not 0 <= key < len(value):
                raise TemplateError(f"index out of range: {key}")
            value = value[key]
        else:
            raise TemplateError(f"can't index item of type {type(value).__name__}")
    return value


def _slice(value: Any, *bounds: int) -> Any:
    if len(bounds) > 2 + (not isinstance(value, str)):
        raise TemplateError("too many slice indexes")
    start = bounds[0] if bounds else 0
    stop = bounds[1] if len(bounds) > 1 else len(value)
    if not 0 <= start <= stop <= len(value):
        raise TemplateError(f"slice index out of range: {start}:{stop}")
    return value[start:stop]


def _json(value: Any) -> str:
    return json.dumps(_plain(value), separators=(",", ":"), ensure_ascii=False)


def _plain(value: Any) -> Any:
    """Template values as JSON-ready data (objects expose ``to_json``)."""
    to_json = getattr(value, "to_json", None)
    if callable(to_json):
        return to_json()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


_PRINTF_RE = re.compile(r"%([-+# 0]*\d*(?:\.\d+)?)([vsdqfgtxe%])")


def _printf(fmt: str, *args: Any) -> str:
    values = iter(args)

    def replace(match: re.Match[str]) -> str:
        flags, verb = match.groups()
        if verb == "%":
            return "%"
        value = next(values, None)
        if verb in ("v", "s", "t"):
            return f"{to_text(value):{flags}}" if flags else to_text(value)
        if verb == "q":
            return json.dumps(to_text(value))
        return f"%{flags}{verb}" % value

    return _PRINTF_RE.sub(replace, fmt)


def _go_print(*args: Any) -> str:
    # fmt.Sprint puts spaces between operands when neither is a string.
    out = ""
    for index, arg in enumerate(args):
        if index and not isinstance(arg, str) and not isinstance(args[index - 1], str):
            out += " "
        out += to_text(arg)
    return out


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": _ordered(lambda a, b: a < b),
    "le": _ordered(lambda a, b: a <= b),
    "gt": _ordered(lambda a, b: a > b),
    "ge": _ordered(lambda a, b: a >= b),
    "not": lambda value: not truth(value),
    "len": _len,
    "index": _index,
    "slice": _slice,
    "print": _go_print,
    "println": lambda *args: " ".join(to_text(a) for a in args) + "\n",
    "printf": _printf,
    "json": _json,
    "currentDate": lambda: _dt.date.today().isoformat(),
    "yesterdayDate": (_dt.date.today() - _dt.timedelta(days=1)).isoformat,
}
_LAZY = ("and", "or")


# -- execution ---------------------------------------------------------------------


class _State:
    def __init__(self, root: Any) -> None:
        self.scopes: list[dict[str, Any]] = [{"$": root}]
        self.out: list[str] = []

    def lookup(self, name: str) -> Any:
        for scope in reversed(self.scopes):
            if name in scope:
                return scope[name]
        raise TemplateError(f'undefined variable "{name}"')

    def assign(self, name: str, value: Any) -> None:
        for scope in reversed(self.scopes):
            if name in scope:
                scope[name] = value
                return
        raise TemplateError(f'undefined variable "{name}"')


class Template:
    """A parsed Go template; :meth:`render` executes it against a data value.

    The parse tree is compiled once into nested closures, so that rendering (on
    every request, in the event loop) does no dispatch on node kinds.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self._run = _compile_list(_Parser(source).parse())

    def render(self, data: Any) -> str:
        state = _State(data)
        try:
            self._run(data, state)
        except (_BreakError, _ContinueError):
            raise TemplateError("break or continue outside range") from None
        return "".join(state.out)

    def uses(self, name: str) -> bool:
        """Whether a field of this name appears anywhere (``.Tools``, ``.Suffix``)."""
        return re.search(rf"\.{re.escape(name)}\b", self.source) is not None


# -- compiling the tree ----------------------------------------------------------------
# Output steps take (dot, state) and append to state.out; value steps take
# (dot, state) and return a value; commands also take the value piped into them.
# Errors (an unknown function, a missing field) are raised when a step runs, not
# while compiling: a branch that is never taken cannot fail.

_Step = Callable[[Any, _State], Any]
_CommandStep = Callable[[Any, _State, Any], Any]


def _compile_list(nodes: list[Any]) -> _Step:
    steps = [_compile_node(node) for node in nodes]
    if len(steps) == 1:
        return steps[0]

    def run_all(dot: Any, state: _State) -> None:
        for step in steps:
            step(dot, state)

    return run_all


def _compile_node(node: Any) -> _Step:
    if isinstance(node, _Text):
        text = node.text

        def emit_text(dot: Any, state: _State) -> None:
            state.out.append(text)

        return emit_text
    if isinstance(node, _Action):
        pipeline = _compile_pipeline(node.pipeline)
        if node.pipeline.variables:
            return pipeline  # a declaration or assignment prints nothing

        def emit_value(dot: Any, state: _State) -> None:
            state.out.append(to_text(pipeline(dot, state)))

        return emit_value
    if isinstance(node, _Branch):
        return _compile_range(node) if node.kind == "range" else _compile_if(node)
    jump = _BreakError if node.kind == "break" else _ContinueError

    def leave(dot: Any, state: _State) -> None:
        raise jump()

    return leave


def _compile_if(node: _Branch) -> _Step:
    """``if`` and ``with``: variables of the header live in the branch's own scope."""
    condition = _compile_pipeline(node.pipeline)
    body = _compile_list(node.body)
    otherwise = _compile_list(node.otherwise)
    rebinds = node.kind == "with"

    def branch(dot: Any, state: _State) -> None:
        scopes = state.scopes
        scopes.append({})
        try:
            value = condition(dot, state)
            scopes.append({})
            try:
                if truth(value):
                    body(value if rebinds else dot, state)
                else:
                    otherwise(dot, state)
            finally:
                scopes.pop()
        finally:
            scopes.pop()

    return branch


def _range_items(value: Any) -> list[tuple[Any, Any]]:
    if isinstance(value, Mapping):
        return sorted(value.items())
    if isinstance(value, int) and not isinstance(value, bool):
        return [(i, i) for i in range(value)]
    if value is None:
        return []
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(enumerate(value))
    raise TemplateError(f"range can't iterate over {to_text(value)}")


def _compile_range(node: _Branch) -> _Step:
    source = _compile_pipeline(_Pipeline(node.pipeline.commands))
    body = _compile_list(node.body)
    otherwise = _compile_list(node.otherwise)
    names = node.pipeline.variables

    def loop(dot: Any, state: _State) -> None:
        scopes = state.scopes
        scopes.append({})
        try:
            items = _range_items(source(dot, state))
            if not items:
                scopes.append({})
                try:
                    otherwise(dot, state)
                finally:
                    scopes.pop()
                return
            for key, element in items:
                scope: dict[str, Any] = {}
                if len(names) == 1:
                    scope[names[0]] = element
                elif len(names) == 2:
                    scope[names[0]], scope[names[1]] = key, element
                scopes.append(scope)
                try:
                    body(element, state)
                except _BreakError:
                    break
                except _ContinueError:
                    continue
                finally:
                    scopes.pop()
        finally:
            scopes.pop()

    return loop


def _compile_pipeline(pipeline: _Pipeline) -> _Step:
    commands = [_compile_command(command) for command in pipeline.commands]
    variables, declare = pipeline.variables, pipeline.declare
    if len(commands) == 1 and not variables:
        only = commands[0]
        return lambda dot, state: only(dot, state, _NOTHING)

    def run(dot: Any, state: _State) -> Any:
        value: Any = _NOTHING
        for command in commands:
            value = command(dot, state, value)
        if variables:
            if declare:
                state.scopes[-1][variables[-1]] = value
            else:
                state.assign(variables[-1], value)
        return value

    return run


def _compile_command(command: _Command) -> _CommandStep:
    first, *rest = command.args
    if first.kind != "ident":
        operand = _compile_operand(first)
        takes_arguments = bool(rest)

        def value(dot: Any, state: _State, piped: Any) -> Any:
            if takes_arguments or piped is not _NOTHING:
                raise TemplateError("can't give argument to non-function")
            return operand(dot, state)

        return value
    name = first.value
    arguments = [_compile_operand(arg) for arg in rest]
    if name in _LAZY:
        return _compile_lazy(name, arguments)

    def call(dot: Any, state: _State, piped: Any) -> Any:
        function = FUNCTIONS.get(name)
        if function is None:
            raise TemplateError(f'function "{name}" not defined')
        values = [argument(dot, state) for argument in arguments]
        if piped is not _NOTHING:
            values.append(piped)
        try:
            return function(*values)
        except TemplateError:
            raise
        except (TypeError, ValueError) as exc:
            raise TemplateError(f"error calling {name}: {exc}") from None

    return call


def _compile_lazy(name: str, arguments: list[_Step]) -> _CommandStep:
    """``and`` / ``or``: operands are evaluated one at a time, up to the deciding one."""
    decides_when = name == "or"

    def lazy(dot: Any, state: _State, piped: Any) -> Any:
        if not arguments and piped is _NOTHING:
            raise TemplateError(f"wrong number of args for {name}")
        result: Any = None
        for argument in arguments:
            result = argument(dot, state)
            if truth(result) == decides_when:
                return result
        if piped is not _NOTHING:
            result = piped
        return result

    return lazy


def _compile_operand(operand: _Operand) -> _Step:
    kind, chain = operand.kind, operand.chain
    if kind == "literal":
        constant = operand.value
        return lambda dot, state: constant
    if kind == "ident":  # a function name used as a value: call it without arguments
        command = _compile_command(_Command([operand]))
        return lambda dot, state: command(dot, state, _NOTHING)
    base: _Step
    if kind == "field":
        if len(chain) == 1:
            only = chain[0]
            return lambda dot, state: _field(dot, only)
        base = lambda dot, state: dot  # noqa: E731
    elif kind == "variable":
        variable = operand.value
        base = lambda dot, state: state.lookup(variable)  # noqa: E731
    else:
        base = _compile_pipeline(operand.value)
    if not chain:
        return base

    def walk(dot: Any, state: _State) -> Any:
        value = base(dot, state)
        for name in chain:
            value = _field(value, name)
        return value

    return walk


_NOTHING: Any = object()


def render(source: str, data: Any) -> str:
    return Template(source).render(data)
