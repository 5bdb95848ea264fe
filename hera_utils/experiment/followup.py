"""`main.py logs` and `main.py retry`: what to do with a workflow once it was submitted.

Both name a workflow, or take the latest submission recorded under `runs/`. `submit --wait`
uses `FailedTaskLogs` to show each failed task's last log lines as soon as it fails.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hera_utils.errors import ConfigurationError
from hera_utils.experiment.paths import runs_dir
from hera_utils.logs import FAILED_PHASES, LogLine, log_tail, task_pods
from hera_utils.settings import Settings

if TYPE_CHECKING:
    from hera_utils.workflow_paths import WorkflowsPath

TAIL_LINES = 20
_WORKFLOW_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def latest_submission(directory: Path) -> tuple[str, Path | None]:
    """The workflow name of the latest submission recorded in `directory` (`runs/`)."""
    newest: tuple[str, str, Path] | None = None
    for provenance in directory.glob("*/provenance.json"):
        try:
            record = json.loads(provenance.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        name = record.get("workflow") if isinstance(record, dict) else None
        if isinstance(name, str) and name:
            when = str(record.get("recorded_at", ""))
            if newest is None or when > newest[0]:
                newest = (when, name, provenance)
    if newest is None:
        raise ConfigurationError(
            f"no submitted workflow is recorded under {directory}",
            hint="name the workflow (python main.py logs WORKFLOW), or submit first",
            setting="workflow",
        )
    return newest[1], newest[2]


def chosen_workflow(args: Settings, project_dir: Path) -> tuple[str, Path | None]:
    """The workflow named on the command line, else the latest submission."""
    if args.workflow:
        name = str(args.workflow)
        if len(name) > 253 or not _WORKFLOW_NAME.match(name):
            # Not echoed: a stray word on the command line may be a pasted token.
            raise ConfigurationError(
                "WORKFLOW is not a workflow name (lowercase letters, digits, '-' and '.')",
                hint="copy the name from python main.py submit's output or the Argo UI",
                setting="workflow",
            )
        return name, None
    return latest_submission(runs_dir(args, project_dir))


def logs(argo: WorkflowsPath, args: Settings, *, project_dir: Path) -> int:
    """Print a workflow's task logs (`--task` one task's, `--follow` until it ends)."""
    name, _ = chosen_workflow(args, project_dir)
    pods = task_pods(argo.get_workflow(name))
    names = {pod.pod: pod.task for pod in pods}
    wanted = [pod for pod in pods if pod.task == args.task] if args.task else None
    if wanted == []:
        known = ", ".join(sorted({pod.task for pod in pods})) or "(none has started)"
        raise ConfigurationError(
            f"workflow {name} has no task {args.task!r}",
            hint=f"choose one of: {known}",
            setting="task",
        )
    lines: Iterator[LogLine]
    if wanted:
        lines = chain.from_iterable(
            argo.task_log(name, pod.pod, follow=args.follow) for pod in wanted
        )
    else:
        lines = argo.task_log(name, follow=args.follow)
    for line in lines:
        names.setdefault(line.pod, line.pod)
        task = names[line.pod]
        print(f"{task}: {line.content}" if not args.task else line.content, flush=args.follow)
    return 0


class FailedTaskLogs:
    """Print, once per task, the last lines of the log of each task that failed."""

    def __init__(self, argo: WorkflowsPath, name: str, lines: int = TAIL_LINES) -> None:
        self.argo, self.name, self.lines = argo, name, lines
        self.reported: set[str] = set()

    def __call__(self, workflow: dict[str, Any]) -> None:
        """Look at a polled workflow; report the tasks that failed since the last look."""
        for pod in task_pods(workflow):
            if pod.phase not in FAILED_PHASES or pod.pod in self.reported:
                continue
            self.reported.add(pod.pod)
            detail = f" ({pod.message})" if pod.message else ""
            tail = log_tail(self.argo, self.name, pod.pod, self.lines)
            heading = f"last {len(tail)} lines of its log:" if tail else "its log is empty"
            print(f"  task {pod.task} {pod.phase.lower()}{detail}; {heading}", flush=True)
            for line in tail:
                print(f"    | {line}", flush=True)


def retry(argo: WorkflowsPath, args: Settings, *, project_dir: Path) -> int:
    """Re-run the failed part of a workflow; with --wait follow it to its end."""
    from hera_utils.experiment.submit import wait_for_success

    name, provenance = chosen_workflow(args, project_dir)
    phase = ((argo.get_workflow(name).get("status") or {}).get("phase")) or "Pending"
    if phase not in FAILED_PHASES:
        raise ConfigurationError(
            f"workflow {name} is {phase}: only a Failed or Error workflow can be retried",
            hint="wait for it to end (python main.py logs --follow)" if phase in
            ("Pending", "Running") else "submit it again to run it once more",
            setting="workflow",
        )
    argo.retry_workflow(name)
    print(f"retried workflow {name}: its failed tasks run again")
    print(f"{'Argo UI' if argo.has_ui else 'see it with'}: {argo.ui_url(name)}", flush=True)
    if not args.wait:
        return 0
    return wait_for_success(argo, name, args, provenance)


__all__ = ["FailedTaskLogs", "chosen_workflow", "latest_submission", "logs", "retry"]
