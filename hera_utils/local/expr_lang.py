"""`{{=...}}` expressions evaluated as Argo evaluates them with expr-lang/expr.

`evaluate(text, env)` parses the text (`expr_syntax`) and walks the tree over `env`, the
run's variables as nested maps (`inputs.parameters.x` is `env["inputs"]["parameters"]["x"]`)
plus Argo's functions (`expr_functions`). The operators follow expr: `+ - *` keep integers,
`/` and `**` always give a float, `%` takes integers only, `and`/`or`/`!`/`?:` take booleans
only, `==` compares numbers by value and anything else by type and value, a missing map key
reads as nil, and `??` replaces nil (also a missing field further down its left side).
`render(value)` prints a result as Argo writes it into the template: Go's `%v`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from .expr_functions import builtin
from .expr_syntax import (
    Array,
    Binary,
    Call,
    Closure,
    Conditional,
    ExprError,
    Literal,
    MapLiteral,
    Member,
    Name,
    Node,
    Pointer,
    Slice,
    Unary,
    parse,
)
from .go_values import go_text, type_name

__all__ = ["ExprError", "evaluate", "render"]

_MISSING = object()


def evaluate(text: str, env: Mapping[str, Any]) -> Any:
    """The value of expression `text` over `env` (raises `ExprError` naming the text)."""
    tree = parse(text)
    try:
        return _Evaluator(env).value(tree)
    except ExprError as error:
        raise ExprError(f"{error} (in '{text.strip()}')") from None
    except RecursionError:
        raise ExprError(f"expression nested too deeply: '{text.strip()}'") from None


def render(value: Any) -> str:
    """A result as Argo substitutes it: Go's `fmt.Sprintf("%v", value)`."""
    return go_text(value)


class _Evaluator:
    def __init__(self, env: Mapping[str, Any], pointer: Any = _MISSING,
                 nil_safe: bool = False) -> None:
        self.env = env
        self.pointer = pointer
        self.nil_safe = nil_safe

    def value(self, node: Node) -> Any:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Name):
            return self.name(node.name)
        if isinstance(node, Pointer):
            if self.pointer is _MISSING:
                raise ExprError("'#' used outside a predicate")
            return self.pointer
        if isinstance(node, Member):
            return self.member(node)
        if isinstance(node, Slice):
            return self.slice(node)
        if isinstance(node, Call):
            return self.call(node)
        if isinstance(node, Unary):
            return _unary(node.op, self.value(node.operand))
        if isinstance(node, Binary):
            return self.binary(node)
        if isinstance(node, Conditional):
            return self.value(node.then if self.truth(node.test, "?:") else node.otherwise)
        if isinstance(node, Array):
            return [self.value(item) for item in node.items]
        if isinstance(node, MapLiteral):
            return {self.value(key): self.value(item) for key, item in node.pairs}
        raise ExprError("a predicate {...} is only allowed as a function's argument")

    def name(self, name: str) -> Any:
        if name in self.env:
            return self.env[name]
        found = builtin(name)
        if found is not None:
            return found
        if self.nil_safe:
            return None
        raise ExprError(f"unknown name {name}")

    def member(self, node: Member) -> Any:
        target = self.value(node.target)
        if target is None and (node.optional or self.nil_safe):
            return None
        return _fetch(target, self.value(node.key))

    def slice(self, node: Slice) -> Any:
        target = self.value(node.target)
        if not isinstance(target, (list, str)):
            raise ExprError(f"cannot slice {type_name(target)}")
        start = 0 if node.start is None else self.integer(node.start)
        stop = len(target) if node.stop is None else self.integer(node.stop)
        return target[start:stop]

    def integer(self, node: Node) -> int:
        found = self.value(node)
        if not isinstance(found, int) or isinstance(found, bool):
            raise ExprError(f"index must be an integer, not {type_name(found)}")
        return found

    def truth(self, node: Node, op: str) -> bool:
        found = self.value(node)
        if not isinstance(found, bool):
            raise ExprError(f"invalid operation: {op} needs a bool, got {type_name(found)}")
        return found

    def binary(self, node: Binary) -> Any:
        if node.op == "and":
            return self.truth(node.left, "and") and self.truth(node.right, "and")
        if node.op == "or":
            return self.truth(node.left, "or") or self.truth(node.right, "or")
        if node.op == "??":
            left = _Evaluator(self.env, self.pointer, nil_safe=True).value(node.left)
            defaulted = getattr(left, "defaulted", None)  # a variable of the run with no value
            if defaulted is not None:
                defaulted()
                left = None
            return self.value(node.right) if left is None else left
        return binary_operation(node.op, self.value(node.left), self.value(node.right))

    def call(self, node: Call) -> Any:
        if isinstance(node.callee, Name) and any(isinstance(a, Closure) for a in node.args):
            return self.predicate_call(node.callee.name, node.args)
        function = self.value(node.callee)
        if not callable(function):
            raise ExprError(f"{_callee_text(node.callee)} is not a function")
        args = [self.value(arg) for arg in node.args]
        try:
            return function(*args)
        except ExprError:
            raise
        except (TypeError, ValueError, KeyError, IndexError, ArithmeticError) as error:
            raise ExprError(f"{_callee_text(node.callee)}: {error}") from None

    def predicate_call(self, name: str, args: tuple[Node, ...]) -> Any:
        if len(args) != 2 or not isinstance(args[1], Closure):
            raise ExprError(f"{name} takes a collection and a predicate {{...}}")
        items = self.value(args[0])
        if isinstance(items, dict):
            items = list(items.values())
        if not isinstance(items, list):
            raise ExprError(f"{name} needs an array, got {type_name(items)}")
        body = args[1].body

        def apply(item: Any) -> Any:
            return _Evaluator(self.env, item, self.nil_safe).value(body)

        return _predicate(name, items, apply)


