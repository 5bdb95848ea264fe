"""DAG templates (the controller's `dag.go`): tasks start as their `depends` allow.

A task whose dependencies are done either starts, or, when its `depends` is not met, ends
Omitted without running. `failFast` (the default) stops starting tasks once a target
task's branch has failed. Once every task is done, the DAG's phase is assessed from its
target tasks (`assessDAGPhase`).
"""

from __future__ import annotations

import asyncio
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .calls import continues_on, run_call_or_loop
from .concurrency import FAIL_FAST_MESSAGE, Slots, cancel_all, semaphore_of
from .context import Operator
from .dag_plan import DagPlan
from .depends import ExpressionError, TaskResults
from .model import TemplateScope
from .nodes import ERROR, FAILED, FAILED_OR_ERROR, OMITTED, SKIPPED, SUCCEEDED, Node, NodeType
from .scope import TaskVariables
from .templating import substitute
from .values import truthy

__all__ = ["run_dag"]

IN_FLIGHT_PER_SLOT = 2


@dataclass
class _DagRun:
    """The bookkeeping of one DAG node while its tasks run, driven by completions.

    Each task keeps a count of its unmet dependencies; a completion decrements the counts
    of its dependents, and a task whose count reaches zero is ready. So the work done per
    completion is proportional to the task's edges, whatever the size of the DAG.
    """

    node: Node
    plan: DagPlan
    tasks: dict[str, dict[str, Any]]
    scope: TemplateScope
    limit: Slots | None
    fail_fast: bool
    unmet: dict[str, int] = field(default_factory=dict)
    ready: deque[str] = field(default_factory=deque)
    finished: dict[str, Node] = field(default_factory=dict)
    variables: TaskVariables = field(default_factory=TaskVariables)
    running: dict[asyncio.Future[Node], str] = field(default_factory=dict)
    completed: asyncio.Queue[asyncio.Future[Node]] = field(default_factory=asyncio.Queue)
    failed_fast: tuple[str, str] | None = None  # (task, phase) of the failed target branch
    # The distinct phases reaching each finished task (an Omitted one inherits them).
    branch: dict[str, list[str]] = field(default_factory=dict)
    in_flight: int = 0  # the most tasks started and not yet done (see `_start_ready`)
    targets: list[str] = field(default_factory=list)
    target_names: frozenset[str] = frozenset()
    wanted: set[str] | None = None  # with `dag.target`: the tasks that run (else all)
    waiting: int = 0  # ready tasks held back, as last told to the progress display


async def run_dag(op: Operator, node: Node, original: Mapping[str, Any],
                  body: dict[str, Any], scope: TemplateScope) -> None:
    """Run a DAG template's tasks as node `node`, then set its phase and outputs."""
    plan = op.model.dag_plan(original)
    run = _DagRun(node=node, plan=plan,
                  tasks={task["name"]: task for task in body["dag"].get("tasks") or []},
                  scope=scope, limit=semaphore_of(body.get("parallelism"),
                                                  fail_fast=body.get("failFast")),
                  fail_fast=truthy(body["dag"].get("failFast", True)),
                  in_flight=IN_FLIGHT_PER_SLOT * op.options.parallelism)
    run.unmet = {name: len(plan.dependencies(name)) for name in plan.tasks}
    node.start()
    try:
        run.targets = _targets_of(plan, body)
        run.target_names = frozenset(run.targets)
    except ValueError as error:
        node.finish(ERROR, str(error))
        return
    if plan.explicit_target:
        # As the controller walks from the targets: tasks they do not need never run.
        run.wanted = plan.needed_by(run.targets)
    run.ready.extend(name for name, count in run.unmet.items()
                     if count == 0 and (run.wanted is None or name in run.wanted))
    try:
        _start_ready(op, run)
        while run.running:
            future = await run.completed.get()
            _task_done(run, run.running.pop(future), future.result())
            _start_ready(op, run)
    except asyncio.CancelledError:
        await cancel_all(run.running)
        await op.daemons.stop(node)
        op.stopped(node)
        raise
    _finish_dag(op, run, body)
    # As the controller, once the DAG's phase is set: its daemons are stopped and succeed.
    await op.daemons.stop(node)


