"""The workflow as the local runner understands it, checked before anything runs.

`WorkflowModel` wraps the Argo manifest: its templates (with `templateDefaults` merged and
`templateRef`s resolved against the WorkflowTemplates given with it), its parameters (the
declared arguments overridden by the caller's), its name (`generateName` completed as Argo
does) and `validate()`, which walks every template the run can reach and refuses, with a
`ConfigurationError` naming the template and the feature, whatever cannot run here.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hera_utils.errors import ConfigurationError

from .expressions import (
    DependsExpression,
    ExpressionError,
    dependencies_as_depends,
    parse_depends,
)
from .loader import LoadedWorkflow
from .templating import expression_tags, tags_in

__all__ = ["RUNNABLE_KINDS", "TemplateScope", "WorkflowModel", "template_kind"]

RUNNABLE_KINDS = ("script", "container", "dag", "steps", "suspend")
_OTHER_KINDS = {
    "resource": "a resource template (it creates Kubernetes objects)",
    "http": "an HTTP template (executed by the Argo agent)",
    "plugin": "an executor plugin template",
    "containerSet": "a container set (several containers in one pod)",
    "data": "a data template (artifact transformations)",
}
_POD_KINDS = ("script", "container")
# Kubernetes' name generator alphabet: no vowels, no look-alike characters.
_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_HINT = "run it on the cluster instead (python main.py submit)"


def template_kind(template: Mapping[str, Any]) -> str | None:
    """The body kind of an Argo template (`script`, `dag`...), or None if it has none."""
    for kind in (*RUNNABLE_KINDS, *_OTHER_KINDS):
        if template.get(kind) is not None:
            return kind
    return None


@dataclass(frozen=True)
class TemplateScope:
    """The templates a name refers to: the workflow's own, or a WorkflowTemplate's."""

    label: str
    templates: Mapping[str, dict[str, Any]]


@dataclass
class DagPlan:
    """The static shape of a DAG template: dependencies, depends logic and target tasks."""

    tasks: dict[str, dict[str, Any]]
    depends: dict[str, DependsExpression | None]
    targets: list[str]

    def dependencies(self, name: str) -> list[str]:
        """The tasks `name` waits for."""
        expression = self.depends[name]
        return expression.tasks if expression is not None else []

    def ancestors(self, name: str) -> set[str]:
        """Every task `name` transitively depends on."""
        seen: set[str] = set()
        stack = list(self.dependencies(name))
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(self.dependencies(current))
        return seen

    def failure_handled(self, name: str) -> bool:
        """Whether some task's `depends` asks about `name` failing (so the failure is expected)."""
        return any(expression is not None and expression.names_failure_of(name)
                   for task, expression in self.depends.items() if task != name)


