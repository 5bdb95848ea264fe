"""The workflow as the local runner understands it, checked before anything runs.

`WorkflowModel` wraps the Argo manifest: its templates (with `templateDefaults` merged and
`templateRef`s resolved against the WorkflowTemplates given with it), its parameters (the
declared arguments overridden by the caller's), its name (`generateName` completed as Argo
does) and the plan of each DAG template (`dag_plan`). `validate` checks it before a run.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hera_utils.errors import ConfigurationError

from .dag_plan import DagPlan, build_dag_plan
from .loader import LoadedWorkflow
from .parameters import ParameterProblem, resolve_parameters
from .values import format_value

__all__ = ["OTHER_KINDS", "POD_KINDS", "RUNNABLE_KINDS", "TemplateScope", "WorkflowModel",
           "template_kind"]

RUNNABLE_KINDS = ("script", "container", "containerSet", "dag", "steps", "suspend")
OTHER_KINDS = {
    "resource": "a resource template (it creates Kubernetes objects)",
    "http": "an HTTP template (executed by the Argo agent)",
    "plugin": "an executor plugin template",
    "data": "a data template (artifact transformations)",
}
POD_KINDS = ("script", "container", "containerSet")  # the kinds that run a pod on Argo
# Kubernetes' name generator alphabet: no vowels, no look-alike characters.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def template_kind(template: Mapping[str, Any]) -> str | None:
    """The body kind of an Argo template (`script`, `dag`...), or None if it has none."""
    for kind in (*RUNNABLE_KINDS, *OTHER_KINDS):
        if template.get(kind) is not None:
            return kind
    return None


@dataclass(frozen=True)
class TemplateScope:
    """The templates a name refers to: the workflow's own, or a WorkflowTemplate's."""

    label: str
    templates: Mapping[str, dict[str, Any]]


class WorkflowModel:
    """The manifest of one run: templates, parameters, name and DAG plans."""

    def __init__(self, loaded: LoadedWorkflow, parameters: Mapping[str, Any] | None = None
                 ) -> None:
        self.loaded = loaded
        self.manifest = loaded.manifest
        self.metadata: dict[str, Any] = dict(self.manifest.get("metadata") or {})
        self.spec: dict[str, Any] = self._effective_spec()
        self.notices: list[str] = []
        defaults = self.spec.get("templateDefaults") or {}
        self.scope = TemplateScope("workflow", self._templates(self.spec, defaults))
        self._library_scopes: dict[str, TemplateScope] = {}
        self.parameters = self._parameters(parameters or {})
        self._dag_plans: dict[int, tuple[Mapping[str, Any], DagPlan]] = {}

    # ------------------------------------------------------------------ basics

    @property
    def entrypoint(self) -> str:
        """The name of the template the run starts with."""
        entry = self.spec.get("entrypoint")
        if not entry:
            raise ConfigurationError("the workflow has no spec.entrypoint")
        return str(entry)

    @property
    def on_exit(self) -> str | None:
        """The exit handler's template name (`onExit`, or the `exit` lifecycle hook)."""
        hooks = self.spec.get("hooks") or {}
        exit_hook = hooks.get("exit") or {}
        return self.spec.get("onExit") or exit_hook.get("template")

    @property
    def exit_arguments(self) -> list[dict[str, Any]]:
        """The `arguments.parameters` of the `exit` lifecycle hook (the exit handler's)."""
        hooks = self.spec.get("hooks") or {}
        exit_hook = hooks.get("exit") or {}
        parameters = (exit_hook.get("arguments") or {}).get("parameters") or []
        return [p for p in parameters if isinstance(p, dict) and p.get("name")]

    def output_defaults(self, template_name: str) -> dict[str, str]:
        """The `valueFrom.default` of each output parameter of a workflow template."""
        template = self.scope.templates.get(template_name)
        parameters = ((template or {}).get("outputs") or {}).get("parameters") or []
        return {str(p["name"]): format_value(p["valueFrom"]["default"]) for p in parameters
                if isinstance(p, dict) and p.get("name") and isinstance(p.get("valueFrom"), dict)
                and "default" in p["valueFrom"]}

    def generate_name(self, rng: random.Random | None = None) -> str:
        """`metadata.name`, or `generateName` plus five random characters (as Argo does)."""
        name = self.metadata.get("name")
        if name:
            return str(name)
        prefix = self.metadata.get("generateName") or "local-"
        chooser = rng or random.SystemRandom()
        return prefix + "".join(chooser.choice(_NAME_ALPHABET) for _ in range(5))

    def parameter_list(self) -> list[dict[str, str]]:
        """The workflow parameters as Argo's JSON list of `{name, value}`."""
        return [{"name": key, "value": value} for key, value in self.parameters.items()]

    # ------------------------------------------------------------------ templates

    def resolve(self, holder: Mapping[str, Any], scope: TemplateScope
                ) -> tuple[dict[str, Any], TemplateScope]:
        """The template a task, step or hook refers to, and the scope its own names use."""
        if holder.get("inline"):
            return holder["inline"], scope
        ref = holder.get("templateRef")
        if ref:
            library_scope = self._library_scope(ref.get("name", ""))
            template = library_scope.templates.get(ref.get("template", ""))
            if template is None:
                raise ConfigurationError(
                    f"templateRef {ref.get('name')}/{ref.get('template')}: the WorkflowTemplate "
                    f"has no template named {ref.get('template')!r}"
                )
            return template, library_scope
        name = holder.get("template")
        template = scope.templates.get(name or "")
        if template is None:
            raise ConfigurationError(
                f"template {name!r} is not defined in {scope.label}",
                hint="check the template names of the workflow's tasks and steps",
            )
        return template, scope

    def dag_plan(self, template: Mapping[str, Any]) -> DagPlan:
        """The dependencies and targets of a DAG template (computed once per template)."""
        cached = self._dag_plans.get(id(template))
        if cached is not None and cached[0] is template:
            return cached[1]
        plan = build_dag_plan(template)
        # Keep the template alive with its plan so that its id is never reused meanwhile.
        self._dag_plans[id(template)] = (template, plan)
        return plan

    # ------------------------------------------------------------------ construction

    def _effective_spec(self) -> dict[str, Any]:
        spec = dict(self.manifest.get("spec") or {})
        ref = spec.get("workflowTemplateRef")
        if not ref:
            return spec
        base = self.loaded.library.get(ref.get("name", ""))
        if base is None:
            raise ConfigurationError(
                f"the workflow refers to WorkflowTemplate {ref.get('name')!r}, which was not "
                "given with it",
                hint="pass the WorkflowTemplate too (a multi-document YAML file, or templates=)",
            )
        merged = dict(base.get("spec") or {})
        merged.update({key: value for key, value in spec.items() if key != "workflowTemplateRef"})
        base_args = {p["name"]: p for p in (base.get("spec") or {}).get("arguments", {})
                     .get("parameters", [])}
        for parameter in (spec.get("arguments") or {}).get("parameters") or []:
            base_args[parameter["name"]] = parameter
        merged["arguments"] = {"parameters": list(base_args.values())}
        return merged

    def _templates(self, spec: Mapping[str, Any], defaults: Mapping[str, Any]
                   ) -> dict[str, dict[str, Any]]:
        templates: dict[str, dict[str, Any]] = {}
        for template in spec.get("templates") or []:
            merged = _merge_defaults(template, defaults) if defaults else template
            templates[template.get("name", "")] = merged
        return templates

    def _library_scope(self, name: str) -> TemplateScope:
        scope = self._library_scopes.get(name)
        if scope is None:
            document = self.loaded.library.get(name)
            if document is None:
                raise ConfigurationError(
                    f"templateRef names WorkflowTemplate {name!r}, which was not given with "
                    "the workflow",
                    hint="pass the WorkflowTemplate too (a multi-document YAML file)",
                )
            spec = document.get("spec") or {}
            defaults = self.spec.get("templateDefaults") or {}
            scope = TemplateScope(f"WorkflowTemplate {name}", self._templates(spec, defaults))
            self._library_scopes[name] = scope
        return scope

    def _parameters(self, overrides: Mapping[str, Any]) -> dict[str, str]:
        declared = list((self.spec.get("arguments") or {}).get("parameters") or [])
        names = {parameter.get("name") for parameter in declared}
        # As `argo submit -p NAME=VALUE` does, a parameter the workflow does not declare
        # is added to its arguments (the CLI appends it), not refused.
        declared += [{"name": str(name)} for name in overrides if name not in names]
        try:
            return resolve_parameters(declared, overrides)
        except ParameterProblem as problem:
            name = problem.name
            if problem.missing:
                source = "valueFrom" if problem.parameter.get("valueFrom") else "no value"
                raise ConfigurationError(
                    f"workflow parameter '{name}' has {source}; give it a value to run locally",
                    hint=f"run_locally(..., parameters={{'{name}': ...}})",
                ) from None
            raise ConfigurationError(f"workflow parameter '{name}' is {problem.value!r}, "
                                     f"not one of {problem.parameter.get('enum')}") from None


def _merge_defaults(template: dict[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    # Argo merges templateDefaults under every template (the template's own values win).
    # Body fields of another kind (a container default on a DAG) are left out rather than
    # turning the template into something else.
    kind = template_kind(template)
    merged: dict[str, Any] = {}
    for key, value in defaults.items():
        if key in (*RUNNABLE_KINDS, *OTHER_KINDS) and key != kind:
            continue
        merged[key] = value
    return _deep_merge(merged, template)


def _deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = _deep_merge(result[key], value)
        else:
            result[key] = value
    return result
