"""Validation of submitted Workflows and WorkflowTemplates, as the Argo Server does it.

Two layers, like the real server: the object must decode as the Argo types (checked
against the Argo JSON schema shipped in `data/`), then pass Argo's own semantic checks
(name length, an entrypoint that names a template, one type per template, references
between templates and tasks). Each check returns the message the server would answer,
or None when the object is valid.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

from hera_utils.testing._objects import invalid_name_reason

SCHEMA_FILE = "argo-workflows-v4.1.2.schema.json"
WORKFLOW_DEFINITION = "io.argoproj.workflow.v1alpha1.Workflow"
WORKFLOW_TEMPLATE_DEFINITION = "io.argoproj.workflow.v1alpha1.WorkflowTemplate"
MAX_WORKFLOW_NAME = 63  # Argo's limit: the name becomes a label value
TEMPLATE_TYPES = (
    "container",
    "containerSet",
    "steps",
    "script",
    "resource",
    "dag",
    "suspend",
    "data",
    "http",
    "plugin",
)

# A template by name, from the workflow templates stored in a namespace (or None).
TemplateLookup = Callable[[str], "Mapping[str, Any] | None"]


def workflow_problem(workflow: Mapping[str, Any], lookup_template: TemplateLookup) -> str | None:
    """Why the Argo Server would refuse `workflow`, or None if it would accept it."""
    problem = _schema_problem(workflow, WORKFLOW_DEFINITION, "Workflow")
    if problem:
        return problem
    metadata = workflow.get("metadata") or {}
    problem = _name_problem(metadata, "Workflow", "workflow")
    if problem:
        return problem
    spec = workflow.get("spec") or {}
    templates = list(spec.get("templates") or [])
    entrypoint = spec.get("entrypoint") or ""
    reference = spec.get("workflowTemplateRef")
    if reference:
        if templates:
            return (
                "Templates is invalid field in spec if workflow referred WorkflowTemplate reference"
            )
        if not reference.get("clusterScope"):
            referenced = lookup_template(reference.get("name", ""))
            if referenced is None:
                return f'workflowtemplates.argoproj.io "{reference.get("name", "")}" not found'
            referenced_spec = referenced.get("spec") or {}
            templates = list(referenced_spec.get("templates") or [])
            entrypoint = entrypoint or referenced_spec.get("entrypoint") or ""
        else:
            return None  # cluster-scoped templates are not emulated: trust the reference
    if not entrypoint:
        return "spec.entrypoint is required"
    return _templates_problem(templates, entrypoint)


def workflow_template_problem(template: Mapping[str, Any]) -> str | None:
    """Why the Argo Server would refuse WorkflowTemplate `template`, or None."""
    problem = _schema_problem(template, WORKFLOW_TEMPLATE_DEFINITION, "WorkflowTemplate")
    if problem:
        return problem
    problem = _name_problem(template.get("metadata") or {}, "WorkflowTemplate", "workflow template")
    if problem:
        return problem
    spec = template.get("spec") or {}
    return _templates_problem(list(spec.get("templates") or []), spec.get("entrypoint") or "")


def entrypoint_template(
    workflow: Mapping[str, Any], lookup_template: TemplateLookup
) -> tuple[Mapping[str, Any] | None, dict[str, Mapping[str, Any]]]:
    """The entrypoint template of a (valid) workflow and all its templates by name."""
    spec = workflow.get("spec") or {}
    templates = list(spec.get("templates") or [])
    entrypoint = spec.get("entrypoint") or ""
    reference = spec.get("workflowTemplateRef")
    if reference and not reference.get("clusterScope"):
        referenced = lookup_template(reference.get("name", "")) or {}
        referenced_spec = referenced.get("spec") or {}
        templates = list(referenced_spec.get("templates") or [])
        entrypoint = entrypoint or referenced_spec.get("entrypoint") or ""
    by_name = {template.get("name", ""): template for template in templates}
    return by_name.get(entrypoint), by_name


# -- helpers ---------------------------------------------------------------------------


def _schema_problem(document: Mapping[str, Any], definition: str, kind: str) -> str | None:
    import jsonschema  # lazily: only validating submissions needs it

    validator = _validator(definition)
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is None:
        return None
    location = "".join(
        f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path
    )
    return f"{kind}{location}: {error.message}"


def _name_problem(metadata: Mapping[str, Any], kind: str, label: str) -> str | None:
    name = metadata.get("name") or ""
    if not name and not metadata.get("generateName"):
        return (
            f'{kind}.argoproj.io "" is invalid: metadata.name: Required value: '
            "name or generateName is required"
        )
    if not name:
        # The server appends 5 characters to the prefix: check a name it could generate.
        prefix = metadata["generateName"]
        reason = invalid_name_reason(prefix[:58] + "abcde")
        if reason:
            return (
                f'{kind}.argoproj.io "" is invalid: metadata.generateName: Invalid value: '
                f'"{prefix}": {reason}'
            )
        return None
    reason = invalid_name_reason(name)
    if reason:
        return (
            f'{kind}.argoproj.io "{name}" is invalid: metadata.name: Invalid value: '
            f'"{name}": {reason}'
        )
    if len(name) > MAX_WORKFLOW_NAME:
        return (
            f'{label} name "{name}" must not be more than {MAX_WORKFLOW_NAME} characters long '
            f"(currently {len(name)})"
        )
    return None


def _templates_problem(templates: list[Mapping[str, Any]], entrypoint: str) -> str | None:
    names: dict[str, Mapping[str, Any]] = {}
    for index, template in enumerate(templates):
        name = template.get("name", "")
        if name in names:
            return f"spec.templates[{index}].name '{name}' is not unique"
        names[name] = template
    if entrypoint and entrypoint not in names:
        return f"spec.entrypoint template '{entrypoint}' undefined"
    for name, template in names.items():
        problem = _template_problem(template, names)
        if problem:
            return f"templates.{name} {problem}"
    return None


def _template_problem(
    template: Mapping[str, Any], templates: Mapping[str, Mapping[str, Any]]
) -> str | None:
    kinds = [kind for kind in TEMPLATE_TYPES if template.get(kind) is not None]
    if not kinds:
        return "template type unspecified. choose one of: " + ", ".join(TEMPLATE_TYPES)
    if len(kinds) > 1:
        return f"multiple template types specified: {', '.join(kinds)}"
    if "dag" in kinds:
        return _dag_problem(template["dag"], templates)
    if "steps" in kinds:
        for group_index, group in enumerate(template["steps"]):
            for step in group or []:
                problem = _reference_problem(step, templates)
                if problem:
                    return f"steps[{group_index}].{step.get('name', '')} {problem}"
    return None


def _dag_problem(dag: Mapping[str, Any], templates: Mapping[str, Mapping[str, Any]]) -> str | None:
    tasks = list(dag.get("tasks") or [])
    task_names = {task.get("name", "") for task in tasks}
    for task in tasks:
        problem = _reference_problem(task, templates)
        if problem:
            return f"tasks.{task.get('name', '')} {problem}"
        for dependency in task_dependencies(task):
            if dependency not in task_names:
                return f"tasks.{task.get('name', '')} dependency '{dependency}' not defined"
    return None


def _reference_problem(
    holder: Mapping[str, Any], templates: Mapping[str, Mapping[str, Any]]
) -> str | None:
    if holder.get("templateRef") or holder.get("inline"):
        return None  # resolved elsewhere (other WorkflowTemplates) or inline
    reference = holder.get("template") or ""
    if not reference:
        return "template name is required"
    if reference not in templates:
        return f"template '{reference}' undefined"
    return None


_DEPENDS_TASK = re.compile(r"[A-Za-z0-9][-A-Za-z0-9_]*")
_DEPENDS_RESULTS = {
    "Succeeded",
    "Failed",
    "Errored",
    "Skipped",
    "Omitted",
    "Daemoned",
    "AnySucceeded",
    "AllFailed",
}


def task_dependencies(task: Mapping[str, Any]) -> list[str]:
    """The task names a DAG task waits for (`dependencies` list or `depends` expression)."""
    names = list(task.get("dependencies") or [])
    for word in _DEPENDS_TASK.findall(task.get("depends") or ""):
        if word not in _DEPENDS_RESULTS and word not in names:
            names.append(word)
    return names


@functools.cache
def _validator(definition: str) -> Any:
    import jsonschema

    root = _argo_schema()
    schema = {"$ref": f"#/definitions/{definition}", "definitions": root["definitions"]}
    return jsonschema.Draft202012Validator(schema)


@functools.lru_cache(maxsize=1)
def _argo_schema() -> dict[str, Any]:
    text = resources.files("hera_utils.testing").joinpath("data").joinpath(SCHEMA_FILE).read_text()
    schema: dict[str, Any] = json.loads(text)
    definitions = schema["definitions"]
    # The published schema types these as plain strings, but the Kubernetes decoders
    # (and so the Argo Server) take numbers too: `limit: 3`, `cpu: 1`.
    for name in (
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
        "io.k8s.apimachinery.pkg.api.resource.Quantity",
    ):
        description = definitions[name].get("description", "")
        definitions[name] = {"description": description, "type": ["string", "number"]}
    return schema
