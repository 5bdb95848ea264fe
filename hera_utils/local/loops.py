"""Loops: `withItems`, `withParam` and `withSequence` expanded as Argo expands them.

Each item gives one node named `<task>(<index>:<description>)`, the description being the
item itself, or for a map its `key:value` pairs sorted and comma-joined (Argo's
`processItem`), e.g. `collect(0:paris)` or `print(0:image:debian,tag:9.1)`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from .limits import MAX_LOOP_ITEMS
from .values import format_value, json_text

__all__ = ["Item", "LoopError", "expand_loop", "has_loop"]


class LoopError(ValueError):
    """A loop whose items cannot be computed (bad JSON, bad sequence)."""


@dataclass(frozen=True)
class Item:
    """One iteration of a loop: its index, value, node-name suffix and `{{item...}}` values."""

    index: int
    value: Any
    description: str
    variables: dict[str, str]

    def node_suffix(self) -> str:
        """The `(index:description)` Argo appends to the task's name."""
        return f"({self.index}:{self.description})"


def has_loop(task: dict[str, Any]) -> bool:
    """Whether a DAG task or step expands into several nodes."""
    return any(key in task for key in ("withItems", "withParam", "withSequence"))


def expand_loop(task: dict[str, Any]) -> list[Item]:
    """The items of a task's loop (the task must already be substituted)."""
    if "withItems" in task:
        values = list(task["withItems"] or [])
    elif "withParam" in task:
        values = _parse_param(task["withParam"])
    else:
        values = _sequence(task["withSequence"] or {})
    _check_count(len(values))
    return [_item(index, value) for index, value in enumerate(values)]


def _check_count(count: int) -> None:
    if count > MAX_LOOP_ITEMS:
        raise LoopError(f"the loop has {count:,} items, more than the {MAX_LOOP_ITEMS:,} a "
                        "local run takes; split the sweep, or run it on the cluster")


def _parse_param(text: Any) -> list[Any]:
    if isinstance(text, list):
        return text
    try:
        values = json.loads(text)
    except (TypeError, ValueError) as error:
        raise LoopError(
            "withParam value could not be parsed as a JSON list: "
            f"{str(text).strip()[:200]}: {error}"
        ) from None
    if not isinstance(values, list):
        raise LoopError(f"withParam value is not a JSON list: {str(text).strip()[:200]}")
    return values


def _integer(sequence: dict[str, Any], key: str) -> int:
    try:
        return int(str(sequence[key]).strip())
    except ValueError:
        raise LoopError(f"withSequence.{key} is not an integer: {sequence[key]!r}") from None


def _sequence(sequence: dict[str, Any]) -> list[str]:
    # Argo's expandSequence: start defaults to 0, `end` or `count` is required, the
    # sequence counts down when end < start, and every item is a string.
    if "end" in sequence and "count" in sequence:
        raise LoopError("withSequence takes either end or count, not both")
    start = _integer(sequence, "start") if "start" in sequence else 0
    if "end" in sequence:
        end = _integer(sequence, "end")
    elif "count" in sequence:
        count = _integer(sequence, "count")
        if count <= 0:
            return []
        end = start + count - 1
    else:
        raise LoopError("withSequence needs end or count")
    step = 1 if start <= end else -1
    _check_count(abs(end - start) + 1)  # before any item is made
    return [_format_number(sequence.get("format") or "%d", n)
            for n in range(start, end + step, step)]


def _format_number(pattern: str, number: int) -> str:
    # Go's printf verbs for integers match Python's %-formatting, except %v.
    python_pattern = re.sub(r"%(-?\d*)v", r"%\1d", pattern)
    try:
        return python_pattern % number
    except (TypeError, ValueError) as error:
        raise LoopError(
            f"withSequence.format {pattern!r} cannot format {number}: {error}") from None


def _item(index: int, value: Any) -> Item:
    if isinstance(value, dict):
        variables = {"item": json_text(value)}
        pairs = []
        for key, field in value.items():
            variables[f"item.{key}"] = format_value(field)
            pairs.append(f"{key}:{format_value(field)}")
        return Item(index, value, ",".join(sorted(pairs)), variables)
    text = format_value(value)
    return Item(index, value, text, {"item": text})
