"""The functions an Argo expression can call: expr's builtins, Argo's additions, `sprig.*`.

Argo's expression environment adds `asInt`, `asFloat`, `string`, `jsonpath`, `toJson` and
the sprig template functions under `sprig` to expr's builtins. The ones Argo's examples and
tests use are here; a time function (`now`, `date`, `duration`) is refused by name, since a
local run has no Go time values to give it.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from typing import Any

from .expr_syntax import ExprError
from .go_values import go_json, go_text, read_json, type_name
from .jsonpath import jsonpath

__all__ = ["builtin"]

Function = Callable[..., Any]


def _text(value: Any, function: str) -> str:
    if not isinstance(value, str):
        raise ExprError(f"{function} needs a string, got {type_name(value)}")
    return value


def _convert(value: Any, convert: Callable[[Any], Any], function: str, kind: str) -> Any:
    if isinstance(value, str):
        try:
            return convert(value.strip())
        except ValueError:
            raise ExprError(f"{function}: cannot read {value!r} as a number") from None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return convert(value)
    raise ExprError(f"{function}: cannot convert {type_name(value)} to {kind}")


def as_int(value: Any) -> int:
    """Argo's `asInt` (expr's `int`): an integer from a number or its text."""
    return int(_convert(value, int, "asInt", "int"))


def as_float(value: Any) -> float:
    """Argo's `asFloat` (expr's `float`): a float from a number or its text."""
    return float(_convert(value, float, "asFloat", "float64"))


def _length(value: Any) -> int:
    if isinstance(value, (str, list, dict)):
        return len(value)
    raise ExprError(f"invalid argument for len (type {type_name(value)})")


def _wrong(function: str, value: Any) -> Any:
    raise ExprError(f"invalid argument for {function} (type {type_name(value)})")


def _get(collection: Any, key: Any) -> Any:
    if isinstance(collection, dict):
        return collection.get(key)
    if isinstance(collection, list) and isinstance(key, int) and -len(collection) <= key \
            < len(collection):
        return collection[key]
    return None


def _join(items: Any, separator: str = "") -> str:
    if not isinstance(items, list):
        raise ExprError(f"join needs an array, got {type_name(items)}")
    return separator.join(go_text(item) for item in items)


def _concat(*arrays: Any) -> list[Any]:
    joined: list[Any] = []
    for array in arrays:
        if not isinstance(array, list):
            raise ExprError(f"concat needs arrays, got {type_name(array)}")
        joined.extend(array)
    return joined


def _extreme(pick: Callable[..., Any], name: str) -> Function:
    def function(*values: Any) -> Any:
        flat = values[0] if len(values) == 1 and isinstance(values[0], list) else list(values)
        if not flat or not all(isinstance(v, (int, float)) and not isinstance(v, bool)
                               for v in flat):
            raise ExprError(f"{name} needs numbers")
        return pick(flat)
    return function


def _unbase64(text: Any) -> str:
    try:
        return base64.b64decode(_text(text, "b64dec"), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError) as error:
        raise ExprError(f"b64dec: {error}") from None


def _refused(name: str) -> Function:
    def function(*_: Any) -> Any:
        raise ExprError(f"{name}() works on Go time values, which the local runner does "
                        f"not have; give the value as a parameter instead")
    return function


def _to_int64(value: Any) -> int:
    """sprig's `toInt64` (spf13/cast): numbers truncated, text read, anything else 0."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return 0
    return 0


def _ints(values: tuple[Any, ...]) -> list[int]:
    return [_to_int64(value) for value in values]


def _int_division(left: Any, right: Any) -> int:
    a, b = _to_int64(left), _to_int64(right)
    if b == 0:
        raise ExprError("sprig.div: integer divide by zero")
    quotient = abs(a) // abs(b)  # Go truncates toward zero
    return quotient if (a >= 0) == (b >= 0) else -quotient


_GO_LAYOUT = (("2006", "%Y"), ("January", "%B"), ("Jan", "%b"), ("Monday", "%A"),
              ("Mon", "%a"), ("MST", "%Z"), ("01", "%m"), ("02", "%d"), ("15", "%H"),
              ("03", "%I"), ("04", "%M"), ("05", "%S"), ("06", "%y"), ("PM", "%p"))


def _sprig_date(layout: Any, when: Any) -> str:
    # sprig formats time values and Unix seconds; for anything else (a timestamp given as
    # text, as Argo gives `workflow.creationTimestamp`) it formats the current time.
    seconds = float(when) if isinstance(when, (int, float)) and not isinstance(when, bool) \
        else time.time()
    pattern = _text(layout, "sprig.date").replace("%", "%%")
    for go, strftime in _GO_LAYOUT:
        pattern = pattern.replace(go, strftime)
    return time.strftime(pattern, time.localtime(seconds))


