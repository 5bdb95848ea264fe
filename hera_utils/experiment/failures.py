"""What a failed local task printed, with its traceback pointed back at `workflow.py`.

A local run writes each task's output to `runs/<run>/<task>.log`, and a script task runs
a copy of its function's body under `runs/<run>/scripts/`; a traceback therefore names
that copy. This module reads the log's last lines and maps each frame of a copied script
to the line of the task function in the experiment's own source file.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hera_utils.local import TaskResult

TAIL_LINES = 12
MAX_TAIL_BYTES = 64_000  # only the end of a log is read, however large it grew
FAILED_PHASES = ("Failed", "Error")
_FRAME = re.compile(
    r'^(?P<indent>\s*)File "(?P<path>[^"]+)", line (?P<line>\d+), in (?P<scope>.+)$'
)


def failure_report(tasks: Iterable[TaskResult], source: Path, *, limit: int = 5) -> list[str]:
    """Lines showing, for each failed task (at most `limit`), the end of its log."""
    failed = [task for task in tasks if task.phase in FAILED_PHASES and task.log is not None]
    lines: list[str] = []
    for task in failed[:limit]:
        assert task.log is not None
        tail = log_tail(task.log)
        if not tail:
            continue
        lines.append(
            f"x {task.name} ({task.template or 'task'}) ended {task.phase}; its output ends:"
        )
        lines.extend(f"    {line}" for line in map_traceback(tail, source, task.template))
    if len(failed) > limit:
        lines.append(f"... and {len(failed) - limit} more failed tasks (see their logs)")
    return lines


def log_tail(log: Path, lines: int = TAIL_LINES) -> list[str]:
    """The last `lines` lines of a log, from its last traceback when it has one."""
    try:
        with log.open("rb") as file:
            size = file.seek(0, 2)
            file.seek(max(0, size - MAX_TAIL_BYTES))
            text = file.read().decode("utf-8", errors="replace")
    except OSError:
        return []
    all_lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    starts = [i for i, line in enumerate(all_lines) if line.startswith("Traceback (most recent")]
    if starts and len(all_lines) - starts[-1] <= 3 * lines:
        return all_lines[starts[-1] :]
    return all_lines[-lines:]


def map_traceback(lines: Sequence[str], source: Path, function: str | None) -> list[str]:
    """`lines` with each frame of a copied task script pointed at `source`'s line."""
    mapped: list[str] = []
    for index, line in enumerate(lines):
        frame = _FRAME.match(line)
        if frame is None or "/scripts/" not in frame["path"] or not function:
            mapped.append(line)
            continue
        code = lines[index + 1].strip() if index + 1 < len(lines) else ""
        number = source_line(source, function, code)
        if number is None:
            mapped.append(line)
            continue
        mapped.append(f'{frame["indent"]}File "{source.name}", line {number}, in {function}')
    return mapped


def source_line(source: Path, function: str, code: str) -> int | None:
    """The line of `source` inside `def function` holding `code` (as Hera re-wrote it).

    Hera copies a function's body through `ast.unparse`, which changes quotes and spacing:
    lines are compared with both normalised. Without a match, the `def` line.
    """
    try:
        text = source.read_text(encoding="utf-8")
        tree = ast.parse(text)
    except (OSError, SyntaxError, ValueError):
        return None
    definition = next(
        (
            node
            for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == function
        ),
        None,
    )
    if definition is None:
        return None
    wanted = _normalised(code)
    lines = text.splitlines()
    end = definition.end_lineno or len(lines)
    if wanted:
        for number in range(definition.lineno, end + 1):
            if _normalised(lines[number - 1]) == wanted:
                return number
    return definition.lineno


def _normalised(line: str) -> str:
    return re.sub(r"\s+", "", line.replace('"', "'"))
