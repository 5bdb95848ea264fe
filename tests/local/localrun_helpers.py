"""Helpers shared by the local runner's tests (imported by name: tests/local is on sys.path)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hera_utils.local import LocalRunResult

WORKFLOWS = Path(__file__).parent / "workflows"


def phases(result: LocalRunResult) -> dict[str, str]:
    """Display name -> phase of every task entry (names must be unique in the run)."""
    names = [task.name for task in result.tasks]
    assert len(names) == len(set(names)), f"duplicate task names: {names}"
    return {task.name: task.phase for task in result.tasks}


def summary_of(result: LocalRunResult) -> dict[str, Any]:
    """The summary.json the run wrote."""
    return json.loads(result.summary_path.read_text())
