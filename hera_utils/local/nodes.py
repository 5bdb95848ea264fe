"""The nodes of a local run, named and typed as in an Argo workflow's status.

Node names follow Argo: `<workflow>` for the entrypoint, `<parent>.<task>` in a DAG,
`<parent>[<group>].<step>` in steps, `(<index>:<item>)` appended for loop items and
`(<attempt>)` for retry attempts. The display name is the name relative to the enclosing
DAG or steps node (`collect(0:paris)`), as the Argo UI shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Final

__all__ = [
    "ERROR",
    "FAILED",
    "FAILED_OR_ERROR",
    "GROUP_TYPES",
    "OMITTED",
    "PENDING",
    "RUNNING",
    "SKIPPED",
    "SUCCEEDED",
    "TASK_TYPES",
    "Node",
    "NodeType",
    "group_phase",
    "stub_note",
    "timestamp",
    "utc_now",
]

PENDING = "Pending"
RUNNING = "Running"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
ERROR = "Error"
SKIPPED = "Skipped"
OMITTED = "Omitted"
FAILED_OR_ERROR = (FAILED, ERROR)
FULFILLED = (SUCCEEDED, FAILED, ERROR, SKIPPED, OMITTED)


class NodeType:
    """The node types of an Argo workflow's status (`NodeType` in its API)."""

    POD: Final = "Pod"
    DAG: Final = "DAG"
    STEPS: Final = "Steps"
    STEP_GROUP: Final = "StepGroup"
    TASK_GROUP: Final = "TaskGroup"
    RETRY: Final = "Retry"
    SKIPPED: Final = "Skipped"
    SUSPEND: Final = "Suspend"


# A task is a node that does the work itself (a pod, a suspend) or stands for work that did
# not happen (skipped, omitted, errored before starting); a group only gathers nodes.
TASK_TYPES = (NodeType.POD, NodeType.SKIPPED, NodeType.SUSPEND)
GROUP_TYPES = (NodeType.STEP_GROUP, NodeType.TASK_GROUP)


def utc_now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(timezone.utc)


def timestamp(value: datetime, *, milliseconds: bool = False) -> str:
    """RFC 3339 in UTC as Argo writes it (`2026-12-01T10:00:00Z`), or with milliseconds."""
    # isoformat is C code, strftime much slower: this runs twice for every task.
    text = value.replace(tzinfo=None).isoformat(
        timespec="milliseconds" if milliseconds else "seconds")
    return text + "Z"


def group_phase(children: Iterable[Node]) -> str:
    """A group's phase: that of its last failed or errored child, else Succeeded."""
    phase = SUCCEEDED
    for child in children:
        if child.failed_or_error:
            phase = child.phase
    return phase


@dataclass(eq=False)
class Node:
    """One node of the run: a pod (script/container), DAG, steps, group, retry or skip."""

    name: str
    display_name: str
    type: str  # Pod, DAG, Steps, StepGroup, TaskGroup, Retry, Skipped, Suspend
    template_name: str | None = None
    phase: str = PENDING
    message: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    result: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    artifacts: dict[str, str] = field(default_factory=dict)  # output name -> stored path
    children: list[Node] = field(default_factory=list, repr=False)
    boundary: Node | None = field(default=None, repr=False)  # the enclosing DAG/steps node
    inputs: dict[str, str] = field(default_factory=dict)
    logs: list[Path] = field(default_factory=list)
    attempt_of: Node | None = field(default=None, repr=False)  # set on a Retry's attempts
    stubbed: bool = False
    reused: bool = False  # its outputs come from an earlier run (`reuse`)
    kind: str | None = None  # template kind for Pod nodes: script or container
    # A daemon's node once its process runs (Argo's `daemoned`), and the address its tasks
    # are given as `{{tasks.X.ip}}` (this machine's loopback: see `daemons`).
    daemoned: bool = False
    pod_ip: str | None = None
    # Told when the node starts running (its `Running` lifecycle hooks, see `hooks`).
    on_start: Callable[[Node], None] | None = field(default=None, repr=False, compare=False)

    @property
    def fulfilled(self) -> bool:
        """Whether the node has reached a final phase."""
        return self.phase in FULFILLED

    @property
    def is_task(self) -> bool:
        """Whether the node is a task (see `TASK_TYPES`), not a group, DAG, steps or retry."""
        return self.type in TASK_TYPES

    @property
    def failed_or_error(self) -> bool:
        """Whether the node ended Failed or Error."""
        return self.phase in FAILED_OR_ERROR

    @property
    def attempts(self) -> list[Node]:
        """The attempts of a Retry node (itself for any other node that ran)."""
        if self.type == NodeType.RETRY:
            return list(self.children)
        return [self] if self.started_at is not None else []

    def start(self, phase: str = RUNNING) -> None:
        """Mark the node started now."""
        self.phase = phase
        if self.started_at is None:
            self.started_at = utc_now()
        if phase == RUNNING and self.on_start is not None:
            self.on_start(self)

    def finish(self, phase: str, message: str = "") -> None:
        """Mark the node finished now with `phase` (and a message, if any)."""
        self.phase = phase
        if message:
            self.message = message
        now = utc_now()
        if self.started_at is None:
            self.started_at = now
        self.finished_at = now


def stub_note(nodes: Iterable[Node], cause: Node | None) -> list[str]:
    """Say that the failed task ran after stubbed ones: their empty outputs may be why."""
    if cause is None or cause.stubbed or cause.started_at is None:
        return []
    before = [node.display_name for node in nodes if node.stubbed
              and node.finished_at is not None and node.finished_at <= cause.started_at]
    if not before:
        return []
    return [f"{cause.display_name} ran after stubbed container task(s) "
            f"{', '.join(before)}, whose outputs are empty (stub_containers): an empty "
            "input may be why it failed"]
