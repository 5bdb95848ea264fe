"""The operator (the controller's `operator.go`): one workflow run from start to end.

It runs the entrypoint, then the exit handler, owns the run's deadline and interrupt, and
executes each template (Argo's `executeTemplate`): it resolves the template and its inputs,
wraps it in retries when asked, and hands its body to the module of its kind (`dag`,
`steps`, `pods`), which call back through the `context.Operator` protocol.

One asyncio coroutine per node; task processes are real subprocesses, at most
`parallelism` at a time. Where Argo's behaviour is subtle, the code follows its
documentation or its controller's code, and says so.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
import time
import traceback
import zlib
from collections.abc import Callable, Coroutine, Mapping
from pathlib import Path
from typing import Any

from hera_utils.errors import ConfigurationError

from . import artifacts, executors
from .context import DEADLINE_MESSAGE, NodeError, RunOptions
from .daemons import Daemons
from .dag import run_dag
from .exit_handler import finish_workflow_hooks, run_exit_handler, workflow_hooks
from .limits import MAX_NODES, MAX_STACK_DEPTH
from .model import POD_KINDS, TemplateScope, WorkflowModel, template_kind
from .nodes import ERROR, FAILED, FAILED_OR_ERROR, SUCCEEDED, Node, NodeType, stub_note, utc_now
from .parameters import ParameterProblem, resolve_parameters
from .pods import PodRunner, run_suspend
from .progress import Progress
from .reaper import become_subreaper, stop_escaped
from .retries import execute_with_retries
from .scope import (
    global_variables,
    group_outputs,
    make_lookup,
    published_globals,
    template_variables,
)
from .steps import run_steps
from .templating import UnresolvedTagError, substitute
from .values import positive_seconds, truthy
from .workers import Workers

__all__ = ["DEADLINE_MESSAGE", "RunOptions", "WorkflowOperator"]

_NODE_TYPES = {"dag": NodeType.DAG, "steps": NodeType.STEPS, "suspend": NodeType.SUSPEND}

_LOOP_INDEX = re.compile(r"\[\d+\]")
_NOT_IN_FILE_NAME = re.compile(r"[^A-Za-z0-9._()-]+")

class WorkflowOperator:
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
        self.global_scope = global_variables(model, name, self.started_at)
        self.interrupted = False
        self.stop_message = ""  # set when the run is being stopped (Ctrl-C, deadline)
        self._stopping_task: asyncio.Future[Any] | None = None
        self.processes: list[subprocess.Popen[bytes]] = []
        # One thread per running task follows its process; threads are reused.
        self.workers = Workers("hera-utils-local")
        self.slots = executors.process_slots(options.parallelism, self.workers)
        self.run_notes: list[str] = []
        self._path_locks: dict[str, asyncio.Lock] = {}
        self._log_names: set[str] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._noticed: set[str] = set()
        self._pods = PodRunner(self)
        self.daemons = Daemons(progress.notice)
        self._start_watchers: dict[str, Callable[[Node], None]] = {}

    # ------------------------------------------------------------------ the run

    async def run(self) -> tuple[str, str]:
        """Run the entrypoint, then the exit handler; return (phase, message)."""
        loop = self._loop = asyncio.get_running_loop()
        self.options.run_dir.mkdir(parents=True, exist_ok=True)
        ticker = asyncio.ensure_future(self._tick())
        subreaper = contextlib.ExitStack()
        subreaper.enter_context(become_subreaper())
        hooks = workflow_hooks(self)
        try:
            main = self._stopping_task = asyncio.ensure_future(
                self.run_root(self.name, self.model.entrypoint))
            deadline = positive_seconds(self.model.spec.get("activeDeadlineSeconds"))
            timer = loop.call_later(deadline, self._deadline_exceeded) if deadline else None
            hooks.evaluate({"workflow.status": "Running"})
            try:
                # A stop request (Ctrl-C, deadline) cancels `main`; its nodes record why.
                with contextlib.suppress(asyncio.CancelledError):
                    await main
                    await self.daemons.stop(None)  # those the entrypoint itself started
            finally:
                if timer is not None:
                    timer.cancel()
            phase, message = self._workflow_phase()
            if hooks.hooks:
                phase, message = await finish_workflow_hooks(self, hooks, phase, message)
            if self.model.on_exit and not self.interrupted:
                phase, message = await run_exit_handler(self, phase, message)
            return phase, message
        finally:
            await self.daemons.stop_all()
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            self.workers.shutdown()  # their last task directories are removed
            stop_escaped(self.options.run_id + ":")
            subreaper.close()

    def interrupt_threadsafe(self, reason: str) -> None:
        """`interrupt` from another thread than the run's (its loop does the work)."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.interrupt, reason)

    def interrupt(self, reason: str) -> None:
        """Stop the run now (Ctrl-C); a second call kills the task processes outright."""
        if self.interrupted:
            executors.force_kill(self.processes)
            return
        self.interrupted = True
        self._stop(f"Stopped: {reason}")

    def _deadline_exceeded(self) -> None:
        if not self.stop_message:
            self._stop(DEADLINE_MESSAGE)

    def _stop(self, message: str) -> None:
        self.stop_message = message
        if self._stopping_task is not None and not self._stopping_task.done():
            self._stopping_task.cancel()

    async def stoppable(self, work: Coroutine[Any, Any, Any]) -> asyncio.Future[Any]:
        """Await `work` as what a stop (Ctrl-C, deadline) cancels; return its future."""
        future = self._stopping_task = asyncio.ensure_future(work)
        with contextlib.suppress(asyncio.CancelledError):
            await future
        return future

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(0.25)
            self.progress.tick()

    async def run_root(self, name: str, template: str,
                       arguments: dict[str, str] | None = None) -> Node:
        """Run `template` as a root node: the entrypoint, or the exit handler."""
        holder = artifacts.root_call(template, self.model.spec, self.options.artifacts)
        return await self.execute(name, name, holder, self.model.scope,
                                  arguments or dict(self.model.parameters), boundary=None)

    def _workflow_phase(self) -> tuple[str, str]:
        root = self.root
        if self.stop_message:
            detail = self.stop_message
            if self.stop_message == DEADLINE_MESSAGE:
                seconds = self.model.spec.get("activeDeadlineSeconds")
                detail = f"Workflow exceeded its deadline ({seconds}s): {DEADLINE_MESSAGE}"
            if root is not None and not root.fulfilled:
                root.finish(FAILED, self.stop_message)
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
        return phase, "; ".join([message, *stub_note(self.nodes, cause), *self.run_notes])

    def _first_failure(self) -> Node | None:
        """The task that failed first: the root cause a workflow's message should name."""
        # A retried task is its Retry node, which ends with its last attempt.
        tasks = dict.fromkeys(node.attempt_of or node for node in self.nodes if node.is_task)
        failures = [node for node in tasks if node.failed_or_error]
        return min(failures, key=lambda node: node.finished_at or self.started_at,
                   default=None)

    # ------------------------------------------------------------------ templates

    async def execute(self, name: str, display: str, holder: Mapping[str, Any],
                      scope: TemplateScope, arguments: dict[str, str],
                      boundary: Node | None) -> Node:
        """Run the template `holder` refers to as node `name` (Argo's executeTemplate)."""
        beyond = self._beyond_limits(boundary)
        if beyond:
            return self.error_node(name, display, None, boundary, beyond)
        try:
            template, template_scope = self.model.resolve(holder, scope)
        except ConfigurationError as error:
            return self.error_node(name, display, None, boundary, error.message)
        kind = template_kind(template) or "unknown"
        try:
            # Argo replaces the global variables in the template (its input defaults too)
            # before it reads the inputs.
            inputs = substitute(_inputs(template, arguments), self.lookup({}))
            template = artifacts.resolve_inputs(self, template, holder, inputs)
        except NodeError as error:
            return self.error_node(name, display, template.get("name"), boundary, str(error))
        retry = template.get("retryStrategy")
        if retry is None and kind in POD_KINDS:
            # The workflow's retryStrategy is the default of its tasks (not of its DAGs).
            retry = self.model.spec.get("retryStrategy")
        try:
            # `retryStrategy: {}` retries without limit, as in Argo: only its absence is "no".
            if isinstance(retry, dict):
                return await execute_with_retries(self, name, display, template,
                                                  template_scope, kind, inputs, boundary, retry)
            return await self.execute_once(name, display, template, template_scope, kind,
                                           inputs, boundary, attempt=None, log_base=None)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # a defect of the runner: record it, keep the run going
            self._record_internal_error(name)
            return self.error_node(name, display, template.get("name"), boundary,
                                   f"internal error of the local runner: {error!r}")

    async def execute_once(self, name: str, display: str, template: dict[str, Any],
                           scope: TemplateScope, kind: str, inputs: dict[str, str],
                           boundary: Node | None, *, attempt: int | None,
                           log_base: str | None, retry_node: Node | None = None) -> Node:
        """Run one attempt of a template whose inputs are resolved."""
        node = self.new_node(name, display, _NODE_TYPES.get(kind, NodeType.POD),
                             template.get("name"), boundary)
        node.attempt_of = retry_node
        node.inputs = inputs
        local = template_variables(node, template, inputs, attempt, self.pod_name(node))
        try:
            body = substitute(template, self.lookup(local), strict=kind in POD_KINDS)
        except UnresolvedTagError as error:
            node.finish(ERROR, str(error))
            self.finished(node, was="none")
            return node
        if kind == "dag":
            await run_dag(self, node, template, body, scope)
        elif kind == "steps":
            await run_steps(self, node, body, scope)
        elif kind == "suspend":
            run_suspend(self, node, body)
        else:
            pod = self._pods.run(node, body, kind, log_base or self.log_base(name))
            await (self.daemons.run(node, pod, body[kind]) if truthy(body.get("daemon")) else pod)
        return node

    def _beyond_limits(self, boundary: Node | None) -> str:
        """Why no further node may start here ('' if it may): the run's bounds."""
        if len(self.nodes) >= MAX_NODES:
            return (f"the run has reached {MAX_NODES:,} nodes, the most a local run takes; "
                    "split the workflow, or run it on the cluster")
        depth, enclosing = 0, boundary
        while enclosing is not None and depth < MAX_STACK_DEPTH:
            depth, enclosing = depth + 1, enclosing.boundary
        if depth >= MAX_STACK_DEPTH:
            # Argo's controller stops a template stack this deep with the same words.
            return (f"Maximum recursion depth exceeded: templates nest more than "
                    f"{MAX_STACK_DEPTH} deep (does a template call itself without end?)")
        return ""

    def group_succeeded(self, node: Node, body: Mapping[str, Any],
                        variables: Mapping[str, str]) -> None:
        """Finish a DAG or steps node whose children succeeded: set its outputs."""
        problem = group_outputs(node, body, self.lookup(variables))
        if problem:
            node.finish(ERROR, problem)
            return
        node.finish(SUCCEEDED)
        outputs = (body.get("outputs") or {}).get("parameters") or []
        self.global_scope.update(published_globals(outputs, node))
        self.global_scope.update(artifacts.published_artifacts(body, node))

    def lookup(self, local: Mapping[str, str]) -> Callable[[str], str | None]:
        """Tag -> value: `local` first, then the workflow's variables."""
        return make_lookup(local, self.global_scope, self.started_at, self._started_clock)

    # ------------------------------------------------------------------ bookkeeping

    def new_node(self, name: str, display: str, node_type: str, template: str | None,
                 boundary: Node | None) -> Node:
        """A new node of the run."""
        node = Node(name=name, display_name=display, type=node_type, template_name=template,
                    boundary=boundary)
        node.on_start = self._start_watchers.get(name)
        self.nodes.append(node)
        if self.root is None and name == self.name:
            self.root = node  # known even if the run is stopped before the node returns
        return node

    def skipped_node(self, name: str, display: str, template: str | None,
                     boundary: Node | None, phase: str, message: str) -> Node:
        """A node that does not run (Skipped, Omitted or Error), finished and reported."""
        node = self.new_node(name, display, NodeType.SKIPPED, template, boundary)
        if phase != ERROR and template:
            # Argo v4.1: a node that did not run gives its outputs' `valueFrom.default`.
            node.parameters.update(self.model.output_defaults(template))
        node.finish(phase, message)
        self.finished(node, was="none")
        return node

    def error_node(self, name: str, display: str, template: str | None,
                   boundary: Node | None, message: str) -> Node:
        """A node that cannot run, in phase Error."""
        return self.skipped_node(name, display, template, boundary, ERROR, message)

    def finished(self, node: Node, *, was: str) -> None:
        """Report a finished node (tasks only)."""
        if node.is_task:
            self.progress.task_finished(node, was=was)

    def watch_start(self, name: str, callback: Callable[[Node], None] | None) -> None:
        """Have `callback` told when the node named `name` starts running (None: stop)."""
        if callback is None:
            self._start_watchers.pop(name, None)
        else:
            self._start_watchers[name] = callback

    def stopped(self, node: Node) -> None:
        """Finish a node the run's stop interrupted."""
        if not node.fulfilled:
            node.finish(FAILED, self.stop_message or "stopped")

    def notice_once(self, text: str) -> None:
        """Tell the user something, once per run."""
        if text not in self._noticed:
            self._noticed.add(text)
            self.progress.notice(text)

    def pod_name(self, node: Node) -> str:
        """The pod name Argo would give the node."""
        template = node.template_name or "node"
        return f"{self.name}-{template}-{zlib.crc32(node.name.encode()) % 10**10}"

    def log_base(self, node_name: str) -> str:
        """The file name (without suffix) of a node's log."""
        relative = node_name[len(self.name):] if node_name.startswith(self.name) else node_name
        if "[" in relative:
            relative = _LOOP_INDEX.sub("", relative)
        return _NOT_IN_FILE_NAME.sub("-", relative.strip(".") or self.model.entrypoint)[:180]

    def log_path(self, base: str) -> Path:
        """A log file of the run directory, unique to the caller."""
        candidate, counter = base, 1
        while candidate in self._log_names:
            counter += 1
            candidate = f"{base}-{counter}"
        self._log_names.add(candidate)
        return self.options.run_dir / f"{candidate}.log"

    def path_lock(self, path: str) -> asyncio.Lock:
        """The lock of tasks writing the same output path."""
        lock = self._path_locks.get(path)
        if lock is None:
            lock = self._path_locks[path] = asyncio.Lock()
        return lock

    def _record_internal_error(self, name: str) -> None:
        with contextlib.suppress(OSError), \
                open(self.options.run_dir / "internal-error.txt", "a", encoding="utf-8") as f:
            f.write(f"node {name}:\n{traceback.format_exc()}\n")


def _inputs(template: Mapping[str, Any], arguments: Mapping[str, str]) -> dict[str, str]:
    declared = (template.get("inputs") or {}).get("parameters") or []
    try:
        return resolve_parameters(declared, arguments)
    except ParameterProblem as problem:
        if problem.missing:
            raise NodeError(f"inputs.parameters.{problem.name} was not supplied") from None
        raise NodeError(f"inputs.parameters.{problem.name}: value {problem.value!r} is not in "
                        f"enum {problem.parameter.get('enum')}") from None
