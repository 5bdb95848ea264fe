"""The two small expression languages of Argo's control flow, evaluated safely.

- `when` conditions are govaluate expressions, evaluated by Argo once every `{{...}}` tag
  has been replaced by its value: `{{tasks.flip.outputs.result}} == heads` becomes
  `heads == heads`. Argo turns every bare word into a string so that such comparisons work
  without quotes (`shouldExecute` in the workflow controller); we do the same.
- `depends` conditions combine task results: `A && (B.Failed || !C.Succeeded)`, where a
  bare task name means `(A.Succeeded || A.Skipped || A.Daemoned)`
  (docs/enhanced-depends-logic.md).

Both are parsed into a small tree by recursive descent and evaluated by walking it: no
text is ever handed to `eval`. This module holds `when`; `depends` has its own module,
whose names it also exports.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .depends import (
    DependsExpression,
    ExpressionError,
    TaskResults,
    dependencies_as_depends,
    parse_depends,
    scan,
)

__all__ = [
    "DependsExpression",
    "ExpressionError",
    "TaskResults",
    "dependencies_as_depends",
    "evaluate_when",
    "parse_depends",
]


def evaluate_when(text: str) -> bool:
    """The truth of a substituted `when` expression; '' (no condition) is true.

    Raises `ExpressionError` for a malformed expression, or one whose value is not a
    boolean (Argo: "Expected boolean evaluation").
    """
    if not text.strip():
        return True
    try:
        value = _WhenParser(_when_tokens(text), text).parse()()
    except RecursionError:  # thousands of nested or chained terms: refuse, do not crash
        raise ExpressionError(f"the 'when' expression '{text[:80]}...' is too deeply nested "
                              "or too long to evaluate") from None
    if not isinstance(value, bool):
        raise ExpressionError(f"expected a boolean from '{text}', got {_show(value)}")
    return value


_WHEN_TOKEN = re.compile(
    r"""\s*(?:
        (?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)
      | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
      | (?P<bracketed>\[[^\]]*\])
      | (?P<word>[^\W\d][\w.]*)
      | (?P<op>==|!=|>=|<=|=~|!~|&&|\|\||[<>!()+\-*/%])
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class _Token:
    kind: str  # number, string, bool, op, end
    value: Any


def _when_tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    for match in scan(_WHEN_TOKEN, text, lambda rest: f"invalid token in '{text}' at "
                      f"{rest[:20]!r} (hint: wrap the value in quotes)"):
        kind = match.lastgroup
        raw = match.group(kind)  # type: ignore[arg-type]
        if kind == "number":
            tokens.append(_Token("number", float(raw)))
        elif kind == "string":
            tokens.append(_Token("string", _unquote(raw)))
        elif kind == "bracketed":
            tokens.append(_Token("string", raw[1:-1]))
        elif kind == "word":
            if raw in ("true", "false"):
                tokens.append(_Token("bool", raw == "true"))
            else:
                # A govaluate variable: Argo reads it as a string (see the module docstring).
                tokens.append(_Token("string", raw))
        else:
            tokens.append(_Token("op", raw))
    tokens.append(_Token("end", None))
    return tokens


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


Thunk = Callable[[], Any]


