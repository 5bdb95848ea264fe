"""Variable scopes and output aggregation (the controller's `scope.go` and friends).

The workflow's global variables, each template's own (`inputs.*`, `node.name`, `pod.name`,
`retries`), the `tasks.*` / `steps.*` variables a DAG task or a step sees of the nodes that
ran before it, a loop's aggregated outputs, and a DAG or steps template's own outputs.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from .artifacts import LOCAL_SOURCE, group_output_artifacts
from .expr_syntax import ExprError
from .expr_tags import evaluate_value
from .model import WorkflowModel
from .nodes import SUCCEEDED, Node, NodeType, group_phase, timestamp
from .templating import UnresolvedTagError, substitute
from .values import format_value, json_text

__all__ = [
    "Lookup",
    "TaskVariables",
    "add_step_variables",
    "global_variables",
    "group_outputs",
    "make_lookup",
    "node_variables",
    "published_globals",
    "template_variables",
]

Lookup = Callable[[str], "str | None"]


def global_variables(model: WorkflowModel, name: str, created: datetime) -> dict[str, str]:
    """The `workflow.*` variables known when the run starts."""
    metadata, spec = model.metadata, model.spec
    values = {
        "workflow.name": name,
        "workflow.namespace": str(metadata.get("namespace") or "default"),
        "workflow.uid": str(uuid.uuid4()),
        "workflow.serviceAccountName": str(spec.get("serviceAccountName") or "default"),
        "workflow.mainEntrypoint": model.entrypoint,
        "workflow.priority": str(spec.get("priority", 0)),
        "workflow.creationTimestamp": timestamp(created),
        "workflow.creationTimestamp.RFC3339": timestamp(created),
    }
    values["workflow.parameters"] = json.dumps(model.parameter_list(), separators=(",", ":"))
    values["workflow.parameters.json"] = values["workflow.parameters"]
    for key, value in model.parameters.items():
        values[f"workflow.parameters.{key}"] = value
    for section in ("annotations", "labels"):
        entries = metadata.get(section) or {}
        values[f"workflow.{section}.json"] = json_text(entries)
        for key, value in entries.items():
            values[f"workflow.{section}.{key}"] = str(value)
    return values


def make_lookup(local: Mapping[str, str], global_scope: Mapping[str, str], created: datetime,
                started_clock: float) -> Lookup:
    """Tag -> value: `local`, then the globals, then the computed `workflow.*` variables."""
    def find(tag: str) -> str | None:
        value = local.get(tag)
        if value is None:
            value = global_scope.get(tag)
        if value is None and tag.startswith("workflow.creationTimestamp."):
            code = tag.rsplit(".", 1)[1]
            if len(code) == 1 and code.isalpha():
                value = created.strftime("%" + code)
        if value is None and tag == "workflow.duration":
            value = f"{time.monotonic() - started_clock:.3f}"
        return value

    return find


def template_variables(node: Node, template: Mapping[str, Any], inputs: dict[str, str],
                       attempt: int | None, pod_name: str) -> dict[str, str]:
    """The variables of a template's own body: its inputs, node and pod names, retries."""
    declared = (template.get("inputs") or {}).get("parameters") or []
    values: dict[str, str] = {f"inputs.parameters.{k}": v for k, v in inputs.items()}
    listing = []
    for parameter in declared:
        entry: dict[str, Any] = {"name": parameter["name"]}
        if "default" in parameter:
            entry["default"] = format_value(parameter["default"])
        entry["value"] = inputs.get(parameter["name"], "")
        for key in ("enum", "description"):
            if key in parameter:
                entry[key] = parameter[key]
        listing.append(entry)
    values["inputs.parameters"] = json.dumps(listing, separators=(",", ":"))
    values["node.name"] = node.name
    values["pod.name"] = pod_name
    if attempt is not None:
        values["retries"] = str(attempt)
    for parameter in (template.get("outputs") or {}).get("parameters") or []:
        path = (parameter.get("valueFrom") or {}).get("path")
        if path:
            values[f"outputs.parameters.{parameter['name']}.path"] = path
    for section in ("inputs", "outputs"):
        for artifact in (template.get(section) or {}).get("artifacts") or []:
            if artifact.get("path"):
                values[f"{section}.artifacts.{artifact['name']}.path"] = str(artifact["path"])
            if artifact.get(LOCAL_SOURCE):  # what a nested call's `from:` passes on
                values[f"inputs.artifacts.{artifact['name']}"] = str(artifact[LOCAL_SOURCE])
    return values


class TaskVariables:
    """The `tasks.<name>.*` variables of a DAG's finished tasks, each task's made once.

    A task's variables are made when first asked for: most tasks' are never read.
    """

    def __init__(self) -> None:
        self._nodes: dict[str, Node] = {}
        self._by_task: dict[str, dict[str, str]] = {}

    def add(self, name: str, node: Node) -> None:
        """Record a finished task."""
        self._nodes[name] = node

    def of(self, name: str) -> Mapping[str, str] | None:
        """The variables of finished task `name` (None if it has not finished)."""
        variables = self._by_task.get(name)
        if variables is None:
            node = self._nodes.get(name)
            if node is None:
                return None
            variables = {}
            _node_variables(variables, f"tasks.{name}", node,
                            node.children if node.type == NodeType.TASK_GROUP else None)
            self._by_task[name] = variables
        return variables

    def __contains__(self, name: str) -> bool:
        return name in self._nodes

    def names(self) -> Iterator[str]:
        """The finished tasks, in the order they finished."""
        return iter(self._nodes)

    def seen_by(self, visible: Callable[[str], bool]) -> Mapping[str, str]:
        """The variables of the finished tasks `visible` accepts, looked up when asked."""
        return _TaskView(self, visible)


