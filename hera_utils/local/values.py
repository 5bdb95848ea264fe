"""Values as Argo reads and prints them: parameter text, durations, integers, booleans.

Argo keeps every parameter as a string (`AnyString`): a number given in YAML or JSON is
printed as Go's `strconv.FormatFloat(v, 'f', -1, 64)` prints it, so `2.0` becomes `2`,
`0.5` stays `0.5` and `1e21` is written out in full; booleans become `true`/`false`.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

__all__ = [
    "duration_seconds",
    "format_number",
    "format_value",
    "json_text",
    "min_positive_seconds",
    "parse_integer",
    "positive_seconds",
    "truthy",
]

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_DURATION_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def json_text(value: Any) -> str:
    """Compact JSON with sorted keys, as Go's `json.Marshal` writes maps."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def format_number(value: float) -> str:
    """A number as Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest digits, no exponent."""
    # repr gives the shortest digits that read back as the same float; Decimal writes
    # them out without an exponent, and normalize() drops the zeros Go does not print.
    return format(Decimal(repr(float(value))).normalize(), "f")


def format_value(value: Any) -> str:
    """A JSON value as Argo prints it into a string: `AnyString` for scalars, JSON otherwise."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_number(value)
    if isinstance(value, int):
        # Go reads every JSON number as a float64; below 2**53 that is the integer itself.
        return str(value) if abs(value) < 2**53 else format_number(float(value))
    if value is None:
        return "null"
    return json_text(value)


def duration_seconds(value: Any) -> float | None:
    """Seconds from an Argo duration: 30, "30", "30s", "2m", "1h30m"; None if unreadable."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(number + unit for number, unit in parts) != text:
        return None
    return sum(float(number) * _DURATION_SCALE[unit] for number, unit in parts)


def positive_seconds(value: Any) -> float | None:
    """A duration that limits something: None unless it is readable and above zero."""
    seconds = duration_seconds(value)
    return seconds if seconds and seconds > 0 else None


def min_positive_seconds(*values: Any) -> float | None:
    """The shortest of several optional limits (None if none is set)."""
    found = [s for s in (positive_seconds(v) for v in values) if s is not None]
    return min(found) if found else None


def parse_integer(value: Any) -> int | None:
    """An integer from a number or its text; None if it is not one."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def truthy(value: Any) -> bool:
    """A boolean field that may arrive as text after substitution ("false", "0", "no")."""
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no")
    return bool(value)
