"""The nodes of a local run, named and typed as in an Argo workflow's status.

Node names follow Argo: `<workflow>` for the entrypoint, `<parent>.<task>` in a DAG,
`<parent>[<group>].<step>` in steps, `(<index>:<item>)` appended for loop items and
`(<attempt>)` for retry attempts. The display name is the name relative to the enclosing
DAG or steps node (`collect(0:paris)`), as the Argo UI shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

__all__ = [
    "ERROR",
    "FAILED",
    "FAILED_OR_ERROR",
    "OMITTED",
    "PENDING",
    "RUNNING",
    "SKIPPED",
    "SUCCEEDED",
    "Node",
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


def utc_now() -> datetime:
    """The current time, timezone-aware (UTC)."""
    return datetime.now(timezone.utc)


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
    children: list[Node] = field(default_factory=list, repr=False)
    boundary: Node | None = field(default=None, repr=False)  # the enclosing DAG/steps node
    inputs: dict[str, str] = field(default_factory=dict)
    logs: list[Path] = field(default_factory=list)
    attempt_of: Node | None = field(default=None, repr=False)  # set on a Retry's attempts
    stubbed: bool = False
    kind: str | None = None  # template kind for Pod nodes: script or container

    @property
    def fulfilled(self) -> bool:
        """Whether the node has reached a final phase."""
        return self.phase in FULFILLED

    @property
    def failed_or_error(self) -> bool:
        """Whether the node ended Failed or Error."""
        return self.phase in FAILED_OR_ERROR

    @property
    def attempts(self) -> list[Node]:
        """The attempts of a Retry node (itself for any other node that ran)."""
        if self.type == "Retry":
            return list(self.children)
        return [self] if self.started_at is not None else []

    def start(self, phase: str = RUNNING) -> None:
        """Mark the node started now."""
        self.phase = phase
        if self.started_at is None:
            self.started_at = utc_now()

    def finish(self, phase: str, message: str = "") -> None:
        """Mark the node finished now with `phase` (and a message, if any)."""
        self.phase = phase
        if message:
            self.message = message
        now = utc_now()
        if self.started_at is None:
            self.started_at = now
        self.finished_at = now