def _start_ready(op: Operator, run: _DagRun) -> None:
    """Start (or omit) the tasks whose dependencies are done, as far as slots allow.

    Like Argo's controller, which creates no new node while the workflow's parallelism is
    reached (`checkParallelism`), a ready task waits here, costing a name in a queue,
    rather than as a started node holding its template, scope and pending pod. A few
    more than the slots are started so that a slot freed is taken at once.
    """
    # As in one pass of the controller over the DAG, what becomes ready in this pass starts
    # even if an omission in it fails a target's branch: failFast applies from the next.
    stopped = run.failed_fast is not None
    while run.ready and len(run.running) < run.in_flight:
        task_name = run.ready.popleft()
        early = _depends_outcome(op, run, task_name)
        if early is not None:  # Omitted (or a bad depends): nothing to start
            _task_done(run, task_name, early)
        elif not stopped:
            future = asyncio.ensure_future(_run_task(op, run, task_name))
            run.running[future] = task_name
            future.add_done_callback(run.completed.put_nowait)
    if len(run.ready) != run.waiting:
        op.progress.tasks_waiting(len(run.ready) - run.waiting)
        run.waiting = len(run.ready)


def _task_done(run: _DagRun, task_name: str, task_node: Node) -> None:
    run.finished[task_name] = task_node
    run.variables.add(task_name, task_node)
    for dependent in run.plan.dependents(task_name):
        run.unmet[dependent] -= 1
        if run.unmet[dependent] == 0 and (run.wanted is None or dependent in run.wanted):
            run.ready.append(dependent)
    phases = _branch_phases(run.plan, run.branch, task_name, task_node)
    run.branch[task_name] = phases
    # The controller reads failFast only in assessDAGPhase: once a target task's branch has
    # failed, the DAG fails and starts nothing more. A failed task that is no target stops
    # nothing by itself: a task it leads to may still run (`a && (b || c)` with b failed),
    # whatever the failFast docs suggest (workflow/controller/dag.go).
    if run.fail_fast and run.failed_fast is None and task_name in run.target_names:
        phase = next((p for p in phases if p in FAILED_OR_ERROR), None)
        if phase is not None and not continues_on(run.tasks[task_name], phase):
            run.failed_fast = (task_node.display_name, phase)


def _finish_dag(op: Operator, run: _DagRun, body: dict[str, Any]) -> None:
    node = run.node
    not_started = len(run.plan.tasks if run.wanted is None else run.wanted) - len(run.finished)
    if run.failed_fast is not None and not_started:
        # failFast (the default): once a task fails and no other task handles that
        # failure, the DAG starts nothing new, lets running tasks end, and fails
        # (docs/fields.md, DAGTemplate.failFast; argo-workflows issue 1442).
        culprit, phase = run.failed_fast
        node.finish(phase, f"child '{culprit}' {phase.lower()} and failFast is set; "
                           f"{not_started} task(s) not started")
        op.run_notes.append(
            f"failFast: {not_started} task(s) of '{node.display_name}' not started")
        return
    phase, target = _assess_dag(run.plan, run.targets, run.tasks, run.finished)
    if phase != SUCCEEDED:
        if run.limit is not None and run.limit.halted:
            node.finish(phase, FAIL_FAST_MESSAGE)  # Argo's words, in the run's message too
            op.run_notes.append(FAIL_FAST_MESSAGE)
            return
        node.finish(phase, f"child '{target}' {phase.lower()}")
        return
    op.group_succeeded(node, body, run.variables.seen_by(lambda _: True))


def _depends_outcome(op: Operator, run: _DagRun, task_name: str) -> Node | None:
    """The Omitted/Error node of a task whose `depends` does not let it run, else None."""
    expression = run.plan.depends[task_name]
    if expression is None:
        return None
    node_name = f"{run.node.name}.{task_name}"
    template = run.plan.tasks[task_name].get("template")
    try:
        results = {dep: _task_results(run.finished[dep]) for dep in expression.tasks}
        go = expression.evaluate(results)
    except ExpressionError as error:
        return op.error_node(node_name, task_name, template, run.node, str(error))
    if go:
        return None
    return op.skipped_node(node_name, task_name, template, run.node, OMITTED,
                           "omitted: depends condition not met")


async def _run_task(op: Operator, run: _DagRun, task_name: str) -> Node:
    # Like Argo, a task sees the outputs of its ancestors only.
    visible = run.variables.seen_by(lambda name: run.plan.is_ancestor(name, task_name))
    lookup = op.lookup(visible)
    call = substitute(_without_absent_outputs(run, run.tasks[task_name]), lookup)
    outcome = await run_call_or_loop(op, f"{run.node.name}.{task_name}", task_name, call,
                                     run.scope, run.node, run.limit,
                                     group_type=NodeType.TASK_GROUP, outer=lookup)
    assert isinstance(outcome, Node)  # with a group type, a loop is one TaskGroup node
    return outcome