def _sprig() -> dict[str, Function]:
    return {
        "upper": lambda s: _text(s, "upper").upper(),
        "lower": lambda s: _text(s, "lower").lower(),
        "title": lambda s: _text(s, "title").title(),
        "trim": lambda s: _text(s, "trim").strip(),
        "trimAll": lambda cut, s: _text(s, "trimAll").strip(cut),
        "trimPrefix": lambda p, s: _text(s, "trimPrefix").removeprefix(p),
        "trimSuffix": lambda p, s: _text(s, "trimSuffix").removesuffix(p),
        "replace": lambda old, new, s: _text(s, "replace").replace(old, new),
        "contains": lambda part, s: part in _text(s, "contains"),
        "hasPrefix": lambda p, s: _text(s, "hasPrefix").startswith(p),
        "hasSuffix": lambda p, s: _text(s, "hasSuffix").endswith(p),
        "repeat": lambda n, s: _text(s, "repeat") * _to_int64(n),
        "quote": lambda *s: " ".join(go_json(go_text(x)) for x in s if x is not None),
        "squote": lambda *s: " ".join(f"'{go_text(x)}'" for x in s if x is not None),
        "b64enc": lambda s: base64.b64encode(_text(s, "b64enc").encode()).decode(),
        "b64dec": _unbase64,
        "toString": go_text,
        "toJson": go_json,
        "fromJson": read_json,
        "int": _to_int64, "int64": _to_int64,
        "float64": as_float,
        "atoi": _to_int64,
        "add": lambda *v: sum(_ints(v)),
        "add1": lambda v: _to_int64(v) + 1,
        "sub": lambda a, b: _to_int64(a) - _to_int64(b),
        "mul": lambda *v: _product(_ints(v)),
        "div": _int_division,
        "mod": lambda a, b: _arith_mod(_to_int64(a), _to_int64(b)),
        "max": lambda *v: max(_ints(v)),
        "min": lambda *v: min(_ints(v)),
        "default": lambda fallback, *given: given[0] if given and given[0] not in
        (None, "", 0, False, [], {}) else fallback,
        "empty": lambda v: v in (None, "", 0, False, [], {}),
        "join": lambda separator, items: _join(items, separator),
        "splitList": lambda separator, s: _text(s, "splitList").split(separator),
        "date": _sprig_date,
        "now": _refused("sprig.now"),
    }


def _product(values: list[int]) -> int:
    result = 1
    for value in values:
        result *= value
    return result


def _arith_mod(a: int, b: int) -> int:
    if b == 0:
        raise ExprError("sprig.mod: integer divide by zero")
    remainder = abs(a) % abs(b)
    return -remainder if a < 0 else remainder


def _builtins() -> dict[str, Any]:
    functions: dict[str, Any] = {
        # Argo's additions (util/expr/env)
        "asInt": as_int, "asFloat": as_float, "string": go_text,
        "jsonpath": jsonpath, "toJson": go_json, "sprig": _sprig(),
        # expr's builtins
        "int": as_int, "float": as_float, "len": _length,
        "abs": lambda v: abs(v) if isinstance(v, (int, float)) else _wrong("abs", v),
        "upper": lambda s: _text(s, "upper").upper(),
        "lower": lambda s: _text(s, "lower").lower(),
        "trim": lambda s, cut=None: _text(s, "trim").strip(cut),
        "trimPrefix": lambda s, p=" ": _text(s, "trimPrefix").removeprefix(p),
        "trimSuffix": lambda s, p=" ": _text(s, "trimSuffix").removesuffix(p),
        "split": lambda s, sep: _text(s, "split").split(sep),
        "replace": lambda s, old, new: _text(s, "replace").replace(old, new),
        "repeat": lambda s, n: _text(s, "repeat") * as_int(n),
        "indexOf": lambda s, part: _text(s, "indexOf").find(part),
        "hasPrefix": lambda s, p: _text(s, "hasPrefix").startswith(p),
        "hasSuffix": lambda s, p: _text(s, "hasSuffix").endswith(p),
        "join": _join, "concat": _concat, "get": _get,
        "keys": lambda m: sorted(m) if isinstance(m, dict) else _wrong("keys", m),
        "values": lambda m: ([m[k] for k in sorted(m)] if isinstance(m, dict)
                             else _wrong("values", m)),
        "first": lambda a: a[0] if isinstance(a, list) and a else None,
        "last": lambda a: a[-1] if isinstance(a, list) and a else None,
        "reverse": lambda a: list(reversed(a)) if isinstance(a, list) else _wrong("reverse", a),
        "max": _extreme(max, "max"), "min": _extreme(min, "min"),
        "toJSON": lambda v: go_json(v, indent="  "), "fromJSON": read_json,
        "toBase64": lambda s: base64.b64encode(_text(s, "toBase64").encode()).decode(),
        "fromBase64": _unbase64,
    }
    for name in ("now", "date", "duration", "timezone"):
        functions[name] = _refused(name)
    return functions


_BUILTINS = _builtins()


def builtin(name: str) -> Any:
    """The function (or `sprig` namespace) called `name`, or None."""
    return _BUILTINS.get(name)
