"""`main.py results pull [PATH] [--to DIR]` and `main.py results ls [PATH]`: the volume claim.

PATH is relative to the claim's root (`/` for the root itself); by default it is the
experiment's own directory in its layout. `pull` writes under `--to`, by default
`results/<workflow>/` in the experiment's directory (git ignores `results/`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hera_utils.errors import ConfigurationError
from hera_utils.settings import Settings

if TYPE_CHECKING:
    from hera.workflows import Workflow

    from hera_utils.environment import ExperimentEnvironment
    from hera_utils.layout import Layout

RESULTS_DIR = "results"
ACTIONS = ("pull", "ls")


def results(
    args: Settings,
    env: ExperimentEnvironment,
    workflow: Workflow,
    layout: Layout,
    *,
    project_dir: Path,
) -> int:
    """Run `results pull` or `results ls` as the operands say; return the exit code."""
    from hera_utils.cluster import k8s_cluster
    from hera_utils.results import VolumeSource, list_path, pull, volume_path

    action, path = _operands(args.operands, default_path=layout.root)
    claim = args.k8s_volume_claim_name
    if not claim:
        raise ConfigurationError(
            "results needs a volume claim, and none is set",
            hint="set k8s_volume_claim_name (KUBEVOLUMECLAIMNAME) to the claim the tasks write to",
            setting="k8s_volume_claim_name",
        )
    if action == "ls" and args.to:
        raise ConfigurationError("--to applies to results pull, not to results ls")
    relative = volume_path(path)  # refuses '..' before anything reaches the cluster
    source = VolumeSource(
        claim=claim,
        image=env.python_image,
        deadline_seconds=args.pod_deadline,
        start_timeout=args.start_timeout,
    )
    cluster = k8s_cluster(args)
    shown = f"{claim}:/{relative}"
    if action == "ls":
        print(list_path(cluster, source, relative), end="", flush=True)
        return 0
    destination = Path(args.to) if args.to else project_dir / RESULTS_DIR / workflow_name(workflow)
    print(f"pulling {shown} (namespace {cluster.namespace}) into {destination}", file=sys.stderr)
    summary = pull(cluster, source, relative, destination)
    print(summary.describe())
    return 0


def workflow_name(workflow: Workflow) -> str:
    """The workflow's name without the suffix Argo generates (`heat-islands-` → `heat-islands`)."""
    return str(workflow.name or (workflow.generate_name or "workflow").rstrip("-"))


def _operands(operands: list[str], *, default_path: str) -> tuple[str, str]:
    if not operands or operands[0] not in ACTIONS:
        given = f" {operands[0]!r}" if operands else ""
        raise ConfigurationError(
            f"results needs an action{given}: pull or ls",
            hint="python main.py results pull [PATH] [--to DIR], or results ls [PATH]",
        )
    if len(operands) > 2:
        raise ConfigurationError(
            f"results {operands[0]} takes one PATH, not {len(operands) - 1}: "
            f"{' '.join(operands[1:])}",
            hint="quote a path with spaces",
        )
    return operands[0], operands[1] if len(operands) == 2 else default_path
