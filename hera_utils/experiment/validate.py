"""Refuse a workflow that no Argo would accept, before it is written, run or sent.

The references inside a workflow (a task's template, a `depends` naming a task, a
`{{tasks.X...}}` or `{{inputs.parameters.p}}` expression) are the user's to get right;
a broken one is a `ConfigurationError` (exit 2) naming the template, the task and the fix,
the same for `render`, `local` and `submit`. What the local runner does not support is
another matter, which it reports itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from hera_utils.errors import ConfigurationError

# A task name in a `depends` expression: everything but operators, parentheses, results.
_DEPENDS_TOKEN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]*(?:\.[A-Za-z]+)?")
_REFERENCE = re.compile(r"\{\{\s*(tasks|steps)\.([A-Za-z0-9_-]+)\.")
_INPUT_PARAMETER = re.compile(r"\{\{\s*inputs\.parameters\.([A-Za-z0-9_-]+)\s*\}\}")
# Names Argo itself gives meaning to in `{{tasks.NAME...}}` / `{{steps.NAME...}}`.
_BUILT_IN_REFERENCES = frozenset({"name", "status"})


def workflow_problems(manifest: Mapping[str, Any]) -> list[str]:
    """Every broken reference of a workflow manifest (as `Workflow.build()` gives it)."""
    spec: Mapping[str, Any] = manifest.get("spec") or {}
    templates = {t.get("name"): t for t in spec.get("templates") or [] if isinstance(t, Mapping)}
    problems: list[str] = []
    for label, name in (("entrypoint", spec.get("entrypoint")), ("onExit", spec.get("onExit"))):
        if name and name not in templates and not spec.get("workflowTemplateRef"):
            problems.append(
                f"spec.{label} names template '{name}', which is not defined "
                f"(defined: {_listing(templates)})"
            )
    for template_name, template in templates.items():
        problems.extend(_template_problems(str(template_name), template, templates))
    return problems


def refuse_invalid_workflow(manifest: Mapping[str, Any], source: str = "workflow.py") -> None:
    """Raise a `ConfigurationError` listing the broken references of `manifest`, if any."""
    problems = workflow_problems(manifest)
    if problems:
        more = f" (and {len(problems) - 1} more: {'; '.join(problems[1:])})" if problems[1:] else ""
        raise ConfigurationError(
            f"the workflow of {source} is invalid: {problems[0]}{more}",
            hint=f"fix it in {source}; nothing was written, run or sent",
        )


def _template_problems(
    name: str, template: Mapping[str, Any], templates: Mapping[Any, Any]
) -> Iterator[str]:
    where = f"template '{name}'"
    dag = template.get("dag")
    steps = template.get("steps")
    children: list[tuple[str, Mapping[str, Any]]] = []
    if isinstance(dag, Mapping):
        tasks = [task for task in dag.get("tasks") or [] if isinstance(task, Mapping)]
        task_names = [str(task.get("name")) for task in tasks]
        for task in tasks:
            task_name = str(task.get("name"))
            children.append((f"{where}, task '{task_name}'", task))
            for dependency in _depends_names(task):
                if dependency not in task_names:
                    yield (
                        f"{where}, task '{task_name}' depends on '{dependency}', which is not a "
                        f"task of this DAG (its tasks: {', '.join(task_names)})"
                    )
            for referenced in _references(task, "tasks"):
                if referenced not in task_names:
                    yield (
                        f"{where}, task '{task_name}' refers to tasks.{referenced}, which is not "
                        f"a task of this DAG (its tasks: {', '.join(task_names)})"
                    )
    elif isinstance(steps, list):
        step_names: list[str] = []
        for group in steps:
            group_steps = group if isinstance(group, list) else [group]
            group_steps = [step for step in group_steps if isinstance(step, Mapping)]
            for step in group_steps:
                step_name = str(step.get("name"))
                children.append((f"{where}, step '{step_name}'", step))
                for referenced in _references(step, "steps"):
                    if referenced not in step_names:
                        yield (
                            f"{where}, step '{step_name}' refers to steps.{referenced}, which is "
                            f"not an earlier step (earlier: {', '.join(step_names) or 'none'})"
                        )
            step_names.extend(str(step.get("name")) for step in group_steps)
    for label, child in children:
        target = child.get("template")
        local_reference = not child.get("templateRef") and not child.get("inline")
        if target and local_reference and target not in templates:
            yield (
                f"{label} uses template '{target}', which is not defined "
                f"(defined: {_listing(templates)})"
            )
    yield from _input_problems(where, template)


def _input_problems(where: str, template: Mapping[str, Any]) -> Iterator[str]:
    inputs = template.get("inputs") or {}
    declared = {p.get("name") for p in inputs.get("parameters") or [] if isinstance(p, Mapping)}
    body = {key: value for key, value in template.items() if key not in ("inputs", "outputs")}
    for used in sorted(set(_INPUT_PARAMETER.findall(_text(body)))):
        if used not in declared:
            yield (
                f"{where} uses inputs.parameters.{used}, which it does not declare "
                f"(declared: {', '.join(sorted(map(str, declared))) or 'none'})"
            )


def _depends_names(task: Mapping[str, Any]) -> list[str]:
    names = [str(name) for name in task.get("dependencies") or []]
    depends = task.get("depends")
    if isinstance(depends, str):
        for token in _DEPENDS_TOKEN.findall(depends):
            names.append(token.split(".", 1)[0])
    return names


def _references(node: Mapping[str, Any], kind: str) -> set[str]:
    found = {name for k, name in _REFERENCE.findall(_text(node)) if k == kind}
    return found - _BUILT_IN_REFERENCES


def _text(value: Any) -> str:
    """Every string inside `value`, joined: where `{{...}}` expressions may hide."""
    if isinstance(value, str):
        return value + "\n"
    if isinstance(value, Mapping):
        return "".join(_text(item) for item in value.values())
    if isinstance(value, list):
        return "".join(_text(item) for item in value)
    return ""


def _listing(templates: Mapping[Any, Any]) -> str:
    return ", ".join(sorted(str(name) for name in templates)) or "none"
