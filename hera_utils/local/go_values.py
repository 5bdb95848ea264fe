"""Values written as Go writes them, for results of `{{=...}}` expressions.

Argo prints an expression's result with `fmt.Sprintf("%v")` and its `toJson` with
`json.Marshal`; JSON read by `fromJSON`/`jsonpath` gives float64 numbers as Go decodes them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

__all__ = ["go_json", "go_text", "read_json", "type_name"]


def type_name(value: Any) -> str:
    """The Go type a value stands for, as expr names it in its error messages."""
    if value is None:
        return "nil"
    names = {bool: "bool", int: "int", float: "float64", str: "string",
             list: "[]interface {}", dict: "map[string]interface {}"}
    return names.get(type(value), "func")


def _digits(value: float) -> tuple[str, int]:
    """Shortest decimal digits of `value` and the position of its decimal point."""
    _, digits, exponent = Decimal(repr(abs(value))).normalize().as_tuple()
    text = "".join(map(str, digits)) or "0"
    assert isinstance(exponent, int)
    return text, len(text) + exponent


def _special(value: float) -> str | None:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return None


def _exponent_form(sign: str, digits: str, point: int, *, width: int) -> str:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    exponent = point - 1
    return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):0{width}d}"


def _fixed_form(sign: str, digits: str, point: int) -> str:
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return sign + digits + "0" * (point - len(digits))
    return f"{sign}{digits[:point]}.{digits[point:]}"


def go_float_text(value: float) -> str:
    """`%v` of a float64 (`%g`, shortest digits): exponent form below 1e-4 or from 1e6."""
    special = _special(value)
    if special is not None:
        return special
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    digits, point = _digits(value)
    sign = "-" if value < 0 else ""
    if point - 1 < -4 or point - 1 >= 6:
        return _exponent_form(sign, digits, point, width=2)
    return _fixed_form(sign, digits, point)


def go_json_float(value: float) -> str:
    """A float64 as `json.Marshal` writes it (no exponent between 1e-6 and 1e21)."""
    if _special(value) is not None:
        raise ValueError(f"json: unsupported value: {go_float_text(value)}")
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    digits, point = _digits(value)
    sign = "-" if value < 0 else ""
    if abs(value) < 1e-6 or abs(value) >= 1e21:
        return _exponent_form(sign, digits, point, width=1)
    return _fixed_form(sign, digits, point)


def _go_scalar(value: Any, nil: str, float_text: Callable[[float], str]) -> str | None:
    """nil, a bool or a float as Go prints it (`nil` and `float_text` differ between
    fmt and encoding/json); None for any other value."""
    if value is None:
        return nil
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return float_text(value)
    return None


def go_text(value: Any) -> str:
    """`fmt.Sprintf("%v", value)` for the values an expression yields."""
    scalar = _go_scalar(value, "<nil>", go_float_text)
    if scalar is not None:
        return scalar
    if isinstance(value, list):
        return "[" + " ".join(go_text(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{go_text(key)}:{go_text(value[key])}" for key in sorted(value, key=str))
        return "map[" + " ".join(pairs) + "]"
    return str(value)


def _json_string(text: str) -> str:
    # json.Marshal escapes the HTML characters, and both line separators.
    quoted = json.dumps(text, ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        quoted = quoted.replace(char, escape)
    return quoted


def go_json(value: Any, indent: str | None = None, _level: int = 0) -> str:
    """`json.Marshal(value)` (or `MarshalIndent(value, "", indent)`), keys sorted."""
    scalar = _go_scalar(value, "null", go_json_float)
    if scalar is not None:
        return scalar
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _json_string(value)
    if isinstance(value, (list, dict)):
        return _json_container(value, indent, _level)
    raise ValueError(f"json: unsupported type: {type_name(value)}")


def _json_container(value: list[Any] | dict[Any, Any], indent: str | None, level: int) -> str:
    if isinstance(value, list):
        parts = [go_json(item, indent, level + 1) for item in value]
        opening, closing = "[", "]"
    else:
        parts = [f"{_json_string(str(key))}:{' ' if indent is not None else ''}"
                 f"{go_json(value[key], indent, level + 1)}" for key in sorted(value, key=str)]
        opening, closing = "{", "}"
    if not parts:
        return opening + closing
    if indent is None:
        return opening + ",".join(parts) + closing
    inner = "\n" + indent * (level + 1)
    return opening + inner + ("," + inner).join(parts) + "\n" + indent * level + closing


def read_json(text: Any) -> Any:
    """JSON text decoded as Go decodes it into `interface{}` (every number a float64)."""
    if not isinstance(text, str):
        raise ValueError(f"expected JSON text, got {type_name(text)}")
    try:
        return json.loads(text, parse_int=float)
    except json.JSONDecodeError as error:
        raise ValueError(f"invalid JSON {text[:60]!r}: {error.msg}") from None
