"""Argo's `depends` language: task results combined with `&&`, `||` and `!`.

`A && (B.Failed || !C.Succeeded)`, where a bare task name means
`(A.Succeeded || A.Skipped || A.Daemoned)` (docs/enhanced-depends-logic.md). The text is
parsed once into a small tree, evaluated by walking it. `ExpressionError`, raised for a
malformed expression, is shared with the `when` language (`expressions`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "RESULTS",
    "DependsExpression",
    "ExpressionError",
    "TaskResults",
    "dependencies_as_depends",
    "parse_depends",
    "scan",
]


class ExpressionError(ValueError):
    """A `when` or `depends` expression that cannot be parsed or evaluated."""


RESULTS = ("Succeeded", "Failed", "Errored", "Skipped", "Omitted", "Daemoned",
           "AnySucceeded", "AllFailed")
# Results that only make sense to ask for when the task did not simply succeed: a task
# whose failure is named by another task's `depends` has its failure handled.
_FAILURE_AWARE = frozenset({"Failed", "Errored", "AllFailed", "AnySucceeded", "Omitted"})


@dataclass(frozen=True)
class TaskResults:
    """What a `depends` operand can ask of a finished task (Argo's `TaskResults`)."""

    succeeded: bool = False
    failed: bool = False
    errored: bool = False
    skipped: bool = False
    omitted: bool = False
    daemoned: bool = False
    any_succeeded: bool = False
    all_failed: bool = False

    def get(self, result: str) -> bool:
        """The value of `Task.<result>` (a result name from the documented list)."""
        snake = re.sub(r"(?<!^)([A-Z])", r"_\1", result).lower()
        return bool(getattr(self, snake))


@dataclass(frozen=True)
class _Operand:
    task: str
    result: str | None  # None: the bare task name


@dataclass(frozen=True)
class _Not:
    operand: Any


@dataclass(frozen=True)
class _BoolOp:
    op: str  # "&&" or "||"
    operands: tuple[Any, ...]  # flat: `a && b && c` is one node, however long


# Parentheses and negations nest at most this deep (real expressions nest two or three).
MAX_NESTING = 50
_DEPENDS_TOKEN = re.compile(
    r"\s*(?:(?P<op>&&|\|\||!|\(|\))|(?P<name>[A-Za-z0-9_][A-Za-z0-9_-]*)(?:\.(?P<result>\w+))?)"
)


class DependsExpression:
    """A parsed `depends` expression: which tasks it names and whether it holds."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._tokens = self._tokenize(text)
        self._position = 0
        self._depth = 0
        self.tree = self._or()
        if self._position != len(self._tokens):
            raise ExpressionError(
                f"unexpected {self._tokens[self._position]!r} in depends '{text}'")
        operands = list(self._operands(self.tree, negated=False))
        # Parsed once: the run asks for these after every completion.
        self.tasks: list[str] = list(dict.fromkeys(operand.task for operand, _ in operands))
        self._failure_aware = frozenset(
            operand.task for operand, negated in operands
            if negated or operand.result in _FAILURE_AWARE)

    def names_failure_of(self, task: str) -> bool:
        """Whether the expression asks about `task` not succeeding (so its failure is handled)."""
        return task in self._failure_aware

    def evaluate(self, results: Mapping[str, TaskResults]) -> bool:
        """The truth of the expression given the results of every task it names."""
        return self._evaluate(self.tree, results)

    # -- parsing

    @staticmethod
    def _tokenize(text: str) -> list[Any]:
        tokens: list[Any] = []
        for match in scan(_DEPENDS_TOKEN, text,
                          lambda rest: f"cannot read depends '{text}' at {rest!r}"):
            if match.group("op"):
                tokens.append(match.group("op"))
                continue
            name, result = match.group("name"), match.group("result")
            if result is None and name in ("and", "or", "not"):  # expr-lang's spelled-out forms
                tokens.append({"and": "&&", "or": "||", "not": "!"}[name])
                continue
            if result is not None and result not in RESULTS:
                raise ExpressionError(
                    f"unknown task result '{name}.{result}' in depends '{text}' "
                    f"(one of {', '.join(RESULTS)})"
                )
            tokens.append(_Operand(name, result))
        return tokens

    def _peek(self) -> Any:
        return self._tokens[self._position] if self._position < len(self._tokens) else None

    def _or(self) -> Any:
        return self._chain("||", self._and)

    def _and(self) -> Any:
        return self._chain("&&", self._unary)

    def _chain(self, op: str, operand: Callable[[], Any]) -> Any:
        """`operand (op operand)*` as one flat node (a long chain is no deeper than one)."""
        operands = [operand()]
        while self._peek() == op:
            self._position += 1
            operands.append(operand())
        return operands[0] if len(operands) == 1 else _BoolOp(op, tuple(operands))

    def _unary(self) -> Any:
        token = self._peek()
        if token in ("!", "("):
            self._position += 1
            self._depth += 1
            if self._depth > MAX_NESTING:
                raise ExpressionError(f"depends '{self.text[:80]}...' nests '!' and '(' more "
                                      f"than {MAX_NESTING} levels deep")
            inner = _Not(self._unary()) if token == "!" else self._or()
            self._depth -= 1
            if token == "(":
                if self._peek() != ")":
                    raise ExpressionError(f"missing ')' in depends '{self.text}'")
                self._position += 1
            return inner
        if isinstance(token, _Operand):
            self._position += 1
            return token
        shown = "end of expression" if token is None else repr(token)
        raise ExpressionError(f"unexpected {shown} in depends '{self.text}'")

    # -- walking

    def _operands(self, node: Any, *, negated: bool) -> Iterable[tuple[_Operand, bool]]:
        if isinstance(node, _Operand):
            yield node, negated
        elif isinstance(node, _Not):
            yield from self._operands(node.operand, negated=not negated)
        else:
            for operand in node.operands:
                yield from self._operands(operand, negated=negated)

    def _evaluate(self, node: Any, results: Mapping[str, TaskResults]) -> bool:
        if isinstance(node, _Operand):
            outcome = results.get(node.task)
            if outcome is None:
                raise ExpressionError(f"depends '{self.text}' names unknown task '{node.task}'")
            if node.result is None:
                # A bare name keeps the meaning of the older `dependencies` field.
                return outcome.succeeded or outcome.skipped or outcome.daemoned
            return outcome.get(node.result)
        if isinstance(node, _Not):
            return not self._evaluate(node.operand, results)
        if node.op == "&&":
            return all(self._evaluate(operand, results) for operand in node.operands)
        return any(self._evaluate(operand, results) for operand in node.operands)


def scan(pattern: re.Pattern[str], text: str,
         problem: Callable[[str], str]) -> Iterator[re.Match[str]]:
    """The matches of `pattern` that cover `text` one after another (tokens).

    Raises `ExpressionError(problem(rest))` where no token fits, `rest` being what is left.
    """
    position, end = 0, len(text.rstrip())
    while position < end:
        match = pattern.match(text, position)
        if match is None or match.end() == position:
            raise ExpressionError(problem(text[position:].strip()))
        position = match.end()
        yield match


def parse_depends(text: str) -> DependsExpression:
    """Parse a `depends` expression (raises `ExpressionError`)."""
    return DependsExpression(text)


def dependencies_as_depends(
    dependencies: Iterable[str], continue_on: Mapping[str, Mapping[str, Any]]
) -> str:
    """The `depends` equivalent of a `dependencies` list, as Argo converts it.

    Each name becomes `(A.Succeeded || A.Skipped || A.Daemoned)`, widened by `A.Failed` /
    `A.Errored` when task A says `continueOn: {failed: true}` / `{error: true}`.
    """
    clauses = []
    for name in dependencies:
        options = [f"{name}.Succeeded", f"{name}.Skipped", f"{name}.Daemoned"]
        settings = continue_on.get(name) or {}
        if settings.get("failed"):
            options.append(f"{name}.Failed")
        if settings.get("error"):
            options.append(f"{name}.Errored")
        clauses.append("(" + " || ".join(options) + ")")
    return " && ".join(clauses)
