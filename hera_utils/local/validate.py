"""Validation: what a local run cannot honour is refused before anything runs.

`validate_workflow` walks every template the entrypoint and the exit handler can reach
(Argo's `workflow/validate`, for the features this runner supports) and raises one
`ConfigurationError` naming each template and feature; what is merely ignored locally
becomes a notice on the model.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from hera_utils.errors import ConfigurationError

from .artifacts import artifact_problems, template_artifact_problems
from .container_set_rules import container_set_problems, set_volume_mounts
from .expr_syntax import ExprError, parse
from .hooks import EXIT_HOOK, hook_templates, hooks_of
from .model import OTHER_KINDS, POD_KINDS, TemplateScope, WorkflowModel, template_kind
from .names import name_problems, shown_name
from .templating import expression_tags, tags_in
from .volumes import volume_problems

__all__ = ["uses_containers", "uses_kind", "validate_workflow"]

_HINT = "run it on the cluster instead (python main.py submit)"


def validate_workflow(model: WorkflowModel, artifacts: Iterable[str] = ()) -> None:
    """Refuse, before anything runs, every reachable feature the runner cannot honour.

    `artifacts` names the workflow arguments given as local files (`run_locally(artifacts=)`).
    """
    _Validator(model, set(artifacts)).validate()


def uses_kind(model: WorkflowModel, kind: str) -> bool:
    """Whether a template of this kind is reachable from the entrypoint or exit handler."""
    return any(template_kind(template) == kind for template in _Validator(model).reachable())


def uses_containers(model: WorkflowModel) -> bool:
    """Whether a reachable template runs a container: a container or container set
    template, or any pod template with init containers or sidecars."""
    return any(template_kind(template) in ("container", "containerSet")
               or template.get("initContainers") or template.get("sidecars")
               for template in _Validator(model).reachable())


class _Validator:
    """The checks of one workflow; problems are collected, notices go to the model."""

    def __init__(self, model: WorkflowModel, given_artifacts: set[str] | None = None) -> None:
        self.model = model
        self.notices = model.notices
        self.given_artifacts = given_artifacts or set()

    def _roots(self) -> list[tuple[dict[str, Any], str]]:
        roots: list[tuple[dict[str, Any], str]] = [
            ({"template": self.model.entrypoint}, "entrypoint")]
        if self.model.on_exit:
            roots.append(({"template": self.model.on_exit}, "onExit"))
        for name, hook in hooks_of(self.model.spec).items():
            if name != EXIT_HOOK:
                roots.append(({key: hook[key] for key in ("template", "templateRef")
                               if key in hook}, f"hooks.{name}"))
        return roots

    def validate(self) -> None:
        """Raise one `ConfigurationError` listing every problem found."""
        problems: list[str] = []
        self._check_spec(problems)
        seen: set[int] = set()
        stack: list[tuple[Mapping[str, Any], TemplateScope, str]] = [
            (holder, self.model.scope, where) for holder, where in self._roots()
        ]
        while stack:
            holder, scope, where = stack.pop()
            try:
                template, template_scope = self.model.resolve(holder, scope)
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

    def reachable(self) -> Iterable[dict[str, Any]]:
        """Every template the entrypoint or the exit handler can reach, once each."""
        seen: set[int] = set()
        stack: list[tuple[Mapping[str, Any], TemplateScope]] = [
            (holder, self.model.scope) for holder, _ in self._roots()]
        while stack:
            holder, scope = stack.pop()
            try:
                template, template_scope = self.model.resolve(holder, scope)
            except ConfigurationError:
                continue
            if id(template) in seen:
                continue
            seen.add(id(template))
            yield template
            for child in _children(template):
                stack.append((child, template_scope))

    def _check_spec(self, problems: list[str]) -> None:
        for artifact in (self.model.spec.get("arguments") or {}).get("artifacts") or []:
            if artifact.get("name") not in self.given_artifacts:
                problems.extend(artifact_problems(artifact, "workflow arguments",
                                                  role="argument"))
        spec = self.model.spec
        if spec.get("artifactRepositoryRef"):
            problems.append("spec.artifactRepositoryRef names an artifact repository of the "
                            "cluster; a local run keeps its artifacts under "
                            "runs/<workflow>/artifacts/ (remove it to run locally)")
        if spec.get("artifactGC"):
            problems.append("spec.artifactGC: a local run does not garbage-collect artifacts "
                            "(they stay under runs/<workflow>/artifacts/; remove artifactGC)")
        if spec.get("archiveLogs"):
            self.notices.append("archiveLogs is ignored: the logs are in the run directory")
        if spec.get("synchronization"):
            self.notices.append("spec.synchronization is ignored: a local run holds no lock "
                                "or semaphore (it is the only run)")
        if self.model.spec.get("suspend"):
            self.notices.append("spec.suspend is ignored: the local run starts right away")

    def _check_template(self, template: dict[str, Any], problems: list[str]
                        ) -> list[tuple[Mapping[str, Any], str]]:
        """Append the problems of one template; return the templates it refers to."""
        where = f"template {shown_name(template.get('name', '<inline>'))}"
        problems.extend(name_problems(template, where))
        kind = template_kind(template)
        if kind is None:
            problems.append(f"{where} has no body (script, container, dag, steps or suspend)")
            return []
        if kind in OTHER_KINDS:
            problems.append(f"{where} is {OTHER_KINDS[kind]}, which cannot run locally")
            return []
        problems.extend(template_artifact_problems(template, where, self.notices))
        problems.extend(_pod_container_problems(template, where))
        if template.get("daemon") and kind not in ("script", "container"):
            problems.append(f"{where}: only a script or container template can be a daemon")
        problems.extend(_expression_problems(template, where))
        for parameter in (template.get("inputs") or {}).get("parameters") or []:
            if parameter.get("valueFrom"):
                problems.append(f"{where}: input parameter '{parameter.get('name')}' takes its "
                                "value from the cluster (valueFrom), not supported locally")
        if template.get("memoize"):
            self.notices.append(f"{where}: memoization is ignored locally (the task always runs)")
        if template.get("synchronization"):
            self.notices.append(f"{where}: synchronization is ignored locally (one run only)")
        if kind in POD_KINDS:
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
        containers = [body]
        if template_kind(template) == "containerSet":
            problems.extend(container_set_problems(template, where))
            containers = [c for c in body.get("containers") or [] if isinstance(c, dict)]
        for variable in [v for c in containers for v in c.get("env") or []]:
            if variable.get("valueFrom") and variable.get("name") not in os.environ:
                source = next(iter(variable["valueFrom"]), "valueFrom")
                problems.append(
                    f"{where}: environment variable {variable.get('name')} comes from the "
                    f"cluster ({source}); set {variable.get('name')} in your environment to "
                    "run locally")
        if any(c.get("envFrom") for c in containers):
            self.notices.append(f"{where}: envFrom (ConfigMap/Secret) is ignored locally; "
                                "tasks see this machine's environment")
        for parameter in (template.get("outputs") or {}).get("parameters") or []:
            source = parameter.get("valueFrom") or {}
            unsupported = sorted(set(source) - {"path", "default"})
            if unsupported:
                problems.append(f"{where}: output parameter '{parameter.get('name')}' uses "
                                f"valueFrom.{unsupported[0]}, not supported locally (path is)")
        if template_kind(template) == "containerSet":  # its volumes, as a container's
            template = {**template, "container": {"volumeMounts": set_volume_mounts(template)}}
        problems.extend(volume_problems(template, self.model.spec, where))

    def _check_outputs_of_group(self, template: dict[str, Any], where: str,
                                problems: list[str]) -> None:
        for parameter in (template.get("outputs") or {}).get("parameters") or []:
            source = parameter.get("valueFrom") or {}
            unsupported = sorted(set(source) - {"parameter", "default", "supplied",
                                                "expression"})
            if unsupported:
                problems.append(f"{where}: output parameter '{parameter.get('name')}' uses "
                                f"valueFrom.{unsupported[0]}, not supported locally "
                                "(valueFrom.parameter is)")

    def _check_call(self, call: Mapping[str, Any], where: str, problems: list[str]) -> None:
        for holder, label in [(call, where), *((hook, f"{where}, hook '{name}'")
                                               for name, hook in hooks_of(call).items())]:
            for artifact in (holder.get("arguments") or {}).get("artifacts") or []:
                problems.extend(artifact_problems(artifact, label, role="argument"))
        loops = [key for key in ("withItems", "withParam", "withSequence") if key in call]
        if len(loops) > 1:
            problems.append(f"{where} has several loops ({', '.join(loops)}); Argo allows one")

    def _check_dag(self, template: dict[str, Any], where: str, problems: list[str]
                   ) -> list[tuple[Mapping[str, Any], str]]:
        children: list[tuple[Mapping[str, Any], str]] = []
        try:
            plan = self.model.dag_plan(template)
        except ConfigurationError as error:
            problems.append(f"{where}: {error.message}")
            return children
        for task_name, task in plan.tasks.items():
            label = f"{where}, task '{task_name}'"
            self._check_call(task, label, problems)
            _check_references(task, label, "tasks",
                              functools.partial(plan.is_ancestor, name=task_name),
                              "is not among the tasks it depends on", problems)
            children.append((task, label))
            children.extend((hook, f"{label}, hook") for hook in hook_templates(task))
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
                _check_references(step, label, "steps", earlier.__contains__,
                                  "is not a step of an earlier group", problems)
                children.append((step, label))
                children.extend((hook, f"{label}, hook") for hook in hook_templates(step))
            earlier.update(names)
        return children


def _check_references(call: Mapping[str, Any], label: str, prefix: str,
                      known: Callable[[str], bool], reason: str, problems: list[str]) -> None:
    """A `{{tasks.x...}}` or `{{steps.x...}}` tag must name a node that ran before the call."""
    pattern = re.compile(re.escape(prefix) + r"\.([^.]+)\.")
    # A hook may also name the call it hooks into (its exit hook sees the call's outputs).
    own = call.get("name")
    for tag, allowed in [
            *((tag, known) for tag in tags_in({k: v for k, v in call.items()
                                               if k not in ("inline", "hooks")})),
            *((tag, lambda name: name == own or known(name))
              for tag in tags_in(call.get("hooks") or {}))]:
        match = pattern.match(tag)
        if match and not allowed(match.group(1)):
            problems.append(f"{label} refers to {{{{{tag}}}}}, but '{match.group(1)}' {reason}")


def _children(template: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    if template.get("dag"):
        calls = list(template["dag"].get("tasks") or [])
    elif template.get("steps"):
        calls = [step for group in template["steps"] or [] for step in group or []]
    else:
        return []
    return [*calls, *(hook for call in calls for hook in hook_templates(call))]


def _pod_container_problems(template: Mapping[str, Any], where: str) -> list[str]:
    """Init containers and sidecars need a name and an image, each name its own."""
    problems, seen = [], set()
    for field in ("initContainers", "sidecars"):
        entries = template.get(field) or []
        if entries and template_kind(template) not in ("container", "script"):
            problems.append(f"{where}: {field} of a {template_kind(template)} template are not "
                            "supported locally (only a container's or a script's)")
            continue
        for index, container in enumerate(entries if isinstance(entries, list) else [None]):
            if not isinstance(container, dict) or not container.get("name"):
                problems.append(f"{where}: {field}[{index}] needs a name")
                continue
            name = str(container["name"])
            if name in seen or name == "main":
                problems.append(f"{where}: {field}[{index}]: the name {name!r} is already "
                                "taken in the pod (each container needs its own)")
            seen.add(name)
            if not container.get("image"):
                problems.append(f"{where}: {field}[{index}] ({name}) needs an image")
    return problems


def _expression_problems(template: Mapping[str, Any], where: str) -> list[str]:
    """The `{{=...}}` tags of `template` that do not parse (Argo fails them as it runs)."""
    problems = []
    for tag in expression_tags(template):
        try:
            parse(tag[1:])
        except ExprError as error:
            problems.append(f"{where}: expression tag {{{{{tag}}}}} does not parse: {error}")
    expression = (template.get("retryStrategy") or {}).get("expression")
    if isinstance(expression, str) and "{{" not in expression:
        try:
            parse(expression)
        except ExprError as error:
            problems.append(f"{where}: retryStrategy.expression {expression!r} does not "
                            f"parse: {error}")
    return problems
