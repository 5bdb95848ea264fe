"""The shape of a manifest, checked against Argo's own Workflow schema before it runs.

The runner reads a workflow as nested dicts and lists; a list where Argo expects an object
(or a string where it expects a list) would otherwise surface as a Python error deep in the
run. Only the structure is checked here (object, list or scalar), which is what the
runner's reading relies on: scalars are left to Argo's own decoding rules, which take a
number where a string is expected, and keys are matched case-insensitively as Go does
(and renamed to Argo's spelling, so that the runner finds them).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["shape_problems"]

_SCHEMA = Path(__file__).resolve().parent.parent / "testing" / "data" / \
    "argo-workflows-v4.1.2.schema.json"
_ROOTS = {
    "Workflow": "io.argoproj.workflow.v1alpha1.Workflow",
    "WorkflowTemplate": "io.argoproj.workflow.v1alpha1.WorkflowTemplate",
    "ClusterWorkflowTemplate": "io.argoproj.workflow.v1alpha1.ClusterWorkflowTemplate",
    "CronWorkflow": "io.argoproj.workflow.v1alpha1.CronWorkflow",
}
_KINDS = {"object": dict, "array": list}
_MAX_PROBLEMS = 5


def shape_problems(document: dict[str, Any]) -> list[str]:
    """Where `document` has a list, object or scalar that Argo's schema does not allow there.

    Each problem reads `spec.templates[0].dag.tasks: a list is expected, not a string`.
    Returns an empty list when the schema is not at hand (it ships with the package).
    """
    definitions = _definitions()
    root = _ROOTS.get(str(document.get("kind") or "Workflow"))
    if not definitions or root is None:
        return []
    problems: list[str] = []
    stack: list[tuple[Any, dict[str, Any], str]] = [
        (document, definitions.get(root, {}), "")]
    while stack and len(problems) < _MAX_PROBLEMS:
        value, schema, where = stack.pop()
        schema = _resolve(schema, definitions)
        expected = schema.get("type")
        problem = _mismatch(value, expected)
        if problem:
            problems.append(f"{where or 'the document'}: {problem}")
            continue
        if isinstance(value, dict):
            stack.extend(_members(value, schema, where))
        elif isinstance(value, list) and isinstance(schema.get("items"), dict):
            stack.extend((item, schema["items"], f"{where}[{index}]")
                         for index, item in enumerate(value))
    return problems


@lru_cache(maxsize=1)
def _definitions() -> dict[str, Any]:
    try:
        schema = json.loads(_SCHEMA.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    definitions: dict[str, Any] = schema.get("definitions") or {}
    return definitions


def _resolve(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = definitions.get(str(schema["$ref"]).rsplit("/", 1)[-1], {})
    return schema


def _mismatch(value: Any, expected: Any) -> str:
    if value is None or expected is None:
        return ""  # null is "absent" to Go; an untyped schema takes anything
    wanted = _KINDS.get(str(expected))
    if wanted is not None and not isinstance(value, wanted):
        return f"{_article(str(expected))} is expected, not {_describe(value)}"
    if wanted is None and isinstance(value, (dict, list)):
        return f"a single value ({expected}) is expected, not {_describe(value)}"
    return ""


def _members(value: dict[str, Any], schema: dict[str, Any], where: str
             ) -> list[tuple[Any, dict[str, Any], str]]:
    properties: dict[str, Any] = schema.get("properties") or {}
    folded = {key.lower(): key for key in properties}
    # Go decodes keys case-insensitively (`valueFrom: {Path: ...}`): such a key takes
    # Argo's own spelling here, so that the runner reads it where Argo would.
    for key in [k for k in value if k not in properties and str(k).lower() in folded]:
        canonical = folded[str(key).lower()]
        if canonical not in value:
            value[canonical] = value.pop(key)
    extra = schema.get("additionalProperties")
    members = []
    for key, member in value.items():
        sub = properties.get(key)
        if sub is None and isinstance(extra, dict):
            sub = extra
        if isinstance(sub, dict):
            members.append((member, sub, f"{where}.{key}" if where else str(key)))
    return members


def _article(kind: str) -> str:
    return {"object": "a mapping", "array": "a list"}.get(kind, kind)


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__
