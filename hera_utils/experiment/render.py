"""`main.py render`: the workflow's YAML, touching no network."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hera_utils.experiment.output import warn
from hera_utils.redaction import scrub
from hera_utils.submission import size_warning

if TYPE_CHECKING:
    from hera.workflows import Workflow


def render(workflow: Workflow, output: str | None = None) -> int:
    """Write the workflow's YAML to `output` (stdout when None), touching no network."""
    rendered = workflow.to_yaml()
    warn(size_warning(rendered))
    if output is None:
        sys.stdout.write(rendered)
    else:
        Path(output).write_text(scrub(rendered), encoding="utf-8")
        print(f"wrote {output}", file=sys.stderr)
    return 0