_OUTPUT_REFERENCE = re.compile(
    r"^\{\{\s*tasks\.(?P<task>[^{}]+?)\.outputs\.parameters\.(?P<name>[^.{}\s]+)\s*\}\}$")


def _without_absent_outputs(run: _DagRun, task: dict[str, Any]) -> dict[str, Any]:
    """`task` without the arguments that only name an output a Skipped or Omitted task
    never made (Argo v4.1 drops them, so the consumer's input default applies)."""
    parameters = (task.get("arguments") or {}).get("parameters") or []
    kept = []
    for parameter in parameters:
        found = _OUTPUT_REFERENCE.match(str(parameter.get("value", ""))) \
            if isinstance(parameter, dict) else None
        producer = run.finished.get(found["task"]) if found else None
        if producer is not None and producer.phase in (SKIPPED, OMITTED) \
                and found is not None and found["name"] not in producer.parameters:
            continue
        kept.append(parameter)
    if len(kept) == len(parameters):
        return task
    return {**task, "arguments": {**task["arguments"], "parameters": kept}}


def _task_results(node: Node) -> TaskResults:
    children = node.children if node.type == NodeType.TASK_GROUP else []
    return TaskResults(
        succeeded=node.phase == SUCCEEDED, failed=node.phase == FAILED,
        errored=node.phase == ERROR, skipped=node.phase == SKIPPED,
        omitted=node.phase == OMITTED, daemoned=node.daemoned,
        any_succeeded=any(child.phase == SUCCEEDED for child in children),
        all_failed=bool(children) and all(child.phase == FAILED for child in children))


def _targets_of(plan: DagPlan, body: dict[str, Any]) -> list[str]:
    """The DAG's target tasks; a `{{tag}}` target is read from the resolved template."""
    if not plan.deferred_target:
        return plan.targets
    targets = str(body["dag"].get("target") or "").split()
    unknown = [name for name in targets if name not in plan.tasks]
    if unknown or not targets:
        raise ValueError(f"target '{' '.join(unknown) or '(empty)'}' is not a task of the DAG")
    return targets


def _assess_dag(plan: DagPlan, targets: list[str], tasks: Mapping[str, Mapping[str, Any]],
                finished: Mapping[str, Node]) -> tuple[str, str]:
    """The DAG's phase once every task is done (the controller's assessDAGPhase).

    Each target task (by default, the tasks nothing depends on) gives its phase; an Omitted
    task inherits the phases reaching it from its dependencies, a failure winning. A
    failed target fails the DAG unless its `continueOn` allows that phase. So a failure
    handled by a task that runs on it (`depends: A.Failed`) does not fail the DAG.
    Simplification: a nested DAG or steps node passes on its own phase.
    """
    branch: dict[str, list[str]] = {}
    target_phase: dict[str, str] = {}
    for name in plan.order:
        node = finished.get(name)
        if node is None:
            continue
        branch[name] = _branch_phases(plan, branch, name, node)
        target_phase[name] = (next((p for p in branch[name] if p in FAILED_OR_ERROR),
                                   branch[name][0])
                              if node.phase == OMITTED else node.phase)
    for target in targets:
        phase = target_phase.get(target)
        if phase is not None and phase in FAILED_OR_ERROR \
                and not continues_on(tasks.get(target, {}), phase):
            return phase, target
    return SUCCEEDED, ""


def _branch_phases(plan: DagPlan, branch: Mapping[str, list[str]], name: str,
                   node: Node) -> list[str]:
    """The distinct phases a finished task passes on along its branch.

    A task that ran passes its own (a loop, its iterations'); an Omitted one those reaching
    it from its dependencies. Distinct phases only, in order: a wide or deep omitted region
    stays small.
    """
    if node.phase == OMITTED:
        return list(dict.fromkeys(phase for dep in plan.dependencies(name)
                                  for phase in branch.get(dep, [SUCCEEDED]))) or [SUCCEEDED]
    if node.type == NodeType.TASK_GROUP and node.children:
        return list(dict.fromkeys(child.phase for child in node.children))
    return [node.phase]
