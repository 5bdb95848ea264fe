"""What the template kinds may ask of the operator: `RunOptions` and the `Operator` protocol.

The modules of each template kind (`dag`, `steps`, `calls`, `retries`, `pods`) receive the
running operator as an `Operator`: they call what is listed here, and never import the
operator's module, so the operator can import them without a cycle.
"""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from .daemons import Daemons
from .model import TemplateScope, WorkflowModel
from .nodes import Node
from .progress import Progress
from .runtimes import ContainerRuntime
from .slots import ProcessSlots
from .workers import Workers

__all__ = ["DEADLINE_MESSAGE", "NodeError", "Operator", "RunOptions"]

DEADLINE_MESSAGE = "Step exceeded its deadline"
T = TypeVar("T")


@dataclass
class RunOptions:
    """How to run: where to write, how many processes, what to do with containers."""

    run_dir: Path
    parallelism: int
    work_dir: Path
    volume_dir: Path | None = None
    stub_containers: bool = False
    # "host": script tasks run on this machine; "container": in their image, as on Argo.
    script_runtime: str = "host"
    runtime: ContainerRuntime | None = None
    runtime_problem: str = ""
    # Tasks that succeeded in an earlier run, by node path, not run again (`reuse`).
    reusable: Mapping[str, Any] = field(default_factory=dict)
    reused_from: Path | None = None
    # The workflow's `arguments.artifacts` given as local files or directories, by name.
    artifacts: Mapping[str, Path] = field(default_factory=dict)
    # What `argo resume` would supply to suspend nodes' outputs (`valueFrom.supplied`).
    resume_with: Mapping[str, str] = field(default_factory=dict)
    # Marks this run's task processes (see `reaper`): unique even for runs of one name.
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])


class NodeError(Exception):
    """A node that cannot run (bad input, unresolved tag): it ends in phase Error."""


class Operator(Protocol):
    """The running workflow, as the template kinds see it."""

    name: str
    model: WorkflowModel
    options: RunOptions
    progress: Progress
    global_scope: dict[str, str]
    run_notes: list[str]  # added to the message of a failed run
    stop_message: str  # why the run is being stopped (Ctrl-C, deadline), else ""
    slots: ProcessSlots[Any]  # one per pod allowed to run at once
    workers: Workers  # the threads that follow the task processes
    processes: list[subprocess.Popen[bytes]]  # the task processes running now
    daemons: Daemons  # the daemon tasks running, by the scope that started them
    nodes: list[Node]  # every node of the run, in the order they were made
    root: Node | None  # the entrypoint's node, once made

    async def run_root(self, name: str, template: str,
                       arguments: dict[str, str] | None = None) -> Node:
        """Run `template` as a root node: the entrypoint, or the exit handler."""

    async def stoppable(self, work: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """Await `work` as what a stop (Ctrl-C, deadline) cancels; return its future."""

    async def execute(self, name: str, display: str, holder: Mapping[str, Any],
                      scope: TemplateScope, arguments: dict[str, str],
                      boundary: Node | None) -> Node:
        """Run the template `holder` refers to as node `name`."""

    async def execute_once(self, name: str, display: str, template: dict[str, Any],
                           scope: TemplateScope, kind: str, inputs: dict[str, str],
                           boundary: Node | None, *, attempt: int | None,
                           log_base: str | None, retry_node: Node | None = None) -> Node:
        """Run one attempt of a template whose inputs are resolved."""

    def new_node(self, name: str, display: str, node_type: str, template: str | None,
                 boundary: Node | None) -> Node:
        """A new node of the run."""

    def skipped_node(self, name: str, display: str, template: str | None,
                     boundary: Node | None, phase: str, message: str) -> Node:
        """A node that does not run (Skipped, Omitted or Error), finished and reported."""

    def error_node(self, name: str, display: str, template: str | None,
                   boundary: Node | None, message: str) -> Node:
        """A node that cannot run, in phase Error."""

    def finished(self, node: Node, *, was: str) -> None:
        """Report a finished node (tasks only)."""

    def watch_start(self, name: str, callback: Callable[[Node], None] | None) -> None:
        """Have `callback` told when the node named `name` starts running (None: stop)."""

    def stopped(self, node: Node) -> None:
        """Finish a node the run's stop interrupted."""

    def notice_once(self, text: str) -> None:
        """Tell the user something, once per run."""

    def group_succeeded(self, node: Node, body: Mapping[str, Any],
                        variables: Mapping[str, str]) -> None:
        """Finish a DAG or steps node whose children succeeded: set its outputs."""

    def lookup(self, local: Mapping[str, str]) -> Callable[[str], str | None]:
        """Tag -> value: `local` first, then the workflow's variables."""

    def pod_name(self, node: Node) -> str:
        """The pod name Argo would give the node."""

    def log_base(self, node_name: str) -> str:
        """The file name (without suffix) of a node's log."""

    def log_path(self, base: str) -> Path:
        """A log file of the run directory, unique to the caller."""

    def path_lock(self, path: str) -> asyncio.Lock:
        """The lock of tasks writing the same output path."""