class _WhenParser:
    """Precedence, loosest first: ||, &&, comparisons, + -, * / %, unary ! and -."""

    def __init__(self, tokens: list[_Token], text: str) -> None:
        self.tokens = tokens
        self.position = 0
        self.text = text

    def parse(self) -> Thunk:
        tree = self._or()
        if self._peek().kind != "end":
            raise ExpressionError(f"unexpected {self._peek().value!r} in '{self.text}'")
        return tree

    def _peek(self) -> _Token:
        return self.tokens[self.position]

    def _take_op(self, *ops: str) -> str | None:
        token = self._peek()
        if token.kind == "op" and token.value in ops:
            self.position += 1
            return str(token.value)
        return None

    def _or(self) -> Thunk:
        left = self._and()
        while self._take_op("||"):
            left = _logical(left, self._and(), is_or=True, text=self.text)
        return left

    def _and(self) -> Thunk:
        left = self._comparison()
        while self._take_op("&&"):
            left = _logical(left, self._comparison(), is_or=False, text=self.text)
        return left

    def _comparison(self) -> Thunk:
        left = self._additive()
        while op := self._take_op("==", "!=", "<", ">", "<=", ">=", "=~", "!~"):
            left = _compare(op, left, self._additive(), self.text)
        return left

    def _additive(self) -> Thunk:
        left = self._multiplicative()
        while op := self._take_op("+", "-"):
            left = _arithmetic(op, left, self._multiplicative(), self.text)
        return left

    def _multiplicative(self) -> Thunk:
        left = self._unary()
        while op := self._take_op("*", "/", "%"):
            left = _arithmetic(op, left, self._unary(), self.text)
        return left

    def _unary(self) -> Thunk:
        if self._take_op("!"):
            operand = self._unary()
            return lambda: not _as_bool(operand(), "!", self.text)
        if self._take_op("-"):
            operand = self._unary()
            return lambda: -_as_number(operand(), "-", self.text)
        return self._primary()

    def _primary(self) -> Thunk:
        if self._take_op("("):
            inner = self._or()
            if not self._take_op(")"):
                raise ExpressionError(f"missing ')' in '{self.text}'")
            return inner
        token = self._peek()
        if token.kind in ("number", "string", "bool"):
            self.position += 1
            value = token.value
            return lambda: value
        shown = "end of expression" if token.kind == "end" else repr(token.value)
        raise ExpressionError(f"unexpected {shown} in '{self.text}'")


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value)


def _as_bool(value: Any, op: str, text: str) -> bool:
    if not isinstance(value, bool):
        raise ExpressionError(f"'{op}' needs booleans, got {_show(value)} in '{text}'")
    return value


def _as_number(value: Any, op: str, text: str) -> float:
    if isinstance(value, bool) or not isinstance(value, float):
        raise ExpressionError(f"'{op}' needs numbers, got {_show(value)} in '{text}'")
    return value


def _logical(left: Thunk, right: Thunk, *, is_or: bool, text: str) -> Thunk:
    op = "||" if is_or else "&&"

    def evaluate() -> bool:
        first = _as_bool(left(), op, text)
        if first is is_or:  # short-circuit, as govaluate does
            return first
        return _as_bool(right(), op, text)

    return evaluate


def _compare(op: str, left: Thunk, right: Thunk, text: str) -> Thunk:
    def evaluate() -> bool:
        a, b = left(), right()
        if op == "==":
            return type(a) is type(b) and a == b  # govaluate: no coercion between types
        if op == "!=":
            return not (type(a) is type(b) and a == b)
        if op in ("=~", "!~"):
            if not (isinstance(a, str) and isinstance(b, str)):
                raise ExpressionError(f"'{op}' needs strings in '{text}'")
            try:
                found = re.search(b, a) is not None
            except re.error as error:
                raise ExpressionError(
                    f"bad regular expression {b!r} in '{text}': {error}") from None
            return found if op == "=~" else not found
        comparable = (isinstance(a, float) and isinstance(b, float)) or (
            isinstance(a, str) and isinstance(b, str)
        )
        if not comparable or isinstance(a, bool) or isinstance(b, bool):
            raise ExpressionError(
                f"'{op}' compares two numbers or two strings, not {_show(a)} and {_show(b)} "
                f"in '{text}'"
            )
        return bool({"<": a < b, ">": a > b, "<=": a <= b, ">=": a >= b}[op])

    return evaluate


def _arithmetic(op: str, left: Thunk, right: Thunk, text: str) -> Thunk:
    def evaluate() -> Any:
        a, b = left(), right()
        if op == "+" and (isinstance(a, str) or isinstance(b, str)):
            return f"{_plain(a)}{_plain(b)}"  # govaluate concatenates when a string is involved
        x, y = _as_number(a, op, text), _as_number(b, op, text)
        if op in ("/", "%") and y == 0:
            raise ExpressionError(f"division by zero in '{text}'")
        return {"+": x + y, "-": x - y, "*": x * y, "/": x / y, "%": x % y}[op]

    return evaluate


def _plain(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