class WorkflowModel:
    """The manifest of one run: templates, parameters, name, and the checks of `validate()`."""

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
        return entry

    @property
    def on_exit(self) -> str | None:
        """The exit handler's template name (`onExit`, or the `exit` lifecycle hook)."""
        hooks = self.spec.get("hooks") or {}
        exit_hook = hooks.get("exit") or {}
        return self.spec.get("onExit") or exit_hook.get("template")

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
        plan = self._make_dag_plan(template)
        # Keep the template alive with its plan so that its id is never reused meanwhile.
        self._dag_plans[id(template)] = (template, plan)
        return plan

    # ------------------------------------------------------------------ validation

    def validate(self) -> None:
        """Refuse, before anything runs, every reachable feature the runner cannot honour.

        Raises one `ConfigurationError` listing every problem found.
        """
        problems: list[str] = []
        self._check_spec(problems)
        roots: list[tuple[dict[str, Any], str]] = [({"template": self.entrypoint}, "entrypoint")]
        if self.on_exit:
            roots.append(({"template": self.on_exit}, "onExit"))
        seen: set[int] = set()
        stack: list[tuple[Mapping[str, Any], TemplateScope, str]] = [
            (holder, self.scope, where) for holder, where in roots
        ]
        while stack:
            holder, scope, where = stack.pop()
            try:
                template, template_scope = self.resolve(holder, scope)
            except ConfigurationError as error:
                problems.append(f"{where}: {error.message}")
                continue
            if id(template) in seen:
                continue
            seen.add(id(template))
            for child, label in self._check_template(template, problems):
                stack.append((child, template_scope, label))
        if problems:
            listing = "\n  - ".join(dict.fromkeys(problems))
            raise ConfigurationError(
                f"this workflow cannot run locally:\n  - {listing}", hint=_HINT)

    def uses_kind(self, kind: str) -> bool:
        """Whether a template of this kind is reachable from the entrypoint or exit handler."""
        return any(template_kind(template) == kind for template in self._reachable())

    def _reachable(self) -> Iterable[dict[str, Any]]:
        roots = [{"template": self.entrypoint}] + ([{"template": self.on_exit}] if self.on_exit
                                                     else [])
        seen: set[int] = set()
        stack: list[tuple[Mapping[str, Any], TemplateScope]] = [(r, self.scope) for r in roots]
        while stack:
            holder, scope = stack.pop()
            try:
                template, template_scope = self.resolve(holder, scope)
            except ConfigurationError:
                continue
            if id(template) in seen:
                continue
            seen.add(id(template))
            yield template
            for child in _children(template):
                stack.append((child, template_scope))

    def _check_spec(self, problems: list[str]) -> None:
        hooks = {key for key in (self.spec.get("hooks") or {}) if key != "exit"}
        if hooks:
            problems.append(f"workflow lifecycle hooks {sorted(hooks)} are not supported "
                            "(only the exit hook is)")
        if (self.spec.get("arguments") or {}).get("artifacts"):
            problems.append("workflow arguments: artifacts are not supported locally")
        if self.spec.get("suspend"):
            self.notices.append("spec.suspend is ignored: the local run starts right away")
        if expression_tags(self.spec.get("arguments") or {}):
            problems.append("workflow arguments: expression tags ({{=...}}) are not supported")

    def _check_template(self, template: dict[str, Any], problems: list[str]
                        ) -> list[tuple[Mapping[str, Any], str]]:
        """Append the problems of one template; return the templates it refers to."""
        name = template.get("name", "<inline>")
        where = f"template '{name}'"
        kind = template_kind(template)
        if kind is None:
            problems.append(f"{where} has no body (script, container, dag, steps or suspend)")
            return []
        if kind in _OTHER_KINDS:
            problems.append(f"{where} is {_OTHER_KINDS[kind]}, which cannot run locally")
            return []
        for section in ("inputs", "outputs"):
            if (template.get(section) or {}).get("artifacts"):
                problems.append(f"{where} uses {section}.artifacts, which are not supported "
                                "locally (pass files through a mounted volume instead)")
        for field, feature in (("daemon", "daemon containers"), ("sidecars", "sidecars"),
                               ("initContainers", "init containers")):
            if template.get(field):
                problems.append(f"{where} uses {feature}, which are not supported locally")
        retry = template.get("retryStrategy") or {}
        if retry.get("expression"):
            problems.append(f"{where} uses retryStrategy.expression, which is not supported "
                            "locally (retryPolicy and limit are)")
        if expression_tags(template):
            problems.append(f"{where} uses expression tags ({{{{=...}}}}), which are not "
                            "supported locally (simple {{...}} tags are)")
        for parameter in (template.get("inputs") or {}).get("parameters") or []:
            if parameter.get("valueFrom"):
                problems.append(f"{where}: input parameter '{parameter.get('name')}' takes its "
                                "value from the cluster (valueFrom), not supported locally")
        if template.get("memoize"):
            self.notices.append(f"{where}: memoization is ignored locally (the task always runs)")
        if template.get("synchronization"):
            self.notices.append(f"{where}: synchronization is ignored locally (one run only)")
        if kind in _POD_KINDS:
            self._check_pod(template, where, problems)
        else:
            self._check_outputs_of_group(template, where, problems)
        if kind == "dag":
            return self._check_dag(template, where, problems)
        if kind == "steps":
            return self._check_steps(template, where, problems)
        return []

    def _check_pod(self, template: dict[str, Any], where: str, problems: list[str]) -> None:
        body = template[template_kind(template) or ""]
        if template_kind(template) == "script" and not body.get("command"):
            problems.append(f"{where}: a script needs a command (e.g. [python] or [bash])")
        for variable in body.get("env") or []:
            if variable.get("valueFrom") and variable.get("name") not in os.environ:
                source = next(iter(variable["valueFrom"]), "valueFrom")
                problems.append(
                    f"{where}: environment variable {variable.get('name')} comes from the "
                    f"cluster ({source}); set {variable.get('name')} in your environment to "
                    "run locally")
        if body.get("envFrom"):
            self.notices.append(f"{where}: envFrom (ConfigMap/Secret) is ignored locally; "
                                "tasks see this machine's environment")
        for parameter in (template.get("outputs") or {}).get("parameters") or []:
            source = parameter.get("valueFrom") or {}
            unsupported = sorted(set(source) - {"path", "default"})
            if unsupported:
                problems.append(f"{where}: output parameter '{parameter.get('name')}' uses "
                                f"valueFrom.{unsupported[0]}, not supported locally (path is)")
        for mount in body.get("volumeMounts") or []:
            path = mount.get("mountPath")
            if path and not os.path.isdir(path) and "{{" not in path:
                self.notices.append(f"{where}: volume mount path {path} does not exist on "
                                    "this machine")

    def _check_outputs_of_group(self, template: dict[str, Any], where: str,
                                problems: list[str]) -> None:
        for parameter in (template.get("outputs") or {}).get("parameters") or []:
            source = parameter.get("valueFrom") or {}
            unsupported = sorted(set(source) - {"parameter", "default", "supplied"})
            if unsupported:
                problems.append(f"{where}: output parameter '{parameter.get('name')}' uses "
                                f"valueFrom.{unsupported[0]}, not supported locally "
                                "(valueFrom.parameter is)")

    def _check_call(self, call: Mapping[str, Any], where: str, problems: list[str]) -> None:
        for field, feature in (("hooks", "lifecycle hooks"), ("onExit", "task exit handlers")):
            if call.get(field):
                problems.append(f"{where} uses {feature}, which are not supported locally")
        if (call.get("arguments") or {}).get("artifacts"):
            problems.append(f"{where} passes artifacts, which are not supported locally")
        loops = [key for key in ("withItems", "withParam", "withSequence") if key in call]
        if len(loops) > 1:
            problems.append(f"{where} has several loops ({', '.join(loops)}); Argo allows one")

    def _check_dag(self, template: dict[str, Any], where: str, problems: list[str]
                   ) -> list[tuple[Mapping[str, Any], str]]:
        children: list[tuple[Mapping[str, Any], str]] = []
        try:
            plan = self.dag_plan(template)
        except ConfigurationError as error:
            problems.append(f"{where}: {error.message}")
            return children
        for task_name, task in plan.tasks.items():
            label = f"{where}, task '{task_name}'"
            self._check_call(task, label, problems)
            ancestors = plan.ancestors(task_name)
            for tag in tags_in({k: v for k, v in task.items() if k != "inline"}):
                match = re.match(r"tasks\.([^.]+)\.", tag)
                if match and match.group(1) not in ancestors:
                    problems.append(f"{label} refers to {{{{{tag}}}}}, but '{match.group(1)}' "
                                    "is not among the tasks it depends on")
            children.append((task, label))
        return children

    def _check_steps(self, template: dict[str, Any], where: str, problems: list[str]
                     ) -> list[tuple[Mapping[str, Any], str]]:
        children: list[tuple[Mapping[str, Any], str]] = []
        earlier: set[str] = set()
        for group in template.get("steps") or []:
            names = [step.get("name", "") for step in group or []]
            for step in group or []:
                label = f"{where}, step '{step.get('name')}'"
                if not step.get("name"):
                    problems.append(f"{where} has a step without a name")
                    continue
                self._check_call(step, label, problems)
                for tag in tags_in({k: v for k, v in step.items() if k != "inline"}):
                    match = re.match(r"steps\.([^.]+)\.", tag)
                    if match and match.group(1) not in earlier:
                        problems.append(f"{label} refers to {{{{{tag}}}}}, but '{match.group(1)}'"
                                        " is not a step of an earlier group")
                children.append((step, label))
            earlier.update(names)
        return children

    def _make_dag_plan(self, template: Mapping[str, Any]) -> DagPlan:
        dag = template.get("dag") or {}
        tasks: dict[str, dict[str, Any]] = {}
        for task in dag.get("tasks") or []:
            name = task.get("name")
            if not name:
                raise ConfigurationError("a DAG task has no name")
            if name in tasks:
                raise ConfigurationError(f"two DAG tasks are named '{name}'")
            tasks[name] = task
        continue_on = {name: task.get("continueOn") or {} for name, task in tasks.items()}
        depends: dict[str, DependsExpression | None] = {}
        for name, task in tasks.items():
            if task.get("depends") and task.get("dependencies"):
                raise ConfigurationError(f"task '{name}' has both depends and dependencies")
            text = task.get("depends") or ""
            if task.get("dependencies"):
                text = dependencies_as_depends(task["dependencies"], continue_on)
            try:
                depends[name] = parse_depends(text) if text.strip() else None
            except ExpressionError as error:
                raise ConfigurationError(f"task '{name}': {error}") from None
            for dependency in depends[name].tasks if depends[name] else []:
                if dependency not in tasks:
                    raise ConfigurationError(f"task '{name}' depends on unknown task "
                                             f"'{dependency}'")
        plan = DagPlan(tasks=tasks, depends=depends, targets=[])
        _check_acyclic(plan)
        if dag.get("target"):
            targets = str(dag["target"]).split()
            for target in targets:
                if target not in tasks:
                    raise ConfigurationError(f"dag.target names unknown task '{target}'")
        else:
            # Argo's default targets: the tasks no other task depends on, sorted by name.
            depended = {dep for name in tasks for dep in plan.dependencies(name)}
            targets = sorted(name for name in tasks if name not in depended)
        plan.targets = targets
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
        declared = (self.spec.get("arguments") or {}).get("parameters") or []
        names = [parameter.get("name") for parameter in declared]
        unknown = sorted(set(overrides) - set(names))
        if unknown:
            raise ConfigurationError(
                f"unknown workflow parameter(s) {', '.join(unknown)}",
                hint=f"the workflow declares: {', '.join(names) or 'no parameters'}",
            )
        values: dict[str, str] = {}
        for parameter in declared:
            name = parameter["name"]
            if name in overrides:
                value: Any = overrides[name]
            elif "value" in parameter:
                value = parameter["value"]
            elif "default" in parameter:
                value = parameter["default"]
            else:
                source = "valueFrom" if parameter.get("valueFrom") else "no value"
                raise ConfigurationError(
                    f"workflow parameter '{name}' has {source}; give it a value to run locally",
                    hint=f"run_locally(..., parameters={{'{name}': ...}})",
                )
            text = _parameter_text(value)
            enum = parameter.get("enum")
            if enum and text not in [str(choice) for choice in enum]:
                raise ConfigurationError(
                    f"workflow parameter '{name}' is {text!r}, not one of {enum}")
            values[name] = text
        return values


def _parameter_text(value: Any) -> str:
    import json

    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value, separators=(",", ":"))


def _children(template: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if template.get("dag"):
        return list(template["dag"].get("tasks") or [])
    if template.get("steps"):
        return [step for group in template["steps"] or [] for step in group or []]
    return []


def _merge_defaults(template: dict[str, Any], defaults: Mapping[str, Any]) -> dict[str, Any]:
    # Argo merges templateDefaults under every template (the template's own values win).
    # Body fields of another kind (a container default on a DAG) are left out rather than
    # turning the template into something else.
    kind = template_kind(template)
    merged: dict[str, Any] = {}
    for key, value in defaults.items():
        if key in (*RUNNABLE_KINDS, *_OTHER_KINDS) and key != kind:
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


def _check_acyclic(plan: DagPlan) -> None:
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join([*path[path.index(name):], name])
            raise ConfigurationError(f"the DAG has a dependency cycle: {cycle}")
        state[name] = 1
        for dependency in plan.dependencies(name):
            visit(dependency, [*path, name])
        state[name] = 2

    for name in plan.tasks:
        visit(name, [])
