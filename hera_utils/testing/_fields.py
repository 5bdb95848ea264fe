"""The Argo Server's `fields` query parameter: answers cut down to the paths asked for."""

from __future__ import annotations

import copy
from typing import Any


def select_fields(document: dict[str, Any], fields: str | None) -> dict[str, Any]:
    """`document` cut down as the Argo Server's `fields` parameter asks.

    `"spec,status.phase"` keeps only those dotted paths; `"-status.nodes"` drops them.
    Lists are traversed (`items.metadata.name` applies to every item).
    """
    if not fields:
        return document
    exclude = fields.startswith("-")
    paths = [p.strip().split(".") for p in fields.lstrip("-").split(",") if p.strip()]
    if exclude:
        pruned = copy.deepcopy(document)
        for path in paths:
            _drop_path(pruned, path)
        return pruned
    kept: dict[str, Any] = {}
    for path in paths:
        _merge(kept, _keep_path(document, path))
    return kept


def _keep_path(value: Any, path: list[str]) -> Any:
    if not path:
        return copy.deepcopy(value)
    if isinstance(value, list):
        return [_keep_path(item, path) for item in value]
    if isinstance(value, dict) and path[0] in value:
        return {path[0]: _keep_path(value[path[0]], path[1:])}
    return {}


def _merge(target: Any, addition: Any) -> Any:
    if isinstance(target, dict) and isinstance(addition, dict):
        for key, value in addition.items():
            target[key] = _merge(target[key], value) if key in target else value
        return target
    if isinstance(target, list) and isinstance(addition, list):
        return [_merge(a, b) for a, b in zip(target, addition, strict=False)]
    return addition


def _drop_path(value: Any, path: list[str]) -> None:
    if isinstance(value, list):
        for item in value:
            _drop_path(item, path)
    elif isinstance(value, dict) and path[0] in value:
        if len(path) == 1:
            del value[path[0]]
        else:
            _drop_path(value[path[0]], path[1:])
