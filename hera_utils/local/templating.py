"""`{{...}}` substitution, as Argo applies it to templates, tasks and steps.

Argo replaces simple tags (`{{inputs.parameters.x}}`, `{{tasks.a.outputs.result}}`) in the
JSON text of a template; replacing in every string of the parsed object is equivalent and
needs no escaping. A tag Argo does not know is left as it is (`allowUnresolved`); a tag that
names something this run should know (an input, a task, an item...) but cannot resolve is
an error, so a typo does not reach a task as literal text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .expr_tags import ExpressionTagError, UnresolvedTagError, evaluate_tag

__all__ = [
    "ExpressionTagError",
    "UnresolvedTagError",
    "expression_tags",
    "substitute",
    "tags_in",
]

TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)

# Tags with these prefixes always name something of the run; unresolved, they are errors.
_STRICT_PREFIXES = ("inputs.parameters", "tasks.", "steps.", "workflow.parameters",
                    "workflow.outputs.", "item")

Lookup = Callable[[str], "str | None"]


def substitute(value: Any, lookup: Lookup | Mapping[str, str], *, strict: bool = False,
               strict_prefixes: tuple[str, ...] = _STRICT_PREFIXES) -> Any:
    """A copy of `value` (str, list, dict, scalars) with its `{{tags}}` replaced.

    `lookup` maps a tag (whitespace stripped) to its value, or None when unknown. With
    `strict`, an unknown tag starting with one of `strict_prefixes` raises
    `UnresolvedTagError`; other unknown tags are kept verbatim.
    """
    find: Lookup = lookup.get if isinstance(lookup, Mapping) else lookup

    def replace(match: re.Match[str]) -> str:
        tag = match.group(1).strip()
        if tag.startswith("="):
            value = evaluate_tag(match.group(1)[match.group(1).index("=") + 1:], find,
                                 strict=strict,
                                 is_strict=lambda path: _is_strict(path, strict_prefixes))
            return match.group(0) if value is None else value
        found = find(tag)
        if found is not None:
            return found
        if strict and _is_strict(tag, strict_prefixes):
            raise UnresolvedTagError(tag)
        return match.group(0)

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return TAG.sub(replace, node) if "{{" in node else node
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, dict):
            return {key: walk(item) for key, item in node.items()}
        return node

    return walk(value)


def _is_strict(tag: str, prefixes: tuple[str, ...]) -> bool:
    for prefix in prefixes:
        if prefix.endswith("."):
            if tag.startswith(prefix):
                return True
        elif tag == prefix or tag.startswith(prefix + "."):
            return True
    return False


def tags_in(value: Any) -> list[str]:
    """Every `{{tag}}` (stripped) found in the strings of `value`, in order."""
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, str):
            found.extend(match.group(1).strip() for match in TAG.finditer(node))
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for item in node.values():
                walk(item)

    walk(value)
    return found


def expression_tags(value: Any) -> list[str]:
    """The `{{=expression}}` tags of `value`."""
    return [tag for tag in tags_in(value) if tag.startswith("=")]
