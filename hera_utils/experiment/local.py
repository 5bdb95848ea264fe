"""`main.py local`: run the workflow on this machine, a directory standing for the volume."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hera_utils.errors import ConfigurationError, WorkflowFailedError
from hera_utils.experiment.failures import failure_report
from hera_utils.experiment.paths import WORKFLOW_SOURCE, runs_dir
from hera_utils.experiment.validate import refuse_invalid_workflow
from hera_utils.settings import Settings

if TYPE_CHECKING:
    from hera.workflows import Workflow


def run_local(
    workflow: Workflow,
    args: Settings,
    *,
    project_dir: Path,
    volume_dir: Path,
) -> int:
    """Run `workflow` on this machine; return 0, or raise `WorkflowFailedError`.

    The run is recorded in `runs/<workflow-name>/` (summary.json and one log per task).
    With `--retry RUN_DIR` the tasks that succeeded in that run are not run again.
    """
    from hera_utils.local import run_locally

    refuse_invalid_workflow(workflow.to_dict(), WORKFLOW_SOURCE)
    # Created first, so that the volume mounts of the tasks name an existing directory.
    volume_dir.mkdir(parents=True, exist_ok=True)
    result = run_locally(
        workflow,
        runs_dir=runs_dir(args, project_dir),
        parallelism=args.parallelism,
        stub_containers=args.stub_containers,
        script_runtime="container" if args.in_containers else "host",
        volume_dir=volume_dir,
        # Tasks run from the project, so Hera runner scripts can import its modules.
        work_dir=project_dir,
        reuse=args.retry_run,
        resume_with=resume_values(args.resume_with),
    )
    if not result.succeeded:
        report = failure_report(result.tasks, project_dir / WORKFLOW_SOURCE)
        if report:
            print("\n".join(report), file=sys.stderr, flush=True)
        raise WorkflowFailedError(
            f"local run {result.name} ended {result.phase}: {result.message}",
            hint=f"see the task logs in {result.run_dir}; after a fix, python main.py local "
            f"--retry {result.run_dir} re-runs only what did not succeed",
        )
    if any(volume_dir.iterdir()):
        print(f"files written by the tasks: {volume_dir}")
    return 0


def resume_values(pairs: list[str]) -> dict[str, str]:
    """`--resume-with NAME=VALUE` options as a mapping (a malformed one is refused)."""
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigurationError(
                f"--resume-with {pair!r} is not NAME=VALUE",
                hint="e.g. --resume-with approve=YES",
                setting="resume_with",
            )
        values[name.strip()] = value
    return values
