"""The static shape of a DAG template: its tasks, their `depends`, and its target tasks.

Built once per DAG template (`WorkflowModel.dag_plan`) and shared by validation and the
run. `dependencies` is turned into the equivalent `depends` here, as Argo does, so the rest
of the runner knows only `depends`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hera_utils.errors import ConfigurationError

from .depends import DependsExpression, ExpressionError, dependencies_as_depends, parse_depends

__all__ = ["DagPlan", "build_dag_plan"]


@dataclass
class DagPlan:
    """The static shape of a DAG template: dependencies, depends logic and target tasks.

    Everything the run asks after each completion is computed once here: the dependencies
    and dependents of each task, a topological order, and which failures are handled.
    """

    tasks: dict[str, dict[str, Any]]
    depends: dict[str, DependsExpression | None]
    targets: list[str] = field(default_factory=list)
    explicit_target: bool = False  # `dag.target` given: only it and what it needs run
    deferred_target: bool = False  # `dag.target` is a {{tag}}: resolved when the DAG runs
    order: list[str] = field(default_factory=list)  # every task after its dependencies
    _dependencies: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _dependents: dict[str, list[str]] = field(default_factory=dict, repr=False)
    _ancestors: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._dependencies = {name: (expression.tasks if expression is not None else [])
                              for name, expression in self.depends.items()}
        self._dependents = {name: [] for name in self.tasks}
        for name, dependencies in self._dependencies.items():
            for dependency in dependencies:
                self._dependents.setdefault(dependency, []).append(name)

    def needed_by(self, targets: list[str]) -> set[str]:
        """The targets and every task they depend on, directly or not."""
        needed, stack = set(targets), list(targets)
        while stack:
            for dependency in self.dependencies(stack.pop()):
                if dependency not in needed:
                    needed.add(dependency)
                    stack.append(dependency)
        return needed

    def dependencies(self, name: str) -> list[str]:
        """The tasks `name` waits for."""
        return self._dependencies[name]

    def dependents(self, name: str) -> list[str]:
        """The tasks that wait for `name`."""
        return self._dependents.get(name, [])

    def is_ancestor(self, ancestor: str, name: str) -> bool:
        """Whether `name` depends on `ancestor`, directly or through other tasks."""
        if ancestor in self._dependencies.get(name, ()):
            return True  # the common case, answered without walking the graph
        if name not in self._ancestors:
            seen: set[str] = set()
            stack = list(self._dependencies.get(name, ()))
            while stack:
                current = stack.pop()
                if current not in seen:
                    seen.add(current)
                    stack.extend(self._dependencies[current])
            self._ancestors[name] = frozenset(seen)
        return ancestor in self._ancestors[name]


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
    plan = DagPlan(tasks=tasks, depends=depends)
    plan.order = _topological_order(plan)
    plan.explicit_target = bool(dag.get("target"))
    plan.deferred_target = "{{" in str(dag.get("target") or "")
    plan.targets = [] if plan.deferred_target else _targets(dag, plan)
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


def _topological_order(plan: DagPlan) -> list[str]:
    """Kahn's algorithm (no recursion, linear in tasks and edges); a cycle is refused."""
    unmet = {name: len(plan.dependencies(name)) for name in plan.tasks}
    order = [name for name, count in unmet.items() if count == 0]
    for name in order:  # the list grows while it is walked
        for dependent in plan.dependents(name):
            unmet[dependent] -= 1
            if unmet[dependent] == 0:
                order.append(dependent)
    if len(order) < len(plan.tasks):
        raise ConfigurationError(f"the DAG has a dependency cycle: {_a_cycle(plan, unmet)}")
    return order


def _a_cycle(plan: DagPlan, unmet: Mapping[str, int]) -> str:
    # Every task left with unmet dependencies waits for another such task: following
    # them from any of these tasks must come back to one already seen.
    current = next(name for name, count in unmet.items() if count)
    path: list[str] = []
    seen: dict[str, int] = {}
    while current not in seen:
        seen[current] = len(path)
        path.append(current)
        current = next(dep for dep in plan.dependencies(current) if unmet[dep])
    return " -> ".join([*path[seen[current]:], current])
