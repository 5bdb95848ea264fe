"""`jsonpath(json, path)` of Argo's expressions, as its Go library (oliveagle/jsonpath) reads it.

The subset: `$`, `.key`, `['key']`, `[n]` (negative from the end), `[*]`, `[from:to]` (both
ends included, as that library does), and filters `[?(@.a > 1 && @.b == "x")]` comparing a
field with a number, a string or another field. Once a wildcard, slice or filter has been
applied the result is a list, and later steps apply to each element.
"""

from __future__ import annotations

import re
from typing import Any

from .go_values import read_json

__all__ = ["jsonpath"]

_STEP = re.compile(r"""
    \.(?P<key>[A-Za-z0-9_$-]+)
  | \.(?P<star>\*)
  | \[(?P<quoted>'[^']*'|"[^"]*")\]
  | \[\?\((?P<filter>.*?)\)\]
  | \[(?P<range>-?\d*:-?\d*)\]
  | \[(?P<index>-?\d+)\]
  | \[(?P<all>\*)\]
""", re.VERBOSE)
_COMPARISON = re.compile(r"^\s*(@(?:\.[A-Za-z0-9_$-]+)*)\s*(==|!=|<=|>=|<|>|=~)?\s*(.*?)\s*$")


def jsonpath(document: Any, path: Any) -> Any:
    """The value at `path` of `document` (JSON text, or an already decoded value)."""
    data = read_json(document) if isinstance(document, str) else document
    if not isinstance(path, str) or not path.startswith("$"):
        raise ValueError(f"a JSON path starts with '$', got {path!r}")
    at, current, many = 1, data, False
    while at < len(path):
        match = _STEP.match(path, at)
        if match is None:
            raise ValueError(f"unsupported JSON path {path!r} at {path[at:]!r}")
        at = match.end()
        if many:
            current = [_apply(match, item) for item in current]
            current = [item for group in current for item in group] \
                if match.lastgroup in ("star", "filter", "range", "all") else current
        else:
            many = match.lastgroup in ("star", "filter", "range", "all")
            current = _apply(match, current)
    return current


def _apply(match: re.Match[str], value: Any) -> Any:
    kind = match.lastgroup
    text = match.group(kind or "")
    if kind in ("key", "quoted"):
        key = text if kind == "key" else text[1:-1]
        if not isinstance(value, dict) or key not in value:
            raise ValueError(f"key error: {key} not found in object")
        return value[key]
    if kind == "index":
        return _index(value, int(text))
    if kind == "range":
        return _range(value, text)
    if kind == "filter":
        return [item for item in _elements(value) if _matches(item, text)]
    return _elements(value)


def _elements(value: Any) -> list[Any]:
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return [value[key] for key in sorted(value)]
    raise ValueError("object is not Slice")


def _index(value: Any, index: int) -> Any:
    if not isinstance(value, list):
        raise ValueError("object is not Slice")
    position = index + len(value) if index < 0 else index
    if not 0 <= position < len(value):
        raise ValueError(f"index out of range: len: {len(value)}, idx: {index}")
    return value[position]


def _range(value: Any, text: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError("object is not Slice")
    first, _, last = text.partition(":")
    start = int(first) if first else 0
    stop = int(last) if last else len(value) - 1
    start, stop = (n + len(value) if n < 0 else n for n in (start, stop))
    if not 0 <= start < len(value):
        raise ValueError(f"index [from] out of range: len: {len(value)}, from: {start}")
    if stop >= len(value):
        raise ValueError(f"index [to] out of range: len: {len(value)}, to: {stop}")
    return value[start:stop + 1]


def _matches(item: Any, condition: str) -> bool:
    if "||" in condition:
        return any(_matches(item, part) for part in condition.split("||"))
    if "&&" in condition:
        return all(_matches(item, part) for part in condition.split("&&"))
    match = _COMPARISON.match(condition)
    if match is None:
        raise ValueError(f"unsupported JSON path filter {condition!r}")
    field, op, operand = match.groups()
    left = _field(item, field)
    if op is None:
        return left is not None
    right = _field(item, operand) if operand.startswith("@") else _literal(operand)
    return _compare(left, op, right)


def _field(item: Any, path: str) -> Any:
    for key in path.split(".")[1:]:
        if not isinstance(item, dict):
            return None
        item = item.get(key)
    return item


def _literal(text: str) -> Any:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"unsupported value {text!r} in a JSON path filter") from None


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "=~":
        return isinstance(left, str) and re.search(str(right), left) is not None
    if op in ("==", "!="):
        return bool(left == right) == (op == "==")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (left, right))
    if not numbers and not (isinstance(left, str) and isinstance(right, str)):
        return False
    return bool({"<": left < right, ">": left > right, "<=": left <= right,
                 ">=": left >= right}[op])
