"""The directories a run of an experiment writes to, below the experiment's directory."""

from __future__ import annotations

from pathlib import Path

from hera_utils.settings import Settings

LOCAL_VOLUME_DIR = "local-volume"
RUNS_DIR = "runs"
# The experiment file defining the workflow and its task functions.
WORKFLOW_SOURCE = "workflow.py"
# Where `main.py render` writes by default: under runs/, which git ignores.
RENDER_OUTPUT = f"{RUNS_DIR}/workflow.yaml"


def runs_dir(args: Settings, project_dir: Path) -> Path:
    """Where runs are recorded: `--runs-dir`, else `runs/` in the experiment's directory."""
    return Path(args.runs_dir) if args.runs_dir else project_dir / RUNS_DIR


def local_volume_dir(args: Settings, project_dir: Path) -> Path:
    """The directory standing for the volume claim in a local run (absolute)."""
    chosen = Path(args.volume_dir) if args.volume_dir else project_dir / LOCAL_VOLUME_DIR
    return chosen.resolve()
