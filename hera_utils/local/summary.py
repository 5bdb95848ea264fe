"""The record of a local run: `runs/<workflow>/summary.json` and the `LocalRunResult`.

One entry per task as Argo's UI would list it: pods (script and container tasks), nested
DAG and steps nodes, suspend nodes, and tasks that did not run (Skipped by `when`, Omitted
by `depends`, Error before starting). A retried task is one entry with its attempts
counted. Step groups, task groups and the workflow's own root node are structure, not
tasks, and are left out.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ..redaction import scrub_json
from .nodes import GROUP_TYPES, SUCCEEDED, Node, NodeType, timestamp

__all__ = ["LocalRunResult", "TaskResult", "task_entries", "write_summary"]


@dataclass(frozen=True)
class TaskResult:
    """One task of a local run, as written to summary.json."""

    name: str
    phase: str
    exit_code: int | None
    outputs: dict[str, Any]
    log: Path | None
    message: str
    template: str | None
    attempts: int
    node: str
    type: str
    started_at: str | None = None
    finished_at: str | None = None
    stubbed: bool = False
    logs: tuple[Path, ...] = ()
    inputs: dict[str, str] = field(default_factory=dict)
    reused: bool = False

    @property
    def result(self) -> str | None:
        """`outputs.result` (a script's stdout), if the task has one."""
        return self.outputs.get("result")

    @property
    def parameters(self) -> dict[str, str]:
        """The task's output parameters."""
        parameters: dict[str, str] = self.outputs.get("parameters", {})
        return parameters

    @property
    def artifacts(self) -> dict[str, Path]:
        """The task's output artifacts: name -> the stored file or directory."""
        return {entry["name"]: Path(entry["path"]) for entry in self.outputs.get("artifacts", [])}


@dataclass(frozen=True)
class LocalRunResult:
    """How a local run ended; `succeeded` is False for any phase other than Succeeded."""

    name: str
    phase: str
    succeeded: bool
    tasks: list[TaskResult]
    run_dir: Path
    summary_path: Path
    message: str = ""
    interrupted: bool = field(default=False, compare=False)

    def task(self, name: str) -> TaskResult:
        """The task with this display name (e.g. `collect(0:paris)`); KeyError if none."""
        for task in self.tasks:
            if task.name == name:
                return task
        raise KeyError(f"no task named {name!r} in run {self.name} "
                       f"(tasks: {', '.join(t.name for t in self.tasks)})")

    def phases(self) -> dict[str, str]:
        """Display name -> phase of every task (later entries win on duplicate names)."""
        return {task.name: task.phase for task in self.tasks}


def _is_group(node: Node) -> bool:
    kinds = [attempt.type for attempt in node.attempts] or [node.type]
    return kinds[-1] in (NodeType.DAG, NodeType.STEPS)


def _time(value: datetime | None) -> str | None:
    return None if value is None else timestamp(value, milliseconds=True)


def task_entries(nodes: list[Node], root: Node | None, run_dir: Path) -> list[TaskResult]:
    """The summary's task entries for the run's nodes, in the order they were created."""
    entries = []
    for node in nodes:
        if node.type in GROUP_TYPES or node.attempt_of is not None:
            continue
        if node is root and _is_group(node):
            continue  # a DAG or steps entrypoint is the run itself, not a task
        attempts = node.attempts
        last = attempts[-1] if attempts else node
        logs = tuple(path for attempt in attempts for path in attempt.logs) or tuple(node.logs)
        outputs: dict[str, Any] = {} if node.result is None else {"result": node.result}
        outputs["parameters"] = dict(node.parameters)
        if node.artifacts:  # each output artifact's stored copy
            outputs["artifacts"] = [{"name": name, "path": path}
                                    for name, path in node.artifacts.items()]
        entries.append(TaskResult(
            name=node.display_name,
            phase=node.phase,
            exit_code=node.exit_code if node.exit_code is not None else last.exit_code,
            outputs=outputs,
            log=logs[-1] if logs else None,
            message=node.message,
            template=node.template_name,
            attempts=len(attempts),
            node=node.name,
            type=last.type if node.type == NodeType.RETRY else node.type,
            started_at=_time(node.started_at),
            finished_at=_time(node.finished_at),
            stubbed=last.stubbed,
            logs=logs,
            inputs=dict(node.inputs),
            reused=last.reused,
        ))
    return entries


def write_summary(path: Path, *, workflow: str, phase: str, started_at: datetime,
                  finished_at: datetime, message: str, tasks: list[TaskResult],
                  extra: dict[str, Any] | None = None) -> None:
    """Write summary.json atomically (a reader never sees half a file)."""
    document: dict[str, Any] = {
        "workflow": workflow,
        "phase": phase,
        "succeeded": phase == SUCCEEDED,
        "started_at": _time(started_at),
        "finished_at": _time(finished_at),
    }
    if message:
        document["message"] = message
    document.update(extra or {})
    # Outputs and messages may quote a secret (a token a task printed): never on disk.
    # A task's entry holds JSON values only (see `_entry`): it is scrubbed as it is.
    document = _scrubbed(document)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as stream:
        head = json.dumps(document, indent=2, ensure_ascii=False)  # never empty
        stream.write(head[:-2] + ',\n  "tasks": [')
        # One line a task, written as it is made: the text of a run of many tasks is
        # never held whole in memory, and without `indent` json's C encoder writes it.
        for index, task in enumerate(tasks):
            entry = json.dumps(scrub_json(_entry(task, path.parent)), ensure_ascii=False,
                               default=str)
            stream.write(("\n    " if index == 0 else ",\n    ") + entry)
        stream.write("\n  ]\n}\n" if tasks else "]\n}\n")
    os.replace(temporary, path)


def _scrubbed(value: dict[str, Any]) -> Any:
    """`value` as plain JSON data (dates as text), every string scrubbed of secrets."""
    return scrub_json(json.loads(json.dumps(value, default=str)))


def _entry(task: TaskResult, run_dir: Path) -> dict[str, Any]:
    """The task's summary entry: strings, numbers, booleans, None, lists and dicts only."""
    outputs = task.outputs
    if "artifacts" in outputs:  # in summary.json, relative to the run directory
        outputs = {**outputs, "artifacts": [
            {**entry, "path": _relative(Path(entry["path"]), run_dir)}
            for entry in outputs["artifacts"]]}
    entry: dict[str, Any] = {
        "name": task.name,
        "phase": task.phase,
        "exit_code": task.exit_code,
        "outputs": outputs,
        "log": _relative(task.log, run_dir),
    }
    if task.message:
        entry["message"] = task.message
    entry.update({
        "template": task.template,
        "attempts": task.attempts,
        "node": task.node,
        "type": task.type,
        "started_at": task.started_at,
        "finished_at": task.finished_at,
    })
    if len(task.logs) > 1:
        entry["logs"] = [_relative(log, run_dir) for log in task.logs]
    if task.stubbed:
        entry["stubbed"] = True
    if task.reused:
        entry["reused"] = True
    if task.inputs:
        entry["inputs"] = task.inputs
    return entry


def _relative(path: Path | None, run_dir: Path) -> str | None:
    if path is None:
        return None
    try:
        return str(path.relative_to(run_dir))
    except ValueError:
        return str(path)
