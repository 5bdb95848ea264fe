"""A deterministic, fast stand-in for the workflow controller.

A submitted workflow starts `Pending`; each time a client reads it, it advances one step:
`Running` (for `running_polls` reads, its tasks finishing one after the other), then the
final phase chosen at submission. The status carries Argo's `NodeStatus` tree: one node
for the workflow and one per DAG task or step of its entrypoint template.

Tasks named in `failing` fail (their first attempts, as many as given); what depends on a
failed task is Omitted and the workflow ends Failed. `retry()` does what Argo's retry does:
the tasks that succeeded keep their nodes, the others run again. Each task that started
has a pod (named as Argo's v2 pod names are) and a log.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hera_utils.testing._objects import rfc3339
from hera_utils.testing._workflow_validation import task_dependencies

SUCCEEDED, FAILED, ERROR = "Succeeded", "Failed", "Error"
PENDING, RUNNING = "Pending", "Running"
FINAL_PHASES = frozenset({SUCCEEDED, FAILED, ERROR})
# An outcome of Pending or Running keeps the workflow there for ever (to test deadlines).
OUTCOMES = FINAL_PHASES | {PENDING, RUNNING}
PHASE_LABEL = "workflows.argoproj.io/phase"
COMPLETED_LABEL = "workflows.argoproj.io/completed"
OMITTED = "Omitted"
FAILURE_MESSAGES = {FAILED: "Error (exit code 1)", ERROR: "pod deleted"}
_MAX_POD_NAME_PREFIX = 253 - 10 - 1  # Argo keeps room for "-" and a 10-digit hash

# A task's log: bytes, or a callable (task name, attempt, phase) -> bytes.
LogSource = bytes | Callable[[str, int, str], bytes]


@dataclass
class _Task:
    """One DAG task or step: what becomes one node of the status."""

    name: str
    node_name: str
    template: str
    parents: list[str]  # node names this task runs after
    parameters: list[dict[str, Any]]
    node_type: str = "Pod"
    children: list[str] = field(default_factory=list)


class WorkflowRun:
    """The progress of one submitted workflow, turned into `status` on demand."""

    def __init__(
        self,
        name: str,
        entry: Mapping[str, Any] | None,
        templates: Mapping[str, Mapping[str, Any]],
        *,
        outcome: str,
        running_polls: int = 1,
        failing: Mapping[str, int] | None = None,
        logs: Mapping[str, LogSource] | None = None,
    ) -> None:
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {sorted(OUTCOMES)}")
        self.name = name
        self.outcome = outcome
        self.running_polls = max(1, running_polls)
        self.step = 0
        self.retries = 0
        self._root_type = _node_type(entry)
        self._entrypoint = (entry or {}).get("name", "")
        self._tasks = _tasks_of(name, entry, templates)
        self._failing = dict(failing or {})
        self._logs = dict(logs or {})
        self._kept: set[str] = set()  # node names that succeeded before a retry
        self.attempts: dict[str, int] = {task.name: 0 for task in self._tasks}
        self._started_at: float | None = None
        self._finished_at: float | None = None
        self._task_times: dict[str, tuple[float, float | None]] = {}

    @property
    def phase(self) -> str:
        """The workflow phase at the current step."""
        if self.step == 0 or self.outcome == PENDING:
            return PENDING
        if self.step <= self.running_polls or self.outcome == RUNNING:
            return RUNNING
        if self._failing and any(
            phase == FAILED for phase in self._task_phases(len(self._tasks)).values()
        ):
            return FAILED
        return self.outcome

    def retry(self) -> None:
        """Run again what did not succeed (Argo's retry); a running workflow is refused."""
        if not self.finished:
            raise ValueError(f"workflow {self.name} is not finished: it cannot be retried")
        if self.phase == SUCCEEDED:
            raise ValueError(f"workflow {self.name} succeeded: there is nothing to retry")
        phases = self._task_phases(len(self._tasks))
        self._kept = {name for name, phase in phases.items() if phase == SUCCEEDED}
        for task in self._tasks:
            if task.node_name not in self._kept:
                self._task_times.pop(task.node_name, None)
                self.attempts[task.name] += 1
        if self.outcome != SUCCEEDED and not self._failing:
            self.outcome = SUCCEEDED  # the failure was a one-off
        self.retries += 1
        self.step = 1
        self._finished_at = None

    def pods(self) -> dict[str, tuple[str, str]]:
        """The pods of the tasks that started: pod name -> (task name, phase)."""
        phase = self.phase
        if phase == PENDING:
            return {}
        if not self._tasks:
            return {self.name: (self._entrypoint or self.name, phase)}
        phases = self._task_phases(self._done_count())
        return {
            pod_name(self.name, task.template, task.node_name): (task.name, phases[task.node_name])
            for task in self._tasks
            if task.node_type == "Pod" and phases[task.node_name] not in (PENDING, OMITTED)
        }

    def log_of(self, task_name: str, phase: str) -> bytes:
        """The log a task's pod wrote (all of it once the pod ended)."""
        attempt = self.attempts.get(task_name, 0)
        source = self._logs.get(task_name)
        if callable(source):
            return source(task_name, attempt, phase)
        if source is not None:
            return source
        if phase in (FAILED, ERROR):
            return f"{task_name}: started\n{task_name}: failed (exit code 1)\n".encode()
        if phase == SUCCEEDED:
            return f"{task_name}: started\n{task_name}: done\n".encode()
        return f"{task_name}: started\n".encode()

    @property
    def finished(self) -> bool:
        """Whether the workflow reached its final phase."""
        return self.phase in FINAL_PHASES

    def advance(self, steps: int = 1) -> None:
        """Move `steps` steps on (a finished workflow stays as it is)."""
        for _ in range(steps):
            if self.finished:
                return
            self.step += 1
            now = time.time()
            if self.phase != PENDING and self._started_at is None:
                self._started_at = now
            if self.phase in FINAL_PHASES:  # this step finished it
                self._finished_at = now

    def status(self) -> dict[str, Any]:
        """The `status` of the workflow at the current step, in Argo's JSON."""
        phase = self.phase
        total = len(self._tasks) or 1
        if phase == PENDING:
            return {"phase": PENDING, "progress": f"0/{total}"}
        done = self._done_count()
        task_phases = self._task_phases(done)
        status: dict[str, Any] = {
            "phase": phase,
            "startedAt": rfc3339(self._started_at),
            "progress": f"{sum(p == SUCCEEDED for p in task_phases.values())}/{total}",
            "nodes": self._nodes(phase, task_phases),
        }
        if phase in FINAL_PHASES:
            status["finishedAt"] = rfc3339(self._finished_at)
            status["conditions"] = [
                {"type": "PodRunning", "status": "False"},
                {"type": "Completed", "status": "True"},
            ]
            status["resourcesDuration"] = {"cpu": total, "memory": total}
            if phase != SUCCEEDED:
                failed = self._failed_node_id()
                status["message"] = f"child '{failed}' failed"
        else:
            status["conditions"] = [{"type": "PodRunning", "status": "True"}]
        return status

    # -- internals ----------------------------------------------------------------------

    def _done_count(self) -> int:
        """How many of the tasks to run (those not kept from before) have finished."""
        total = len(self._tasks) - len(self._kept)
        if self.step > self.running_polls and self.outcome not in (PENDING, RUNNING):
            return total
        running_step = min(self.step, self.running_polls)
        return (running_step * total) // (self.running_polls + 1)

    def _task_phases(self, done: int) -> dict[str, str]:
        phases: dict[str, str] = {}
        index = 0  # position among the tasks that run in this attempt
        for task in self._tasks:
            if task.node_name in self._kept:
                phases[task.node_name] = SUCCEEDED
                continue
            if any(phases.get(parent) in (FAILED, ERROR, OMITTED) for parent in task.parents):
                phases[task.node_name] = OMITTED
            elif index < done:
                failures = self._failing.get(task.name, 0)
                phases[task.node_name] = FAILED if self._attempt(task) < failures else SUCCEEDED
            elif index == done:
                phases[task.node_name] = RUNNING
            else:
                phases[task.node_name] = PENDING
            index += 1
        final = self.step > self.running_polls and self.outcome in FINAL_PHASES
        if final and self._tasks and not self._failing and self.outcome != SUCCEEDED:
            phases[self._tasks[-1].node_name] = self.outcome  # the last task fails
        return phases

    def _attempt(self, task: _Task) -> int:
        """Which attempt of `task` this is (0: the first), counting retries that re-ran it."""
        return self.attempts.get(task.name, 0)

    def _nodes(self, phase: str, task_phases: Mapping[str, str]) -> dict[str, Any]:
        root_id = self.name
        succeeded = sum(p == SUCCEEDED for p in task_phases.values())
        root: dict[str, Any] = {
            "id": root_id,
            "name": self.name,
            "displayName": self.name,
            "type": self._root_type,
            "templateName": self._entrypoint,
            "templateScope": "local/",
            "phase": phase,
            "startedAt": rfc3339(self._started_at),
            "progress": f"{succeeded}/{len(self._tasks) or 1}",
        }
        if phase in FINAL_PHASES:
            root["finishedAt"] = rfc3339(self._finished_at)
        if not self._tasks:  # the entrypoint is itself a pod
            root["type"] = "Pod"
            root["progress"] = "1/1" if phase == SUCCEEDED else "0/1"
            if phase in FINAL_PHASES:
                root["outputs"] = {"exitCode": "0" if phase == SUCCEEDED else "1"}
            if phase in (FAILED, ERROR):
                root["message"] = FAILURE_MESSAGES[phase]
            return {root_id: root}
        root["children"] = [node_id(self.name, t.node_name) for t in self._tasks if not t.parents]
        root["outboundNodes"] = [
            node_id(self.name, t.node_name) for t in self._tasks if not t.children
        ]
        nodes = {root_id: root}
        for task in self._tasks:
            nodes[node_id(self.name, task.node_name)] = self._task_node(
                task, task_phases[task.node_name], root_id
            )
        return nodes

    def _task_node(self, task: _Task, phase: str, root_id: str) -> dict[str, Any]:
        started, finished = self._times_of(task.node_name, phase)
        node: dict[str, Any] = {
            "id": node_id(self.name, task.node_name),
            "name": task.node_name,
            "displayName": task.name,
            "type": task.node_type,
            "templateName": task.template,
            "templateScope": "local/",
            "phase": phase,
            "boundaryID": root_id,
            "progress": "1/1" if phase == SUCCEEDED else "0/1",
        }
        if task.children:
            node["children"] = [node_id(self.name, child) for child in task.children]
        if task.parameters:
            node["inputs"] = {"parameters": task.parameters}
        if started is not None:
            node["startedAt"] = rfc3339(started)
            if task.node_type == "Pod":
                node["hostNodeName"] = "emulated-node"
        if finished is not None:
            node["finishedAt"] = rfc3339(finished)
            if task.node_type == "Pod":
                node["outputs"] = {"exitCode": "0" if phase == SUCCEEDED else "1"}
        if phase in FAILURE_MESSAGES:
            node["message"] = FAILURE_MESSAGES[phase]
        return node

    def _times_of(self, node_name: str, phase: str) -> tuple[float | None, float | None]:
        """When a task started and finished, remembered so that reads agree."""
        now = time.time()
        started, finished = self._task_times.get(node_name, (None, None))
        if phase != PENDING and started is None:
            started = now
        if phase in FINAL_PHASES and finished is None:
            finished = now
        if started is not None:
            self._task_times[node_name] = (started, finished)
        return started, finished

    def _failed_node_id(self) -> str:
        if not self._tasks:
            return self.name
        phases = self._task_phases(len(self._tasks))
        failed = [task for task in self._tasks if phases[task.node_name] in (FAILED, ERROR)]
        return node_id(self.name, (failed or self._tasks[-1:])[0].node_name)


def node_id(workflow_name: str, node_name: str) -> str:
    """A node id the way Argo derives it: the workflow name and a hash of the node name."""
    if node_name == workflow_name:
        return workflow_name
    return f"{workflow_name}-{_fnv1a_32(node_name.encode())}"


def pod_name(workflow_name: str, template_name: str, node_name: str) -> str:
    """The pod of a node as Argo names it (v2 pod names): workflow, template, hash."""
    if node_name == workflow_name:
        return workflow_name
    prefix = f"{workflow_name}-{template_name}"[:_MAX_POD_NAME_PREFIX]
    return f"{prefix}-{_fnv1a_32(node_name.encode())}"


def _fnv1a_32(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def _node_type(template: Mapping[str, Any] | None) -> str:
    if template is None:
        return "Pod"
    if template.get("dag") is not None:
        return "DAG"
    if template.get("steps") is not None:
        return "Steps"
    if template.get("suspend") is not None:
        return "Suspend"
    return "Pod"


def _tasks_of(
    workflow_name: str,
    entry: Mapping[str, Any] | None,
    templates: Mapping[str, Mapping[str, Any]],
) -> list[_Task]:
    """The tasks of the entrypoint, in an order in which they can run."""
    if entry is None:
        return []
    if entry.get("dag") is not None:
        return _dag_tasks(workflow_name, entry["dag"], templates)
    if entry.get("steps") is not None:
        return _step_tasks(workflow_name, entry["steps"], templates)
    return []


def _dag_tasks(
    workflow_name: str, dag: Mapping[str, Any], templates: Mapping[str, Mapping[str, Any]]
) -> list[_Task]:
    specs = {task.get("name", ""): task for task in dag.get("tasks") or []}
    ordered: list[str] = []
    pending = list(specs)
    while pending:  # topological order, stable with respect to the written order
        ready = [
            name
            for name in pending
            if all(dep in ordered or dep not in specs for dep in task_dependencies(specs[name]))
        ]
        if not ready:  # a cycle: keep the written order rather than loop for ever
            ready = pending[:1]
        ordered.extend(ready)
        pending = [name for name in pending if name not in ready]
    node_names = {name: f"{workflow_name}.{name}" for name in ordered}
    tasks = [
        _Task(
            name=name,
            node_name=node_names[name],
            template=_template_name(specs[name]),
            parents=[node_names[dep] for dep in task_dependencies(specs[name]) if dep in specs],
            parameters=_parameters(specs[name]),
            node_type=_node_type(templates.get(_template_name(specs[name]))),
        )
        for name in ordered
    ]
    by_node = {task.node_name: task for task in tasks}
    for task in tasks:
        for parent in task.parents:
            by_node[parent].children.append(task.node_name)
    return tasks


def _step_tasks(
    workflow_name: str,
    groups: list[list[Mapping[str, Any]]],
    templates: Mapping[str, Mapping[str, Any]],
) -> list[_Task]:
    tasks: list[_Task] = []
    previous: list[_Task] = []
    for index, group in enumerate(groups):
        current = [
            _Task(
                name=step.get("name", ""),
                node_name=f"{workflow_name}[{index}].{step.get('name', '')}",
                template=_template_name(step),
                parents=[task.node_name for task in previous],
                parameters=_parameters(step),
                node_type=_node_type(templates.get(_template_name(step))),
            )
            for step in group or []
        ]
        for task in previous:
            task.children = [step.node_name for step in current]
        tasks.extend(current)
        previous = current or previous
    return tasks


def _template_name(holder: Mapping[str, Any]) -> str:
    reference = holder.get("templateRef") or {}
    return holder.get("template") or reference.get("template") or ""


def _parameters(holder: Mapping[str, Any]) -> list[dict[str, Any]]:
    arguments = holder.get("arguments") or {}
    return [dict(parameter) for parameter in arguments.get("parameters") or []]
