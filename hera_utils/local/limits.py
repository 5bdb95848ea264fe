"""The bounds of a local run: nothing a workflow says can make the runner grow without end.

Argo has some of these limits itself (the template stack depth, the size of a parameter);
the others stand for what the cluster bounds by other means (etcd's object size, the
controller's memory). Each refusal names the limit and what to do instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "MAX_DOCUMENT_NODES",
    "MAX_LOOP_ITEMS",
    "MAX_NAME_LENGTH",
    "MAX_NODES",
    "MAX_PARAMETER_BYTES",
    "MAX_STACK_DEPTH",
    "MAX_WORKFLOW_FILE_BYTES",
    "LimitError",
    "expanded_size",
    "read_bounded",
]

# Argo's controller stops a template nesting deeper than this ("maximum recursion depth").
MAX_STACK_DEPTH = 150
# A parameter's value travels in a pod annotation on the cluster, capped at 256 KiB.
MAX_PARAMETER_BYTES = 256 * 1024
# The cluster refuses a workflow object over about 1 MB; a file 16 times that is no workflow.
MAX_WORKFLOW_FILE_BYTES = 16 * 1024 * 1024
# Values of a workflow document once YAML aliases are expanded (an "alias bomb" is refused).
MAX_DOCUMENT_NODES = 2_000_000
# Items of one loop (`withItems`, `withParam`, `withSequence`) and nodes of one run.
MAX_LOOP_ITEMS = 50_000
MAX_NODES = 50_000
# File names on this machine hold at most 255 bytes; Kubernetes names at most 253 characters.
MAX_NAME_LENGTH = 253
# A run's summary.json read back to re-run it (`reuse`).
MAX_SUMMARY_BYTES = 256 * 1024 * 1024


class LimitError(ValueError):
    """A workflow, a file or a value beyond one of the bounds above."""


def expanded_size(document: Any, limit: int = MAX_DOCUMENT_NODES) -> int:
    """The number of values in `document` with every shared reference counted each time.

    A YAML alias makes several places share one object, so that a small file can stand for
    billions of values; this counts them without expanding anything (each distinct object
    is visited once), and raises `LimitError` past `limit` or when a value contains itself.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(document, False)]
    while stack:
        value, children_done = stack.pop()
        if not isinstance(value, (dict, list)):
            continue
        key = id(value)
        if children_done:
            on_path.discard(key)
            sizes[key] = 1 + sum(_size_of(child, sizes) for child in _children(value))
            if sizes[key] > limit:
                raise LimitError(f"holds more than {limit:,} values once its YAML aliases "
                                 "are expanded")
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise LimitError("contains itself (a YAML alias refers to its own anchor)")
        on_path.add(key)
        stack.append((value, True))
        stack.extend((child, False) for child in _children(value)
                     if isinstance(child, (dict, list)) and id(child) not in sizes)
    return _size_of(document, sizes)


def read_bounded(path: str | Path, limit: int) -> bytes:
    """The bytes of `path`, refused with `LimitError` when it holds more than `limit`."""
    with open(path, "rb") as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:
        raise LimitError(f"{path} holds more than {limit:,} bytes")
    return data


def _children(value: dict[Any, Any] | list[Any]) -> Iterator[Any]:
    if isinstance(value, dict):
        yield from value.keys()
        yield from value.values()
    else:
        yield from value


def _size_of(value: Any, sizes: dict[int, int]) -> int:
    if isinstance(value, (dict, list)):
        return sizes.get(id(value), 1)
    return 1
