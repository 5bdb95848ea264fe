"""The syntax of `{{=...}}` expressions: the part of the `expr` language Argo workflows use.

Argo evaluates expression tags, hook conditions and `valueFrom.expression` with
github.com/expr-lang/expr. This module turns such text into a small tree by precedence
climbing (expr's own operator table), so that `expr_lang` can evaluate it by walking the
tree; no text ever reaches Python's `eval`. Anything outside the subset is refused with a
message naming the expression.
"""

from __future__ import annotations

import re
import typing
from dataclasses import dataclass
from typing import Any

__all__ = [
    "Array",
    "Binary",
    "Call",
    "Closure",
    "Conditional",
    "ExprError",
    "Literal",
    "MapLiteral",
    "Member",
    "Name",
    "Node",
    "Pointer",
    "Slice",
    "Unary",
    "parse",
]


class ExprError(ValueError):
    """An expression that cannot be parsed or evaluated (the message names it)."""


# Binary operators and their precedence, as in expr's parser/operator table.
_BINARY = {
    "??": 500, "**": 100, "^": 100, "*": 60, "/": 60, "%": 60, "+": 30, "-": 30, "..": 25,
    "==": 20, "!=": 20, "<": 20, ">": 20, "<=": 20, ">=": 20, "in": 20, "not in": 20,
    "matches": 20, "contains": 20, "startsWith": 20, "endsWith": 20,
    "and": 15, "&&": 15, "or": 10, "||": 10,
}
_RIGHT_ASSOCIATIVE = {"**", "^"}
_UNARY = {"not": 50, "!": 50, "-": 90, "+": 90}
_ALIASES = {"&&": "and", "||": "or", "^": "**", "!": "not"}
# Builtins whose second argument is a predicate `{...}` over `#`, not a map literal.
PREDICATE_BUILTINS = frozenset({"filter", "map", "all", "any", "none", "one", "count",
                                "find", "findIndex", "findLast", "findLastIndex", "sum"})

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>0[xX][0-9a-fA-F_]+|(?:\d[\d_]*)?\.?\d[\d_]*(?:[eE][-+]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`[^`]*`)
  | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*)
  | (?P<op>\?\?|\?\.|\*\*|==|!=|<=|>=|&&|\|\||\.\.|[-+*/%^<>!?:.,()\[\]{}|\#])
""", re.VERBOSE)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "0": "\0",
            "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


@dataclass(frozen=True)
class Token:
    kind: str  # number, string, name, op, end
    value: str
    at: int


@dataclass(frozen=True)
class Literal:
    """A number, string, boolean or nil written in the expression."""

    value: Any


@dataclass(frozen=True)
class Name:
    """A variable (`inputs`, `tasks`...) or a function name, looked up when evaluated."""

    name: str


@dataclass(frozen=True)
class Pointer:
    """`#`, the element a predicate is applied to (`#.field` is a Member of it)."""


@dataclass(frozen=True)
class Member:
    target: Node
    key: Node
    optional: bool = False


@dataclass(frozen=True)
class Slice:
    target: Node
    start: Node | None
    stop: Node | None


@dataclass(frozen=True)
class Call:
    callee: Node
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Closure:
    body: Node


@dataclass(frozen=True)
class Unary:
    op: typing.Literal["not", "-", "+"]  # `!` is read as `not`
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Conditional:
    test: Node
    then: Node
    otherwise: Node


@dataclass(frozen=True)
class Array:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class MapLiteral:
    pairs: tuple[tuple[Node, Node], ...]


Node = (Literal | Name | Pointer | Member | Slice | Call | Closure | Unary | Binary
        | Conditional | Array | MapLiteral)


def parse(text: str) -> Node:
    """The tree of an `expr` expression (raises `ExprError` naming `text`)."""
    return _Parser(text).parse()


def _tokens(text: str) -> list[Token]:
    found: list[Token] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise ExprError(f"unexpected character {text[at]!r} at {at} in '{text}'")
        kind = match.lastgroup or "op"
        if kind != "space":
            found.append(Token(kind, match.group(0), at))
        at = match.end()
    found.append(Token("end", "", len(text)))
    return found


def _number(text: str) -> int | float:
    digits = text.replace("_", "")
    if digits[:2].lower() == "0x":
        return int(digits, 16)
    if any(mark in digits for mark in ".eE"):
        return float(digits)
    return int(digits)


def _string(text: str) -> str:
    if text[0] == "`":  # raw string: no escapes
        return text[1:-1]
    body, out, index = text[1:-1], [], 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            out.append(_ESCAPES.get(body[index + 1], "\\" + body[index + 1]))
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


