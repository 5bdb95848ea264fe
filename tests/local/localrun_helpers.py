"""Helpers shared by the local runner's tests (imported by name: tests/local is on sys.path)."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from hera_utils.local import LocalRunResult

WORKFLOWS = Path(__file__).parent / "workflows"
PY = {"image": "python:3.12", "command": ["python"]}


def workflow(name: str, templates: list[dict[str, Any]], entry: str = "main",
             **spec: Any) -> dict[str, Any]:
    """A Workflow named `name` of `templates`, entering at `entry`, with more of its spec."""
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": name},
            "spec": {"entrypoint": entry, "templates": templates, **spec}}


def script(name: str, source: str, **extra: Any) -> dict[str, Any]:
    """A Python script template."""
    return {"name": name, "script": {**PY, "source": source}, **extra}


def phases(result: LocalRunResult) -> dict[str, str]:
    """Display name -> phase of every task entry (names must be unique in the run)."""
    names = [task.name for task in result.tasks]
    assert len(names) == len(set(names)), f"duplicate task names: {names}"
    return {task.name: task.phase for task in result.tasks}


def summary_of(result: LocalRunResult) -> dict[str, Any]:
    """The summary.json the run wrote."""
    return json.loads(result.summary_path.read_text())


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie (one left to an init that never reaps)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (macOS): ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return state != "Z"


def gone_soon(pid: int, seconds: float = 5.0) -> bool:
    """Whether the process is gone within `seconds` (a SIGKILL takes effect asynchronously)."""
    deadline = time.monotonic() + seconds
    while alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
