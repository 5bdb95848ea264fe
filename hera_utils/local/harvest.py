"""What Argo's wait container does once a pod's main container has ended.

It reads the output parameters from their files, stores the output artifacts in the run's
repository, and the pod's file system goes away. For a process on this machine that is
done by the worker thread that followed the process (`executors.run_process`'s `after`),
so the event loop neither reads nor copies files, and the same thread removes the task's
directory once the loop is told; for a container, on the loop once its files are copied
out. The results touch no node until `apply`.
"""

from __future__ import annotations

from typing import Any

from .launch import Launch
from .limits import MAX_PARAMETER_BYTES, LimitError
from .nodes import Node
from .task_files import TaskFiles
from .values import format_value

__all__ = ["Harvest", "read_output_parameters"]


class Harvest:
    """The outputs of one attempt, gathered once (in whichever thread ends it)."""

    def __init__(self, outputs: list[dict[str, Any]], launch: Launch,
                 files: TaskFiles | None) -> None:
        self.outputs = outputs
        self.launch = launch
        self.files = files
        self.ran = False
        self.by_worker = False  # the worker thread harvests, then removes the files
        self.parameters: dict[str, str] = {}
        self.artifacts: dict[str, str] = {}
        self.problems: list[str] = []

    def __call__(self, started: bool) -> None:
        """Gather the outputs (artifacts only if the process started)."""
        self.ran = True
        self.parameters, self.problems = read_output_parameters(self.outputs, self.launch)
        if started and self.files is not None:
            self.artifacts, problems = self.files.collect()
            self.problems += problems

    def in_worker(self, started: bool) -> None:
        """`self(started)`, from the worker thread that followed the process."""
        self.by_worker = True
        self(started)

    def clean(self) -> None:
        """Remove the task's file system (its outputs are gathered by now)."""
        if self.files is not None:
            self.files.clean()

    def apply(self, node: Node) -> list[str]:
        """Give the node what was gathered; the problems (a failure to save outputs)."""
        node.parameters.update(self.parameters)
        node.artifacts.update(self.artifacts)
        return self.problems


def read_output_parameters(outputs: list[dict[str, Any]], launch: Launch
                           ) -> tuple[dict[str, str], list[str]]:
    """The output parameters' values (from their files, else defaults) and the problems."""
    values: dict[str, str] = {}
    problems = []
    for parameter in outputs:
        name = parameter["name"]
        source = parameter.get("valueFrom") or {}
        if "path" not in source:
            if "value" in parameter:
                values[name] = format_value(parameter["value"])
            continue
        path, local_path = launch.output_paths[name]
        try:
            text = launch.read_output(local_path)
        except LimitError:
            problems.append(f"output parameter {name}: {path} is larger than the "
                            f"{MAX_PARAMETER_BYTES // 1024} KiB a parameter may hold; pass "
                            "it as a file on the volume (or an artifact) instead")
            continue
        if text is None:
            if "default" in source:
                text = format_value(source["default"])
            else:
                problems.append(f"open {path}: no such file or directory")
                continue
        # Argo trims one trailing newline of an output parameter file, for convenience.
        values[name] = text[:-1] if text.endswith("\n") else text
    return values, problems
