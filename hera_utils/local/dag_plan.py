"""The static shape of a DAG template: its tasks, their `depends`, and its target tasks.

Built once per DAG template (`WorkflowModel.dag_plan`) and shared by validation and the
run. `dependencies` is turned into the equivalent `depends` here, as Argo does, so the rest
of the runner knows only `depends`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hera_utils.errors import ConfigurationError

from .depends import DependsExpression, ExpressionError, dependencies_as_depends, parse_depends

__all__ = ["DagPlan", "build_dag_plan"]


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

    def topological_order(self) -> list[str]:
        """Every task after the tasks it depends on."""
        order: list[str] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen:
                return
            seen.add(name)
            for dependency in self.dependencies(name):
                visit(dependency)
            order.append(name)

        for name in self.tasks:
            visit(name)
        return order


def build_dag_plan(template: Mapping[str, Any]) -> DagPlan:
    """The plan of a DAG template; `ConfigurationError` for a malformed DAG."""
    dag = template.get("dag") or {}
    tasks = _named_tasks(dag)
    continue_on = {name: task.get("continueOn") or {} for name, task in tasks.items()}
    depends: dict[str, DependsExpression | None] = {}
    for name, task in tasks.items():
        if task.get("depends") and task.get("dependencies"):
            raise ConfigurationError(f"task '{name}' has both depends and dependencies")
        text = task.get("depends") or ""
        if task.get("dependencies"):
            text = dependencies_as_depends(task["dependencies"], continue_on)
        try:
            expression = parse_depends(text) if text.strip() else None
        except ExpressionError as error:
            raise ConfigurationError(f"task '{name}': {error}") from None
        depends[name] = expression
        for dependency in expression.tasks if expression is not None else []:
            if dependency not in tasks:
                raise ConfigurationError(f"task '{name}' depends on unknown task "
                                         f"'{dependency}'")
    plan = DagPlan(tasks=tasks, depends=depends, targets=[])
    _check_acyclic(plan)
    plan.targets = _targets(dag, plan)
    return plan


def _named_tasks(dag: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    tasks: dict[str, dict[str, Any]] = {}
    for task in dag.get("tasks") or []:
        name = task.get("name")
        if not name:
            raise ConfigurationError("a DAG task has no name")
        if name in tasks:
            raise ConfigurationError(f"two DAG tasks are named '{name}'")
        tasks[name] = task
    return tasks


def _targets(dag: Mapping[str, Any], plan: DagPlan) -> list[str]:
    if dag.get("target"):
        targets = str(dag["target"]).split()
        for target in targets:
            if target not in plan.tasks:
                raise ConfigurationError(f"dag.target names unknown task '{target}'")
        return targets
    # Argo's default targets: the tasks no other task depends on, sorted by name.
    depended = {dep for name in plan.tasks for dep in plan.dependencies(name)}
    return sorted(name for name in plan.tasks if name not in depended)


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
