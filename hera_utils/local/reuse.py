"""Re-running a local run: the tasks that succeeded in it are not run again.

As `argo retry` keeps the succeeded nodes of a workflow, `run_locally(reuse=RUN_DIR)` reads
the earlier run's `summary.json` and gives each task that Succeeded there (same node path
below the workflow, same inputs) its recorded outputs instead of running it; the rest runs
as usual. Files the tasks wrote to the volume directory are where they left them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from .limits import MAX_SUMMARY_BYTES
from .nodes import SUCCEEDED, Node


@dataclass(frozen=True)
class Reused:
    """What an earlier run recorded of a task that succeeded."""

    exit_code: int | None
    result: str | None
    parameters: dict[str, str]
    inputs: dict[str, str] | None


def node_path(name: str) -> str:
    """A node's name without the workflow's own (generated) name: stable across runs."""
    return name.partition(".")[2] or name


def read_reusable(run_dir: str | os.PathLike[str]) -> dict[str, Reused]:
    """The succeeded tasks of the run recorded in `run_dir`, by node path."""
    summary = Path(run_dir) / "summary.json"
    try:
        if summary.stat().st_size > MAX_SUMMARY_BYTES:
            raise ConfigurationError(f"{summary} is too large to be a run's summary",
                                     setting="retry")
        document = json.loads(summary.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ConfigurationError(
            f"cannot re-run {run_dir}: its summary.json cannot be read "
            f"({getattr(error, 'strerror', None) or type(error).__name__})",
            hint="name the directory of a local run (runs/<workflow>), which holds summary.json",
            setting="retry",
        ) from None
    tasks = document.get("tasks") if isinstance(document, dict) else None
    if not isinstance(tasks, list):
        raise ConfigurationError(f"cannot re-run {run_dir}: summary.json lists no tasks",
                                 setting="retry")
    reusable = {}
    for task in tasks:
        if not isinstance(task, dict) or task.get("phase") != SUCCEEDED or task.get("stubbed"):
            continue
        if task.get("type") != "Pod" or not isinstance(task.get("node"), str):
            continue
        outputs = _mapping(task.get("outputs")) or {}
        parameters = _mapping(outputs.get("parameters")) or {}
        inputs = _mapping(task.get("inputs"))
        reusable[node_path(task["node"])] = Reused(
            exit_code=task.get("exit_code") if isinstance(task.get("exit_code"), int) else 0,
            result=outputs.get("result") if isinstance(outputs.get("result"), str) else None,
            parameters={str(k): str(v) for k, v in parameters.items()},
            inputs={str(k): str(v) for k, v in inputs.items()} if inputs is not None else None,
        )
    return reusable


def _mapping(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def reuse_for(node: Node, reusable: Mapping[str, Reused]) -> Reused | None:
    """The earlier outputs of `node`, if it succeeded before with the same inputs."""
    owner = node.attempt_of or node
    found = reusable.get(node_path(owner.name))
    if found is None or (found.inputs is not None and found.inputs != dict(owner.inputs)):
        return None
    return found


def apply(node: Node, found: Reused, log_path: Path, source: Any) -> None:
    """Give `node` the recorded outputs and say so in its log."""
    node.exit_code = found.exit_code
    node.result = found.result
    node.parameters.update(found.parameters)
    log_path.write_text(f"reused: this task succeeded in {source}; not run again\n",
                        encoding="utf-8")
