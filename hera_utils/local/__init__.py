"""Local execution of Argo workflows: `run_locally` runs one on this machine.

The workflow is interpreted as Argo sees it (the built manifest, not the Python objects):
script tasks run as local processes, container tasks through docker or podman, DAGs and
steps with Argo's semantics (parameters, loops, `when`, `depends`, retries, deadlines,
parallelism, exit handler). The README says what runs locally and what does not.
"""

from __future__ import annotations

from .runner import run_locally
from .summary import LocalRunResult, TaskResult

__all__ = ["LocalRunResult", "TaskResult", "run_locally"]
