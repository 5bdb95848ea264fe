"""The interpreter: runs a validated workflow's templates with Argo's semantics.

One asyncio coroutine per node; task processes are real subprocesses, at most
`parallelism` at a time. Where Argo's behaviour is subtle, the code follows its
documentation or its controller's code, and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import subprocess
import time
import traceback
import uuid
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hera_utils.errors import ConfigurationError

from . import executors
from .expressions import ExpressionError, TaskResults, evaluate_when
from .loops import Item, LoopError, expand_loop, has_loop
from .model import DagPlan, TemplateScope, WorkflowModel, template_kind
from .nodes import (
    ERROR,
    FAILED,
    FAILED_OR_ERROR,
    OMITTED,
    RUNNING,
    SKIPPED,
    SUCCEEDED,
    Node,
    utc_now,
)
from .progress import Progress
from .templating import UnresolvedTagError, format_value, json_text, substitute

__all__ = ["Engine", "RunOptions"]

_POD_KINDS = ("script", "container")
_SHELLS = ("bash", "sh", "zsh", "dash", "ksh")
DEADLINE_MESSAGE = "Step exceeded its deadline"


@dataclass
class RunOptions:
    """How to run: where to write, how many processes, what to do with containers."""

    run_dir: Path
    parallelism: int
    work_dir: Path
    volume_dir: Path | None = None
    stub_containers: bool = False
    runtime: executors.ContainerRuntime | None = None
    runtime_problem: str = ""


class _NodeError(Exception):
    """A node that cannot run (bad input, unresolved tag): it ends in phase Error."""


class Engine:
    """Runs one workflow; `run()` returns its phase and message, `nodes` holds every node."""

    def __init__(self, model: WorkflowModel, name: str, options: RunOptions,
                 progress: Progress) -> None:
        self.model = model
        self.name = name
        self.options = options
        self.progress = progress
        self.nodes: list[Node] = []
        self.root: Node | None = None
        self.started_at = utc_now()
        self._started_clock = time.monotonic()
        self.global_scope = self._global_scope()
        self.interrupted = False
        self._stop_message = ""  # set when the run is being stopped (Ctrl-C, deadline)
        self._stopping_task: asyncio.Future[Any] | None = None
        self._processes: list[subprocess.Popen[bytes]] = []
        # One thread per running task follows its process; threads are reused.
        self._workers = ThreadPoolExecutor(max_workers=options.parallelism + 2,
                                           thread_name_prefix="hera-utils-local")
        self._path_locks: dict[str, asyncio.Lock] = {}
        self._log_names: set[str] = set()
        self._scripts: set[Path] = set()
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._containers = 0
        self._noticed: set[str] = set()
        self._run_notes: list[str] = []  # added to the message of a failed run

    # ------------------------------------------------------------------ the run

    async def run(self) -> tuple[str, str]:
        """Run the entrypoint, then the exit handler; return (phase, message)."""
        loop = self._loop = asyncio.get_running_loop()
        self._slots = asyncio.Semaphore(self.options.parallelism)
        self.options.run_dir.mkdir(parents=True, exist_ok=True)
        ticker = asyncio.ensure_future(self._tick())
        try:
            main = asyncio.ensure_future(self._run_entrypoint())
            self._stopping_task = main
            deadline = _seconds(self.model.spec.get("activeDeadlineSeconds"))
            timer = loop.call_later(deadline, self._deadline_exceeded) if deadline else None
            try:
                # A stop request (Ctrl-C, deadline) cancels `main`; its nodes record why.
                with contextlib.suppress(asyncio.CancelledError):
                    await main
            finally:
                if timer is not None:
                    timer.cancel()
            phase, message = self._workflow_phase()
            if self.model.on_exit and not self.interrupted:
                phase, message = await self._run_exit_handler(phase, message)
            return phase, message
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            self._workers.shutdown(wait=False)

    def interrupt_threadsafe(self, reason: str) -> None:
        """`interrupt` from another thread than the run's (its loop does the work)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.interrupt, reason)

    def interrupt(self, reason: str) -> None:
        """Stop the run now (Ctrl-C); a second call kills the task processes outright."""
        if self.interrupted:
            executors.force_kill(self._processes)
            return
        self.interrupted = True
        self._stop(f"Stopped: {reason}")

    def _deadline_exceeded(self) -> None:
        if not self._stop_message:
            self._stop(DEADLINE_MESSAGE)

    def _stop(self, message: str) -> None:
        self._stop_message = message
        if self._stopping_task is not None and not self._stopping_task.done():
            self._stopping_task.cancel()

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            self.progress.tick()

    async def _run_entrypoint(self) -> None:
        await self.execute(
            self.name, self.name, {"template": self.model.entrypoint}, self.model.scope,
            dict(self.model.parameters), boundary=None)

    def _workflow_phase(self) -> tuple[str, str]:
        root = self.root
        if self._stop_message:
            detail = self._stop_message
            if self._stop_message == DEADLINE_MESSAGE:
                seconds = self.model.spec.get("activeDeadlineSeconds")
                detail = f"Workflow exceeded its deadline ({seconds}s): {DEADLINE_MESSAGE}"
            if root is not None and not root.fulfilled:
                root.finish(FAILED, self._stop_message)
            return FAILED, detail
        if root is None:
            return ERROR, "the workflow did not start"
        if root.phase == SUCCEEDED:
            stubbed = sum(1 for node in self.nodes if node.stubbed)
            note = f"{stubbed} container task(s) stubbed, not run" if stubbed else ""
            return SUCCEEDED, note
        phase = root.phase if root.phase in FAILED_OR_ERROR else FAILED
        cause = self._first_failure()
        if cause is None or cause is root:
            message = root.message
        elif cause.message:
            message = f"{cause.display_name}: {cause.message}"
        else:
            message = f"{cause.display_name} {cause.phase.lower()}"
        return phase, "; ".join([message, *self._run_notes])

    def _first_failure(self) -> Node | None:
        """The task that failed first: the root cause a workflow's message should name."""
        failures = [node for node in self.nodes
                    if node.failed_or_error and node.attempt_of is None
                    and node.type in ("Pod", "Retry", "Skipped", "Suspend")]
        return min(failures, key=lambda node: node.finished_at or self.started_at,
                   default=None)

    async def _run_exit_handler(self, phase: str, message: str) -> tuple[str, str]:
        # The exit handler sees the workflow's status and failures (docs/variables.md,
        # "Exit Handler"); if it fails after a successful run, the workflow fails
        # (the controller's operate(): "the exit node was unsuccessful").
        failures = [
            {"displayName": node.display_name, "message": node.message,
             "templateName": node.template_name or "", "phase": node.phase,
             "podName": self._pod_name(node), "finishedAt": _rfc3339(node.finished_at)}
            for node in self.nodes if node.phase in FAILED_OR_ERROR and node.attempt_of is None
        ]
        self.global_scope["workflow.status"] = phase
        self.global_scope["workflow.failures"] = json.dumps(failures, separators=(",", ":"))
        handler = asyncio.ensure_future(self.execute(
            f"{self.name}.onExit", f"{self.name}.onExit", {"template": self.model.on_exit},
            self.model.scope, dict(self.model.parameters), boundary=None))
        self._stopping_task = handler
        try:
            exit_node = await handler
        except asyncio.CancelledError:
            return FAILED, self._stop_message or "exit handler stopped"
        if phase == SUCCEEDED and exit_node.failed_or_error:
            return exit_node.phase, exit_node.message or "the exit handler failed"
        return phase, message

    # ------------------------------------------------------------------ templates

    async def execute(self, name: str, display: str, holder: Mapping[str, Any],
                      scope: TemplateScope, arguments: dict[str, str],
                      boundary: Node | None) -> Node:
        """Run the template `holder` refers to as node `name` (Argo's executeTemplate)."""
        try:
            template, template_scope = self.model.resolve(holder, scope)
        except ConfigurationError as error:
            return self._error_node(name, display, None, boundary, error.message)
        kind = template_kind(template) or "unknown"
        try:
            # Argo replaces the global variables in the template (its input defaults too)
            # before it reads the inputs.
            inputs = substitute(_inputs(template, arguments), self._lookup({}))
        except _NodeError as error:
            return self._error_node(name, display, template.get("name"), boundary, str(error))
        retry = template.get("retryStrategy")
        if retry is None and kind in _POD_KINDS:
            # The workflow's retryStrategy is the default of its tasks (not of its DAGs).
            retry = self.model.spec.get("retryStrategy")
        try:
            if retry:
                return await self._execute_with_retries(name, display, template, template_scope,
                                                        kind, inputs, boundary, retry)
            return await self._execute_once(name, display, template, template_scope, kind,
                                            inputs, boundary, attempt=None, log_base=None)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a defect of the runner: record it, keep the run going
            self._record_internal_error(name)
            return self._error_node(name, display, template.get("name"), boundary,
                                    f"internal error of the local runner: {error!r}")

    async def _execute_with_retries(self, name: str, display: str, template: dict[str, Any],
                                    scope: TemplateScope, kind: str, inputs: dict[str, str],
                                    boundary: Node | None, retry: Mapping[str, Any]) -> Node:
        # Argo makes a Retry node whose children are the attempts `name(0)`, `name(1)`...
        # A missing `limit` retries without end (docs/retries.md); retryPolicy defaults to
        # OnFailure; OnTransientError never retries here, as no local error is transient.
        node = self._new_node(name, display, "Retry", template.get("name"), boundary)
        node.inputs = inputs
        node.start()
        lookup = self._lookup({"inputs.parameters." + k: v for k, v in inputs.items()})
        limit_text = substitute(retry.get("limit"), lookup) if "limit" in retry else None
        limit = _integer(limit_text) if limit_text is not None else None
        policy = retry.get("retryPolicy") or "OnFailure"
        backoff = retry.get("backoff") or {}
        base = self._log_base(name)
        first_start = time.monotonic()
        attempt = 0
        try:
            while True:
                child = await self._execute_once(
                    f"{name}({attempt})", f"{display}({attempt})", template, scope, kind,
                    inputs, boundary, attempt=attempt,
                    log_base=f"{base}.attempt-{attempt + 1}", retry_node=node)
                node.children.append(child)
                if not child.failed_or_error or not _policy_retries(policy, child.phase):
                    break
                if limit is not None and attempt >= limit:
                    break
                delay = _backoff_delay(backoff, attempt)
                max_duration = _duration(backoff.get("maxDuration"))
                if max_duration is not None and \
                        time.monotonic() - first_start + delay > max_duration:
                    break
                self.progress.task_retrying(child, delay)
                if delay:
                    await asyncio.sleep(delay)
                attempt += 1
        except asyncio.CancelledError:
            self._stopped(node)
            raise
        node.result, node.parameters = child.result, dict(child.parameters)
        node.exit_code = child.exit_code
        message = child.message
        if child.failed_or_error and len(node.children) > 1:
            message = f"No more retries left: {child.message}" if child.message else \
                "No more retries left"
        node.finish(child.phase, message)
        return node

    async def _execute_once(self, name: str, display: str, template: dict[str, Any],
                            scope: TemplateScope, kind: str, inputs: dict[str, str],
                            boundary: Node | None, *, attempt: int | None,
                            log_base: str | None, retry_node: Node | None = None) -> Node:
        node_type = {"dag": "DAG", "steps": "Steps", "suspend": "Suspend"}.get(kind, "Pod")
        node = self._new_node(name, display, node_type, template.get("name"), boundary)
        node.attempt_of = retry_node
        node.inputs = inputs
        local = self._template_variables(node, template, inputs, attempt)
        try:
            body = substitute(template, self._lookup(local), strict=kind in _POD_KINDS)
        except UnresolvedTagError as error:
            node.finish(ERROR, str(error))
            self._finished(node, was="none")
            return node
        if kind == "dag":
            await self._run_dag(node, template, body, scope)
        elif kind == "steps":
            await self._run_steps(node, body, scope)
        elif kind == "suspend":
            self._run_suspend(node, body)
        else:
            await self._run_pod(node, body, kind, log_base or self._log_base(name))
        return node

    def _template_variables(self, node: Node, template: Mapping[str, Any],
                            inputs: dict[str, str], attempt: int | None) -> dict[str, str]:
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
        values["pod.name"] = self._pod_name(node)
        if attempt is not None:
            values["retries"] = str(attempt)
        for parameter in (template.get("outputs") or {}).get("parameters") or []:
            path = (parameter.get("valueFrom") or {}).get("path")
            if path:
                values[f"outputs.parameters.{parameter['name']}.path"] = path
        return values

    # ------------------------------------------------------------------ DAG

    async def _run_dag(self, node: Node, original: Mapping[str, Any], body: dict[str, Any],
                       scope: TemplateScope) -> None:
        plan = self.model.dag_plan(original)
        tasks = {task["name"]: task for task in body["dag"].get("tasks") or []}
        fail_fast = _truthy(body["dag"].get("failFast", True))
        limit = _semaphore(body.get("parallelism"))
        node.start()
        finished: dict[str, Node] = {}
        running: dict[asyncio.Future[Node], str] = {}
        waiting = list(plan.tasks)
        failed_fast: Node | None = None
        not_started: list[str] = []
        try:
            while True:
                progressed = True
                while progressed:
                    progressed = False
                    for task_name in list(waiting):
                        if not all(dep in finished for dep in plan.dependencies(task_name)):
                            continue
                        waiting.remove(task_name)
                        progressed = True
                        early = self._dag_depends(node, task_name, plan, finished)
                        if early is not None:  # Omitted (or a bad depends): nothing to start
                            finished[task_name] = early
                            continue
                        if failed_fast is not None:
                            not_started.append(task_name)
                            continue
                        future = asyncio.ensure_future(self._run_dag_task(
                            node, task_name, tasks[task_name], plan, finished, scope, limit))
                        running[future] = task_name
                if not running:
                    break
                done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for future in done:
                    task_name = running.pop(future)
                    task_node = future.result()
                    finished[task_name] = task_node
                    if (fail_fast and failed_fast is None and task_node.failed_or_error
                            and not _continues_on(tasks[task_name], task_node.phase)
                            and not plan.failure_handled(task_name)):
                        failed_fast = task_node
        except asyncio.CancelledError:
            await _cancel_all(running)
            self._stopped(node)
            raise
        not_started.extend(waiting)
        if failed_fast is not None and not_started:
            # failFast (the default): once a task fails and no other task handles that
            # failure, the DAG starts nothing new, lets running tasks end, and fails
            # (docs/fields.md, DAGTemplate.failFast; argo-workflows issue 1442).
            node.finish(failed_fast.phase,
                        f"child '{failed_fast.display_name}' {failed_fast.phase.lower()}"
                        f" and failFast is set; {len(not_started)} task(s) not started")
            self._run_notes.append(f"failFast: {len(not_started)} task(s) of "
                                   f"'{node.display_name}' not started")
            return
        phase, culprit = _assess_dag(plan, tasks, finished)
        if phase != SUCCEEDED:
            node.finish(phase, f"child '{culprit}' {phase.lower()}")
            return
        self._group_outputs(node, body, self._task_scope(finished))

    def _dag_depends(self, dag_node: Node, task_name: str, plan: DagPlan,
                     finished: dict[str, Node]) -> Node | None:
        """The Omitted/Error node of a task whose `depends` does not let it run, else None."""
        expression = plan.depends[task_name]
        if expression is None:
            return None
        node_name = f"{dag_node.name}.{task_name}"
        template = plan.tasks[task_name].get("template")
        try:
            results = {dep: _task_results(finished[dep]) for dep in expression.tasks}
            go = expression.evaluate(results)
        except ExpressionError as error:
            return self._error_node(node_name, task_name, template, dag_node, str(error))
        if go:
            return None
        node = self._new_node(node_name, task_name, "Skipped", template, dag_node)
        node.finish(OMITTED, "omitted: depends condition not met")
        self._finished(node, was="none")
        return node

    async def _run_dag_task(self, dag_node: Node, task_name: str, task: dict[str, Any],
                            plan: DagPlan, finished: dict[str, Node], scope: TemplateScope,
                            limit: asyncio.Semaphore | None) -> Node:
        # Like Argo, a task sees the outputs of its ancestors only.
        ancestors = {name: finished[name] for name in plan.ancestors(task_name)}
        variables = self._task_scope(ancestors)
        call = substitute(task, self._lookup(variables))
        node_name = f"{dag_node.name}.{task_name}"
        return await self._run_call_or_loop(node_name, task_name, call, scope, dag_node, limit,
                                            group_type="TaskGroup")

    # ------------------------------------------------------------------ steps

    async def _run_steps(self, node: Node, body: dict[str, Any], scope: TemplateScope) -> None:
        limit = _semaphore(body.get("parallelism"))
        node.start()
        done_steps: dict[str, Node | list[Node]] = {}
        group_node: Node | None = None
        try:
            for index, group in enumerate(body.get("steps") or []):
                group_node = self._new_node(f"{node.name}[{index}]", f"[{index}]", "StepGroup",
                                            None, node)
                group_node.start()
                variables = self._steps_scope(done_steps)
                outcomes = await _gather([
                    self._run_step(group_node, step, variables, scope, node, limit)
                    for step in group or []])
                failures = []
                for step, outcome in zip(group or [], outcomes, strict=True):
                    done_steps[step["name"]] = outcome
                    for child in outcome if isinstance(outcome, list) else [outcome]:
                        if child.failed_or_error and not _continues_on(step, child.phase):
                            failures.append(child)
                if failures:
                    message = f"child '{failures[0].display_name}' {failures[0].phase.lower()}"
                    group_node.finish(FAILED, message)
                    node.finish(FAILED, message)
                    return
                group_node.finish(SUCCEEDED)
        except asyncio.CancelledError:
            if group_node is not None:
                self._stopped(group_node)
            self._stopped(node)
            raise
        self._group_outputs(node, body, self._steps_scope(done_steps))

    async def _run_step(self, group_node: Node, step: dict[str, Any], variables: dict[str, str],
                        scope: TemplateScope, steps_node: Node,
                        limit: asyncio.Semaphore | None) -> Node | list[Node]:
        call = substitute(step, self._lookup(variables))
        node_name = f"{group_node.name}.{step['name']}"
        return await self._run_call_or_loop(node_name, step["name"], call, scope, steps_node,
                                            limit, group_type=None)

    # ------------------------------------------------------------------ calls and loops

    async def _run_call_or_loop(self, node_name: str, display: str, call: dict[str, Any],
                                scope: TemplateScope, boundary: Node,
                                limit: asyncio.Semaphore | None, *,
                                group_type: str | None) -> Any:
        """Run a task or step, expanding its loop: a DAG gets a TaskGroup node, steps a list."""
        template = call.get("template") or (call.get("templateRef") or {}).get("template")
        if not has_loop(call):
            return await self._run_call(node_name, display, call, scope, boundary, limit, None)
        try:
            items = expand_loop(call)
        except LoopError as error:
            return self._error_node(node_name, display, template, boundary, str(error))
        if not items:
            node = self._new_node(node_name, display, "Skipped", template, boundary)
            node.finish(SKIPPED, "Skipped, empty params")
            self._finished(node, was="none")
            return node
        group = None
        if group_type is not None:
            group = self._new_node(node_name, display, group_type, template, boundary)
            group.start()
        try:
            children = await _gather([
                self._run_call(node_name + item.node_suffix(), display + item.node_suffix(),
                               call, scope, boundary, limit, item) for item in items])
        except asyncio.CancelledError:
            if group is not None:
                self._stopped(group)
            raise
        if group is None:
            return children
        group.children = list(children)
        # Argo's task group takes the phase of a failed or errored child, else succeeds.
        phase = SUCCEEDED
        for child in children:
            if child.failed_or_error:
                phase = child.phase
        group.finish(phase)
        return group

    async def _run_call(self, node_name: str, display: str, call: dict[str, Any],
                        scope: TemplateScope, boundary: Node, limit: asyncio.Semaphore | None,
                        item: Item | None) -> Node:
        template = call.get("template") or (call.get("templateRef") or {}).get("template")
        if item is not None:
            loop_free = {k: v for k, v in call.items()
                         if k not in ("withItems", "withParam", "withSequence")}
            try:
                call = substitute(loop_free, item.variables, strict=True,
                                  strict_prefixes=("item",))
            except UnresolvedTagError as error:
                return self._error_node(node_name, display, template, boundary, str(error))
        when = call.get("when")
        if when:
            try:
                substitute(str(when), {}, strict=True)
                go = evaluate_when(str(when))
            except UnresolvedTagError as error:
                return self._error_node(node_name, display, template, boundary,
                                        f"invalid 'when' expression: {error}")
            except ExpressionError as error:
                return self._error_node(node_name, display, template, boundary,
                                        f"invalid 'when' expression: {error}")
            if not go:
                node = self._new_node(node_name, display, "Skipped", template, boundary)
                node.finish(SKIPPED, f"when '{when}' evaluated false")
                self._finished(node, was="none")
                return node
        parameters = (call.get("arguments") or {}).get("parameters") or []
        arguments = {p["name"]: format_value(p["value"]) for p in parameters if "value" in p}
        try:
            substitute(arguments, {}, strict=True)
        except UnresolvedTagError as error:
            return self._error_node(node_name, display, template, boundary, str(error))
        async with _maybe(limit):
            return await self.execute(node_name, display, call, scope, arguments, boundary)

    # ------------------------------------------------------------------ pods

    async def _run_pod(self, node: Node, body: dict[str, Any], kind: str, log_base: str) -> None:
        node.kind = kind
        log_path = self._log_path(log_base)
        node.logs.append(log_path)
        spec = body[kind]
        outputs = (body.get("outputs") or {}).get("parameters") or []
        if kind == "container":
            if self.options.stub_containers:
                self._stub(node, spec, outputs, log_path)
                return
            if self.options.runtime is None:
                message = ("not runnable here: a container task needs a working docker or "
                           f"podman ({self.options.runtime_problem})")
                log_path.write_text(message + "\n", encoding="utf-8")
                node.finish(ERROR, message)
                self._finished(node, was="none")
                return
        try:
            launch = self._prepare_launch(node, body, kind, log_base)
        except _NodeError as error:
            log_path.write_text(f"{error}\n", encoding="utf-8")
            node.finish(ERROR, str(error))
            self._finished(node, was="none")
            return
        deadline = _min_seconds(body.get("activeDeadlineSeconds"), _duration(body.get("timeout")))
        self.progress.task_pending(node)
        state = "pending"
        try:
            async with contextlib.AsyncExitStack() as stack:
                for path in sorted(launch.shared_paths):
                    lock = self._path_lock(path)
                    if lock.locked():
                        self._notice_once(
                            f"tasks writing their outputs to {path} take turns here (on Argo "
                            "each pod has its own file system)")
                    await stack.enter_async_context(lock)
                assert self._slots is not None
                await stack.enter_async_context(self._slots)
                launch.snapshot_outputs()
                node.start(RUNNING)
                self.progress.task_running(node)
                state = "running"
                outcome = await executors.run_process(
                    launch.argv, env=launch.env, cwd=launch.cwd, log_path=log_path,
                    workers=self._workers, timeout=deadline, live=self._processes)
                if kind == "container":
                    await self._container_outputs(launch)
        except asyncio.CancelledError:
            if kind == "container" and state == "running":
                await self._remove_container(launch.container_name)
            node.finish(FAILED, self._stop_message)
            self._finished(node, was=state)
            raise
        if kind == "container":
            await self._remove_container(launch.container_name)
        node.exit_code = outcome.exit_code
        node.result = executors.result_text(outcome.stdout)
        problems = self._collect_outputs(node, outputs, launch)
        if outcome.start_error:
            node.finish(ERROR, outcome.start_error)
        elif outcome.timed_out:
            node.finish(FAILED, DEADLINE_MESSAGE)
        elif outcome.exit_code != 0:
            node.finish(FAILED, f"Error (exit code {outcome.exit_code})")
        elif problems:
            # Argo's wait container fails to save the outputs: the node errors.
            node.finish(ERROR, "failed to save outputs: " + "; ".join(problems))
        else:
            node.finish(SUCCEEDED)
            self._publish_globals(outputs, node)
        self._finished(node, was="running")

    def _prepare_launch(self, node: Node, body: dict[str, Any], kind: str,
                        log_base: str) -> _Launch:
        spec = body[kind]
        work_dir = str(self.options.work_dir)
        env_vars = _env_values(spec.get("env") or [])
        outputs = (body.get("outputs") or {}).get("parameters") or []
        remap: dict[str, str] = {}
        hera_outputs = env_vars.get("hera__outputs_directory")
        if hera_outputs:
            # Hera's runner writes annotated outputs under this directory: give each attempt
            # its own, so that concurrent tasks do not overwrite each other's outputs.
            local_dir = self.options.run_dir / "outputs" / log_base
            local_dir.mkdir(parents=True, exist_ok=True)
            env_vars["hera__outputs_directory"] = str(local_dir)
            remap[hera_outputs.rstrip("/")] = str(local_dir)
        launch = _Launch(cwd=work_dir)
        for parameter in outputs:
            path = (parameter.get("valueFrom") or {}).get("path")
            if not path:
                continue
            local_path = _remapped(path, remap)
            if kind == "container":
                local_path = str(self.options.run_dir / "outputs" / log_base / parameter["name"])
            elif not os.path.isabs(local_path):
                local_path = os.path.join(work_dir, local_path)
            launch.output_paths[parameter["name"]] = (path, local_path)
            if kind == "script" and _remapped(path, remap) == path:
                # A fixed path is private to each pod on Argo but shared by every process
                # here: tasks writing it must take turns.
                launch.shared_paths.add(os.path.normpath(local_path))
        if self.options.volume_dir is not None:
            env_vars["HERA_UTILS_VOLUME_DIR"] = str(self.options.volume_dir)
        if kind == "script":
            launch.env = self._script_environment(env_vars)
            launch.argv = self._script_command(spec, _file_name(node.template_name or "script"))
        else:
            launch.env = {**os.environ}
            launch.argv, launch.container_name = self._container_command(node, spec, env_vars)
            for name, (path, local_path) in launch.output_paths.items():
                Path(local_path).parent.mkdir(parents=True, exist_ok=True)
                launch.copies.append((path, local_path, name))
        return launch

    def _script_environment(self, env_vars: dict[str, str]) -> dict[str, str]:
        env = {**os.environ, **env_vars}
        work_dir = str(self.options.work_dir)
        existing = env.get("PYTHONPATH")
        env["PYTHONPATH"] = work_dir + (os.pathsep + existing if existing else "")
        env.setdefault("PYTHONUNBUFFERED", "1")  # logs show progress as it happens
        return env

    def _script_command(self, spec: dict[str, Any], template_name: str) -> list[str]:
        command = [str(word) for word in spec.get("command") or []]
        if not command:
            raise _NodeError("the script template has no command (e.g. [python] or [bash])")
        program = os.path.basename(command[0])
        suffix = ".py" if executors.python_interpreter(program) != program else \
            ".sh" if program in _SHELLS else ""
        # Argo writes the source to a file and appends its path to the command line. Files
        # are named by content: the many tasks of a loop often share one resolved source.
        source = str(spec.get("source", ""))
        digest = hashlib.sha1(source.encode("utf-8")).hexdigest()[:12]
        script = self.options.run_dir / "scripts" / f"{template_name}-{digest}{suffix}"
        if script not in self._scripts:
            script.parent.mkdir(exist_ok=True)
            script.write_text(source, encoding="utf-8")
            self._scripts.add(script)
        args = [str(word) for word in spec.get("args") or []]
        return [executors.python_interpreter(command[0]), *command[1:], *args, str(script)]

    def _container_command(self, node: Node, spec: dict[str, Any], env_vars: dict[str, str]
                           ) -> tuple[list[str], str]:
        assert self.options.runtime is not None
        self._containers += 1
        name = re.sub(r"[^a-zA-Z0-9_.-]", "-", f"hera-local-{self.name}-{self._containers}")
        mounts = []
        for mount in spec.get("volumeMounts") or []:
            path = mount.get("mountPath")
            if path and os.path.isdir(path):
                mounts.append((path, path))
        if self.options.volume_dir is not None:
            mounts.append((str(self.options.volume_dir), str(self.options.volume_dir)))
        argv = executors.container_run_command(
            self.options.runtime, name=name, image=str(spec.get("image", "")),
            command=[str(w) for w in spec.get("command") or []],
            args=[str(w) for w in spec.get("args") or []], env=env_vars, mounts=mounts,
            working_dir=spec.get("workingDir"))
        return argv, name

    async def _container_outputs(self, launch: _Launch) -> None:
        assert self.options.runtime is not None
        for path, local_path, _ in launch.copies:
            await _quiet_command([self.options.runtime.path, "cp",
                                  f"{launch.container_name}:{path}", local_path])

    async def _remove_container(self, name: str) -> None:
        if self.options.runtime is not None and name:
            await _quiet_command([self.options.runtime.path, "rm", "-f", name])

    def _collect_outputs(self, node: Node, outputs: list[dict[str, Any]], launch: _Launch
                         ) -> list[str]:
        problems = []
        for parameter in outputs:
            name = parameter["name"]
            source = parameter.get("valueFrom") or {}
            if "path" not in source:
                if "value" in parameter:
                    node.parameters[name] = format_value(parameter["value"])
                continue
            path, local_path = launch.output_paths[name]
            text = launch.read_output(local_path)
            if text is None:
                if "default" in source:
                    text = format_value(source["default"])
                else:
                    problems.append(f"open {path}: no such file or directory")
                    continue
            # Argo trims one trailing newline of an output parameter file, for convenience.
            node.parameters[name] = text[:-1] if text.endswith("\n") else text
        return problems

    def _stub(self, node: Node, spec: dict[str, Any], outputs: list[dict[str, Any]],
              log_path: Path) -> None:
        command = [*(spec.get("command") or []), *(spec.get("args") or [])]
        description = (f"image {spec.get('image')}, command "
                       f"{json.dumps(command) if command else '(the image default)'}")
        log_path.write_text(f"stubbed container task, not run: {description}\n",
                            encoding="utf-8")
        self.progress.notice(f"stub {node.display_name}: {description}")
        node.stubbed = True
        node.start()
        node.result = ""
        for parameter in outputs:
            source = parameter.get("valueFrom") or {}
            default = source.get("default", parameter.get("value", ""))
            node.parameters[parameter["name"]] = format_value(default)
        node.finish(SUCCEEDED, f"stubbed: {description}")
        self._finished(node, was="none")

    def _run_suspend(self, node: Node, body: dict[str, Any]) -> None:
        duration = (body.get("suspend") or {}).get("duration")
        note = f" (duration {duration})" if duration else ""
        self.progress.notice(f"suspend {node.display_name}{note}: not waiting in a local run")
        node.start()
        for parameter in (body.get("outputs") or {}).get("parameters") or []:
            source = parameter.get("valueFrom") or {}
            value = source.get("default", parameter.get("default", parameter.get("value")))
            if value is not None:
                node.parameters[parameter["name"]] = format_value(value)
        node.finish(SUCCEEDED, "suspend: not waiting in a local run")
        self._finished(node, was="none")

    # ------------------------------------------------------------------ scopes and outputs

    def _global_scope(self) -> dict[str, str]:
        metadata, spec = self.model.metadata, self.model.spec
        created = self.started_at
        values = {
            "workflow.name": self.name,
            "workflow.namespace": str(metadata.get("namespace") or "default"),
            "workflow.uid": str(uuid.uuid4()),
            "workflow.serviceAccountName": str(spec.get("serviceAccountName") or "default"),
            "workflow.mainEntrypoint": self.model.entrypoint,
            "workflow.priority": str(spec.get("priority", 0)),
            "workflow.creationTimestamp": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "workflow.creationTimestamp.RFC3339": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        parameters = self.model.parameter_list()
        values["workflow.parameters"] = json.dumps(parameters, separators=(",", ":"))
        values["workflow.parameters.json"] = values["workflow.parameters"]
        for key, value in self.model.parameters.items():
            values[f"workflow.parameters.{key}"] = value
        for section in ("annotations", "labels"):
            entries = metadata.get(section) or {}
            values[f"workflow.{section}.json"] = json_text(entries)
            for key, value in entries.items():
                values[f"workflow.{section}.{key}"] = str(value)
        return values

    def _lookup(self, local: Mapping[str, str]) -> Callable[[str], str | None]:
        def find(tag: str) -> str | None:
            value = local.get(tag)
            if value is None:
                value = self.global_scope.get(tag)
            if value is None and tag.startswith("workflow.creationTimestamp."):
                code = tag.rsplit(".", 1)[1]
                if len(code) == 1 and code.isalpha():
                    value = self.started_at.strftime("%" + code)
            if value is None and tag == "workflow.duration":
                value = f"{time.monotonic() - self._started_clock:.3f}"
            return value

        return find

    def _task_scope(self, nodes: Mapping[str, Node]) -> dict[str, str]:
        variables: dict[str, str] = {}
        for name, node in nodes.items():
            _node_variables(variables, f"tasks.{name}", node,
                            node.children if node.type == "TaskGroup" else None)
        return variables

    def _steps_scope(self, steps: Mapping[str, Node | list[Node]]) -> dict[str, str]:
        variables: dict[str, str] = {}
        for name, outcome in steps.items():
            if isinstance(outcome, list):
                _node_variables(variables, f"steps.{name}", _merged_status(outcome), outcome)
            else:
                _node_variables(variables, f"steps.{name}", outcome, None)
        return variables

    def _group_outputs(self, node: Node, body: dict[str, Any], variables: dict[str, str]
                       ) -> None:
        """Set a DAG or steps template's outputs (valueFrom.parameter), then succeed."""
        outputs = (body.get("outputs") or {}).get("parameters") or []
        lookup = self._lookup(variables)
        for parameter in outputs:
            source = parameter.get("valueFrom") or {}
            raw = source.get("parameter", parameter.get("value"))
            if raw is None:
                continue
            try:
                node.parameters[parameter["name"]] = substitute(str(raw), lookup, strict=True)
            except UnresolvedTagError as error:
                if "default" in source:
                    node.parameters[parameter["name"]] = format_value(source["default"])
                    continue
                node.finish(ERROR, f"output parameter '{parameter['name']}': {error}")
                return
        node.finish(SUCCEEDED)
        self._publish_globals(outputs, node)

    def _publish_globals(self, outputs: Iterable[Mapping[str, Any]], node: Node) -> None:
        for parameter in outputs:
            global_name = parameter.get("globalName")
            if global_name and parameter["name"] in node.parameters:
                self.global_scope[f"workflow.outputs.parameters.{global_name}"] = \
                    node.parameters[parameter["name"]]

    # ------------------------------------------------------------------ bookkeeping

    def _new_node(self, name: str, display: str, node_type: str, template: str | None,
                  boundary: Node | None) -> Node:
        node = Node(name=name, display_name=display, type=node_type, template_name=template,
                    boundary=boundary)
        self.nodes.append(node)
        if self.root is None and name == self.name:
            self.root = node  # known even if the run is stopped before the node returns
        return node

    def _error_node(self, name: str, display: str, template: str | None,
                    boundary: Node | None, message: str) -> Node:
        node = self._new_node(name, display, "Skipped", template, boundary)
        node.finish(ERROR, message)
        self._finished(node, was="none")
        return node

    def _finished(self, node: Node, *, was: str) -> None:
        if node.type in ("Pod", "Skipped", "Suspend"):
            self.progress.task_finished(node, was=was)

    def _stopped(self, node: Node) -> None:
        if not node.fulfilled:
            node.finish(FAILED, self._stop_message or "stopped")

    def _notice_once(self, text: str) -> None:
        if text not in self._noticed:
            self._noticed.add(text)
            self.progress.notice(text)

    def _pod_name(self, node: Node) -> str:
        template = node.template_name or "node"
        return f"{self.name}-{template}-{zlib.crc32(node.name.encode()) % 10**10}"

    def _log_base(self, node_name: str) -> str:
        relative = node_name[len(self.name):] if node_name.startswith(self.name) else node_name
        relative = re.sub(r"\[\d+\]", "", relative).strip(".") or self.model.entrypoint
        return re.sub(r"[^A-Za-z0-9._()-]+", "-", relative)[:180]

    def _log_path(self, base: str) -> Path:
        candidate, counter = base, 1
        while candidate in self._log_names:
            counter += 1
            candidate = f"{base}-{counter}"
        self._log_names.add(candidate)
        return self.options.run_dir / f"{candidate}.log"

    def _path_lock(self, path: str) -> asyncio.Lock:
        lock = self._path_locks.get(path)
        if lock is None:
            lock = self._path_locks[path] = asyncio.Lock()
        return lock

    def _record_internal_error(self, name: str) -> None:
        with contextlib.suppress(OSError), \
                open(self.options.run_dir / "internal-error.txt", "a", encoding="utf-8") as f:
            f.write(f"node {name}:\n{traceback.format_exc()}\n")


# --------------------------------------------------------------------------- helpers


@dataclass
class _Launch:
    """Everything needed to start one attempt and collect its outputs."""

    cwd: str
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    container_name: str = ""
    # parameter name -> (path as the template says, path on this machine)
    output_paths: dict[str, tuple[str, str]] = field(default_factory=dict)
    shared_paths: set[str] = field(default_factory=set)
    copies: list[tuple[str, str, str]] = field(default_factory=list)
    _before: dict[str, tuple[int, int, int] | None] = field(default_factory=dict)

    def snapshot_outputs(self) -> None:
        """Remember the output files already there, so a stale one is not taken as output."""
        for _, local_path in self.output_paths.values():
            self._before[local_path] = _stat(local_path)

    def read_output(self, local_path: str) -> str | None:
        """The output file's text, or None if the attempt did not write it."""
        now = _stat(local_path)
        if now is None or (now == self._before.get(local_path)):
            return None
        try:
            return Path(local_path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text)[:100] or "script"


def _stat(path: str) -> tuple[int, int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size, info.st_ino)


def _remapped(path: str, remap: Mapping[str, str]) -> str:
    for prefix, target in remap.items():
        if path == prefix or path.startswith(prefix + "/"):
            return target + path[len(prefix):]
    return path


def _inputs(template: Mapping[str, Any], arguments: Mapping[str, str]) -> dict[str, str]:
    # Argo's ProcessArgs: the template's value, else its default, overridden by the
    # caller's argument; a parameter left without a value is an error; enums are checked.
    values: dict[str, str] = {}
    for parameter in (template.get("inputs") or {}).get("parameters") or []:
        name = parameter["name"]
        if name in arguments:
            value: str | None = arguments[name]
        elif "value" in parameter:
            value = format_value(parameter["value"])
        elif "default" in parameter:
            value = format_value(parameter["default"])
        else:
            value = None
        if value is None:
            raise _NodeError(f"inputs.parameters.{name} was not supplied")
        enum = parameter.get("enum")
        if enum and value not in [format_value(choice) for choice in enum]:
            raise _NodeError(f"inputs.parameters.{name}: value {value!r} is not in enum {enum}")
        values[name] = value
    return values


def _env_values(env: list[Mapping[str, Any]]) -> dict[str, str]:
    values = {}
    for variable in env:
        name = variable.get("name")
        if not name:
            continue
        if "value" in variable:
            values[name] = format_value(variable["value"])
        elif variable.get("valueFrom") and name in os.environ:
            values[name] = os.environ[name]  # validated: taken from this machine
    return values


def _task_results(node: Node) -> TaskResults:
    children = node.children if node.type == "TaskGroup" else []
    return TaskResults(
        succeeded=node.phase == SUCCEEDED, failed=node.phase == FAILED,
        errored=node.phase == ERROR, skipped=node.phase == SKIPPED,
        omitted=node.phase == OMITTED,
        any_succeeded=any(child.phase == SUCCEEDED for child in children),
        all_failed=bool(children) and all(child.phase == FAILED for child in children))


def _node_variables(variables: dict[str, str], prefix: str, node: Node,
                    items: list[Node] | None) -> None:
    variables[f"{prefix}.status"] = node.phase
    variables[f"{prefix}.id"] = node.name
    if node.exit_code is not None:
        variables[f"{prefix}.exitCode"] = str(node.exit_code)
    if node.started_at is not None:
        variables[f"{prefix}.startedAt"] = _rfc3339(node.started_at)
    if node.finished_at is not None:
        variables[f"{prefix}.finishedAt"] = _rfc3339(node.finished_at)
    if items is None:
        if node.result is not None:
            variables[f"{prefix}.outputs.result"] = node.result
        for key, value in node.parameters.items():
            variables[f"{prefix}.outputs.parameters.{key}"] = value
        return
    # A loop's outputs are JSON lists over its succeeded iterations, in item order
    # (the controller's processAggregateNodeOutputs).
    results, maps, by_name = [], [], {}
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


def _merged_status(children: list[Node]) -> Node:
    phase = SUCCEEDED
    for child in children:
        if child.failed_or_error:
            phase = child.phase
    return Node(name=children[0].name.rsplit("(", 1)[0], display_name="", type="TaskGroup",
                phase=phase)


def _assess_dag(plan: DagPlan, tasks: Mapping[str, Mapping[str, Any]],
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
    for name in _topological(plan):
        node = finished.get(name)
        if node is None:
            continue
        if node.phase == OMITTED:
            incoming = [phase for dep in plan.dependencies(name)
                        for phase in branch.get(dep, [SUCCEEDED])] or [SUCCEEDED]
            branch[name] = incoming
            target_phase[name] = next((p for p in incoming if p in FAILED_OR_ERROR),
                                      incoming[0])
        else:
            target_phase[name] = node.phase
            if node.type == "TaskGroup" and node.children:
                branch[name] = [child.phase for child in node.children]
            else:
                branch[name] = [node.phase]
    for target in plan.targets:
        phase = target_phase.get(target)
        if phase in FAILED_OR_ERROR and not _continues_on(tasks.get(target, {}), phase):
            return phase, target  # type: ignore[return-value]
    return SUCCEEDED, ""


def _topological(plan: DagPlan) -> list[str]:
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for dependency in plan.dependencies(name):
            visit(dependency)
        order.append(name)

    for name in plan.tasks:
        visit(name)
    return order


def _continues_on(call: Mapping[str, Any], phase: str) -> bool:
    settings = call.get("continueOn") or {}
    return bool((phase == FAILED and settings.get("failed"))
                or (phase == ERROR and settings.get("error")))


def _policy_retries(policy: str, phase: str) -> bool:
    if policy == "Always":
        return True
    if policy == "OnError":
        return phase == ERROR
    if policy == "OnTransientError":
        return False
    return phase == FAILED  # OnFailure, the default


def _backoff_delay(backoff: Mapping[str, Any], attempt: int) -> float:
    base = _duration(backoff.get("duration"))
    if not base:
        return 0.0
    factor = float(_integer(backoff.get("factor")) or 1) if backoff.get("factor") else 1.0
    delay = base * factor ** attempt
    cap = _duration(backoff.get("cap"))
    return min(delay, cap) if cap else delay


def _duration(value: Any) -> float | None:
    """Seconds from an Argo duration: 30, "30", "30s", "2m", "1h30m"."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    return sum(float(number) * scale[unit] for number, unit in parts)


def _seconds(value: Any) -> float | None:
    seconds = _duration(value)
    return seconds if seconds and seconds > 0 else None


def _min_seconds(*values: Any) -> float | None:
    found = [s for s in (_seconds(v) for v in values) if s is not None]
    return min(found) if found else None


def _integer(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no")
    return bool(value)


def _semaphore(value: Any) -> asyncio.Semaphore | None:
    limit = _integer(value)
    return asyncio.Semaphore(limit) if limit and limit > 0 else None


@contextlib.asynccontextmanager
async def _maybe(semaphore: asyncio.Semaphore | None):  # type: ignore[no-untyped-def]
    if semaphore is None:
        yield
    else:
        async with semaphore:
            yield


def _rfc3339(value: Any) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value is not None else ""


async def _gather(coroutines: list[Awaitable[Any]]) -> list[Any]:
    """Run coroutines concurrently; if cancelled, cancel them all and wait for their cleanup."""
    futures = [asyncio.ensure_future(c) for c in coroutines]
    try:
        return await asyncio.gather(*futures)
    except asyncio.CancelledError:
        await _cancel_all(futures)
        raise


async def _cancel_all(futures: Iterable[asyncio.Future[Any]]) -> None:
    pending = [future for future in futures if not future.done()]
    for future in pending:
        future.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)


async def _quiet_command(argv: list[str], timeout: float = 60.0) -> None:
    with contextlib.suppress(OSError, asyncio.TimeoutError):
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL)
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except asyncio.TimeoutError:
            process.kill()
            raise