def _callee_text(node: Node) -> str:
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Member) and isinstance(node.key, Literal):
        return f"{_callee_text(node.target)}.{node.key.value}"
    return "expression"


def _predicate(name: str, items: list[Any], apply: Callable[[Any], Any]) -> Any:
    def test(item: Any) -> bool:
        found = apply(item)
        if not isinstance(found, bool):
            raise ExprError(f"predicate of {name} must be a bool, got {type_name(found)}")
        return found

    if name == "map":
        return [apply(item) for item in items]
    if name == "sum":
        return _fold_sum([apply(item) for item in items])
    chosen = [index for index, item in enumerate(items) if test(item)]
    by_name: dict[str, Callable[[], Any]] = {
        "filter": lambda: [items[index] for index in chosen],
        "all": lambda: len(chosen) == len(items),
        "any": lambda: bool(chosen),
        "none": lambda: not chosen,
        "one": lambda: len(chosen) == 1,
        "count": lambda: len(chosen),
        "find": lambda: items[chosen[0]] if chosen else None,
        "findIndex": lambda: chosen[0] if chosen else -1,
        "findLast": lambda: items[chosen[-1]] if chosen else None,
        "findLastIndex": lambda: chosen[-1] if chosen else -1,
    }
    return by_name[name]()


def _fold_sum(values: list[Any]) -> Any:
    total: Any = 0
    for item in values:
        total = binary_operation("+", total, item)
    return total


def _fetch(target: Any, key: Any) -> Any:
    if isinstance(target, dict):
        return target.get(key)
    if isinstance(target, (list, str)):
        if not isinstance(key, int) or isinstance(key, bool):
            raise ExprError(f"cannot fetch {go_text(key)} from {type_name(target)}")
        index = key + len(target) if key < 0 else key
        if not 0 <= index < len(target):
            raise ExprError(f"index out of range: {key} (array length is {len(target)})")
        return target[index]
    raise ExprError(f"cannot fetch {go_text(key)} from {type_name(target)}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _unary(op: str, operand: Any) -> Any:
    if op == "not":
        if not isinstance(operand, bool):
            raise ExprError(f"invalid operation: ! needs a bool, got {type_name(operand)}")
        return not operand
    if not _is_number(operand):
        raise ExprError(f"invalid operation: {op} on {type_name(operand)}")
    return -operand if op == "-" else operand


def equal(left: Any, right: Any) -> bool:
    """expr's `==`: numbers by value (int or float), anything else by type and value."""
    if _is_number(left) and _is_number(right):
        return bool(left == right)
    if type(left) is not type(right):
        return False
    if isinstance(left, list):
        return len(left) == len(right) and all(map(equal, left, right))
    return bool(left == right)


def _arithmetic(op: str, left: Any, right: Any) -> Any:
    if op == "/":
        if right == 0:
            return math.copysign(math.inf, left) if left else math.nan
        return left / right
    if op == "%":
        if isinstance(left, float) or isinstance(right, float):
            raise ExprError(f"invalid operation: % (mismatched types {type_name(left)} "
                            f"and {type_name(right)})")
        if right == 0:
            raise ExprError("integer divide by zero")
        remainder = abs(left) % abs(right)  # Go's % takes the sign of the dividend
        return -remainder if left < 0 else remainder
    if op == "**":
        return float(left) ** float(right)
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    return left * right


def binary_operation(op: str, left: Any, right: Any) -> Any:
    """The value of `left op right` for every operator that evaluates both sides."""
    if op in ("==", "!="):
        return equal(left, right) == (op == "==")
    if op in ("in", "not in"):
        return _contains(right, left) == (op == "in")
    if _is_number(left) and _is_number(right):
        if op in ("<", ">", "<=", ">="):
            return _compare(op, left, right)
        if op in ("+", "-", "*", "/", "%", "**"):
            return _arithmetic(op, left, right)
        if op == ".." and isinstance(left, int) and isinstance(right, int):
            return list(range(left, right + 1))
    if isinstance(left, str) and isinstance(right, str):
        if op in ("<", ">", "<=", ">="):
            return _compare(op, left, right)
        string_ops: dict[str, Callable[[], Any]] = {
            "+": lambda: left + right,
            "contains": lambda: right in left,
            "startsWith": lambda: left.startswith(right),
            "endsWith": lambda: left.endswith(right),
            "matches": lambda: _matches(left, right),
        }
        if op in string_ops:
            return string_ops[op]()
    if op == "+" and isinstance(left, list) and isinstance(right, list):
        return left + right
    raise ExprError(f"invalid operation: {op} (mismatched types {type_name(left)} "
                    f"and {type_name(right)})")


def _compare(op: str, left: Any, right: Any) -> bool:
    if op == "<":
        return bool(left < right)
    if op == ">":
        return bool(left > right)
    if op == "<=":
        return bool(left <= right)
    return bool(left >= right)


def _contains(collection: Any, item: Any) -> bool:
    if isinstance(collection, list):
        return any(equal(item, element) for element in collection)
    if isinstance(collection, dict):
        return item in collection
    if collection is None:
        return False
    raise ExprError(f"operator in not defined on {type_name(collection)}")


def _matches(text: str, pattern: str) -> bool:
    try:
        return re.search(pattern, text) is not None
    except re.error as error:
        raise ExprError(f"bad regular expression {pattern!r}: {error}") from None