class _Parser:
    """Precedence climbing over the tokens of one expression."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.index = 0

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise ExprError("empty expression")
        node = self.expression()
        if self.peek().kind != "end":
            self.fail("unexpected " + repr(self.peek().value))
        return node

    def fail(self, what: str) -> None:
        raise ExprError(f"{what} at {self.peek().at} in '{self.text}'")

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.peek()
        self.index += 1
        return token

    def at(self, value: str) -> bool:
        token = self.peek()
        return token.kind in ("op", "name") and token.value == value

    def expect(self, value: str) -> None:
        if not self.at(value):
            self.fail(f"expected {value!r}")
        self.index += 1

    def expression(self) -> Node:
        node = self.binary(0)
        while self.at("|"):  # pipe: `x | f(a)` is `f(x, a)`
            self.take()
            node = self.pipe(node)
        if self.at("?"):
            self.take()
            then = self.expression()
            self.expect(":")
            node = Conditional(node, then, self.expression())
        return node

    def pipe(self, value: Node) -> Node:
        token = self.take()
        if token.kind != "name":
            self.fail("a pipe '|' must be followed by a function call")
        args: list[Node] = [value]
        if self.at("("):
            args.extend(self.arguments(token.value, first_given=True))
        return self.postfix(Call(Name(token.value), tuple(args)))

    def binary_operator(self) -> str | None:
        token = self.peek()
        if token.kind not in ("op", "name"):
            return None
        if token.value == "not" and self.peek(1).value == "in":
            return "not in"
        return token.value if token.value in _BINARY else None

    def binary(self, minimum: int) -> Node:
        left = self.unary()
        while (op := self.binary_operator()) is not None and _BINARY[op] >= minimum:
            self.index += 2 if op == "not in" else 1
            step = 0 if op in _RIGHT_ASSOCIATIVE else 1
            right = self.binary(_BINARY[op] + step)
            left = Binary(_ALIASES.get(op, op), left, right)
        return left

    def unary(self) -> Node:
        token = self.peek()
        if token.kind in ("op", "name") and token.value in _UNARY:
            self.take()
            operand = self.binary(_UNARY[token.value])
            return Unary(_ALIASES.get(token.value, token.value), operand)  # type: ignore[arg-type]
        return self.postfix(self.primary())

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "number":
            return Literal(_number(token.value))
        if token.kind == "string":
            return Literal(_string(token.value))
        if token.kind == "name":
            return self.word(token.value)
        if token.value == "(":
            node = self.expression()
            self.expect(")")
            return node
        if token.value == "#":
            return Pointer()
        if token.value == "[":
            return Array(tuple(self.items("]")))
        if token.value == "{":
            return self.map_literal()
        if token.value == ".":  # `.field` inside a predicate is `#.field`
            return self.member(Pointer(), optional=False)
        self.index -= 1
        self.fail("unexpected " + (repr(token.value) if token.value else "end of expression"))
        raise AssertionError  # unreachable: fail() raises

    def word(self, word: str) -> Node:
        constants = {"true": True, "false": False, "nil": None}
        if word in constants:
            return Literal(constants[word])
        if self.at("("):
            return Call(Name(word), tuple(self.arguments(word)))
        return Name(word)

    def arguments(self, function: str, first_given: bool = False) -> list[Node]:
        self.expect("(")
        args: list[Node] = []
        while not self.at(")"):
            predicate_slot = len(args) + int(first_given) == 1
            if function in PREDICATE_BUILTINS and predicate_slot and self.at("{"):
                self.take()
                args.append(Closure(self.expression()))
                self.expect("}")
            else:
                args.append(self.expression())
            if not self.at(")"):
                self.expect(",")
        self.take()
        return args

    def items(self, closing: str) -> list[Node]:
        found: list[Node] = []
        while not self.at(closing):
            found.append(self.expression())
            if not self.at(closing):
                self.expect(",")
        self.take()
        return found

    def map_literal(self) -> MapLiteral:
        pairs: list[tuple[Node, Node]] = []
        while not self.at("}"):
            token = self.take()
            if token.kind == "name":
                key: Node = Literal(token.value)
            elif token.kind in ("string", "number"):
                key = Literal(_string(token.value) if token.kind == "string"
                              else _number(token.value))
            elif token.value == "(":
                key = self.expression()
                self.expect(")")
            else:
                self.index -= 1
                self.fail("expected a map key")
            self.expect(":")
            pairs.append((key, self.expression()))
            if not self.at("}"):
                self.expect(",")
        self.take()
        return MapLiteral(tuple(pairs))

    def member(self, target: Node, optional: bool) -> Node:
        token = self.take()
        if token.kind != "name":
            self.index -= 1
            self.fail("expected a field name")
        return Member(target, Literal(token.value), optional)

    def postfix(self, node: Node) -> Node:
        while True:
            if self.at(".") or self.at("?."):
                optional = self.take().value == "?."
                if optional and self.at("["):
                    node = self.index_or_slice(node, optional=True)
                else:
                    node = self.member(node, optional)
            elif self.at("["):
                node = self.index_or_slice(node, optional=False)
            elif self.at("(") and isinstance(node, Member):
                node = Call(node, tuple(self.arguments("")))
            else:
                return node

    def index_or_slice(self, target: Node, optional: bool) -> Node:
        self.expect("[")
        start = None if self.at(":") else self.expression()
        if self.at(":"):
            self.take()
            stop = None if self.at("]") else self.expression()
            self.expect("]")
            return Slice(target, start, stop)
        self.expect("]")
        assert start is not None
        return Member(target, start, optional)