class _TaskView(Mapping[str, str]):
    """A read-only view: a task's scope without copying its ancestors' variables."""

    def __init__(self, tasks: TaskVariables, visible: Callable[[str], bool]) -> None:
        self._tasks = tasks
        self._visible = visible

    def __getitem__(self, tag: str) -> str:
        if tag.startswith("tasks."):
            # A task name may hold dots: try each prefix of the tag that names a task.
            end = tag.find(".", 6)
            while end != -1:
                name = tag[6:end]
                variables = self._tasks.of(name) \
                    if name in self._tasks and self._visible(name) else None
                if variables is not None:
                    value = variables.get(tag)
                    if value is not None:
                        return value
                end = tag.find(".", end + 1)
        raise KeyError(tag)

    def __iter__(self) -> Iterator[str]:
        for name in self._tasks.names():
            if self._visible(name):
                yield from self._tasks.of(name) or {}

    def __len__(self) -> int:
        return sum(1 for _ in self)


def add_step_variables(variables: dict[str, str], name: str,
                       outcome: Node | list[Node]) -> None:
    """Add the `steps.<name>.*` variables of a finished step (a loop's nodes as a list)."""
    if isinstance(outcome, list):
        merged = Node(name=outcome[0].name.rsplit("(", 1)[0], display_name="",
                      type=NodeType.TASK_GROUP, phase=group_phase(outcome))
        _node_variables(variables, f"steps.{name}", merged, outcome)
    else:
        _node_variables(variables, f"steps.{name}", outcome, None)


def node_variables(prefix: str, node: Node) -> dict[str, str]:
    """The variables of one node under `prefix` (`tasks.A`, `steps.A`), as it is now."""
    variables: dict[str, str] = {}
    _node_variables(variables, prefix, node,
                    node.children if node.type == NodeType.TASK_GROUP else None)
    return variables


def _node_variables(variables: dict[str, str], prefix: str, node: Node,
                    items: list[Node] | None) -> None:
    variables[f"{prefix}.status"] = node.phase
    variables[f"{prefix}.id"] = node.name
    if node.pod_ip is not None:
        variables[f"{prefix}.ip"] = node.pod_ip
    if node.exit_code is not None:
        variables[f"{prefix}.exitCode"] = str(node.exit_code)
    if node.started_at is not None:
        variables[f"{prefix}.startedAt"] = timestamp(node.started_at)
    if node.finished_at is not None:
        variables[f"{prefix}.finishedAt"] = timestamp(node.finished_at)
    if items is None:
        if node.result is not None:
            variables[f"{prefix}.outputs.result"] = node.result
        for key, value in node.parameters.items():
            variables[f"{prefix}.outputs.parameters.{key}"] = value
        for key, value in node.artifacts.items():
            variables[f"{prefix}.outputs.artifacts.{key}"] = value
        return
    # A loop's outputs are JSON lists over its succeeded iterations, in item order
    # (the controller's processAggregateNodeOutputs).
    results: list[Any] = []
    maps: list[dict[str, str]] = []
    by_name: dict[str, list[Any]] = {}
    for child in items:
        if child.phase != SUCCEEDED:
            continue
        if child.result is not None:
            results.append(_json_or_text(child.result))
        if child.parameters:
            maps.append(dict(child.parameters))
            for key, value in child.parameters.items():
                by_name.setdefault(key, []).append(_json_or_text(value))
    variables[f"{prefix}.outputs.result"] = json.dumps(results, separators=(",", ":"))
    variables[f"{prefix}.outputs.parameters"] = json.dumps(maps, separators=(",", ":"))
    for key, values in by_name.items():
        variables[f"{prefix}.outputs.parameters.{key}"] = json.dumps(values, separators=(",", ":"))


def _json_or_text(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def group_outputs(node: Node, body: Mapping[str, Any], lookup: Lookup) -> str:
    """Set a DAG or steps template's outputs (valueFrom.parameter, artifacts' `from`); ''
    or the problem."""
    for parameter in (body.get("outputs") or {}).get("parameters") or []:
        source = parameter.get("valueFrom") or {}
        raw = source.get("parameter", parameter.get("value"))
        if raw is None and "expression" not in source:
            continue
        try:
            node.parameters[parameter["name"]] = (
                evaluate_value(str(source["expression"]), lookup) if "expression" in source
                else substitute(str(raw), lookup, strict=True))
        except (UnresolvedTagError, ExprError) as error:
            if "default" in source:
                node.parameters[parameter["name"]] = format_value(source["default"])
                continue
            return f"output parameter '{parameter['name']}': {error}"
    return group_output_artifacts(node, body, lookup)


def published_globals(outputs: Iterable[Mapping[str, Any]], node: Node) -> dict[str, str]:
    """The `workflow.outputs.parameters.*` a finished node publishes (`globalName`)."""
    published = {}
    for parameter in outputs:
        global_name = parameter.get("globalName")
        if global_name and parameter["name"] in node.parameters:
            published[f"workflow.outputs.parameters.{global_name}"] = \
                node.parameters[parameter["name"]]
    return published
