"""`main.py render`: the workflow's YAML, touching no network."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hera_utils.experiment.output import warn
from hera_utils.experiment.paths import RENDER_OUTPUT, WORKFLOW_SOURCE
from hera_utils.experiment.validate import refuse_invalid_workflow
from hera_utils.redaction import scrub
from hera_utils.submission import size_warning

if TYPE_CHECKING:
    from hera.workflows import Workflow

STDOUT = "-"


def render(
    workflow: Workflow, output: str | None = None, *, project_dir: Path | None = None
) -> int:
    """Write the workflow's YAML to `output` ("-": stdout), touching no network.

    With no `output`, the YAML goes to `runs/workflow.yaml` in `project_dir` (ignored by
    git, so that `copier update` still finds a clean repository), or to stdout when no
    `project_dir` is given.
    """
    refuse_invalid_workflow(workflow.to_dict(), WORKFLOW_SOURCE)
    rendered = workflow.to_yaml()
    warn(size_warning(rendered))
    if output is None and project_dir is not None:
        target = project_dir / RENDER_OUTPUT
        target.parent.mkdir(parents=True, exist_ok=True)
        output = str(target)
    if output is None or output == STDOUT:
        sys.stdout.write(rendered)
    else:
        Path(output).write_text(scrub(rendered), encoding="utf-8")
        print(f"wrote {output}", file=sys.stderr)
    return 0
