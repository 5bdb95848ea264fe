"""What a local run tells the user while it runs.

`live` redraws one status line (pending / running / done / failed counts) in place, with
failures and notices printed above it; `plain` prints one line per event (for logs and
CI); `quiet` prints nothing; `auto` is `live` on a terminal and `plain` otherwise.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TextIO

from .nodes import FAILED_OR_ERROR, OMITTED, SKIPPED, SUCCEEDED, Node

__all__ = ["PROGRESS_MODES", "Progress", "make_progress"]

PROGRESS_MODES = ("auto", "live", "plain", "quiet")


class Progress:
    """Receives the run's events; this base class prints nothing (`quiet`)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.pending = self.running = self.done = self.failed = self.skipped = 0
        self.retried = 0
        self.started = time.monotonic()

    # Events; subclasses print, the counts are kept here.
    def begin(self, workflow: str, run_dir: str) -> None:
        """The run starts."""
        self.started = time.monotonic()

    def notice(self, text: str) -> None:
        """Something the user should know that is not an error (ignored feature, stub...)."""

    def task_pending(self, node: Node) -> None:
        """A task waits for a free slot."""
        self.pending += 1

    def tasks_waiting(self, change: int) -> None:
        """Ready tasks not yet started (a DAG starts a few more than there are slots)."""
        self.pending += change

    def task_running(self, node: Node) -> None:
        """A task's process started."""
        self.pending -= 1
        self.running += 1

    def task_finished(self, node: Node, *, was: str) -> None:
        """A task reached its final phase (`was`: pending, running, or none if it never ran)."""
        if was == "pending":
            self.pending -= 1
        elif was == "running":
            self.running -= 1
        if node.phase == SUCCEEDED:
            self.done += 1
        elif node.phase in FAILED_OR_ERROR:
            self.failed += 1
        elif node.phase in (SKIPPED, OMITTED):
            self.skipped += 1

    def task_retrying(self, node: Node, delay: float) -> None:
        """A failed attempt will be retried (after `delay` seconds): it is not a failure yet."""
        self.failed -= 1
        self.retried += 1

    def tick(self) -> None:
        """Called a few times a second while the run goes on."""

    def end(self, workflow: str, phase: str, message: str, summary: str) -> None:
        """The run is over and its summary written."""

    # Helpers
    def elapsed(self) -> str:
        """Seconds since the run began, for display."""
        return f"{time.monotonic() - self.started:.1f}s"

    def counts(self) -> str:
        """The one-line tally."""
        text = (f"pending {self.pending} | running {self.running} | done {self.done} | "
                f"failed {self.failed}")
        text += f" | skipped {self.skipped}" if self.skipped else ""
        return text + (f" | retried {self.retried}" if self.retried else "")

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed pipe must not stop the run
            pass


def _label(node: Node) -> str:
    return node.display_name


def shown_path(path: Path) -> str:
    """A path relative to the current directory when it is below it (shorter to read)."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _failure_line(node: Node) -> str:
    log = f"  log: {shown_path(node.logs[-1])}" if node.logs else ""
    return f"  x {_label(node)}: {node.phase}{': ' + node.message if node.message else ''}{log}"


class PlainProgress(Progress):
    """One line per event."""

    def begin(self, workflow: str, run_dir: str) -> None:
        super().begin(workflow, run_dir)
        self._write(f"local run {workflow} -> {run_dir}\n")

    def notice(self, text: str) -> None:
        self._write(f"  note: {text}\n")

    def task_running(self, node: Node) -> None:
        super().task_running(node)
        self._write(f"  > {_label(node)} started ({node.template_name})\n")

    def task_finished(self, node: Node, *, was: str) -> None:
        super().task_finished(node, was=was)
        if node.phase in FAILED_OR_ERROR:
            self._write(_failure_line(node) + "\n")
        elif node.phase == SUCCEEDED:
            suffix = " (stubbed)" if node.stubbed else ""
            self._write(f"  ok {_label(node)}{suffix}\n")
        else:
            self._write(f"  - {_label(node)}: {node.phase}"
                        f"{' (' + node.message + ')' if node.message else ''}\n")

    def task_retrying(self, node: Node, delay: float) -> None:
        super().task_retrying(node, delay)
        after = f" in {delay:g}s" if delay else ""
        self._write(f"  ~ {_label(node)}: retrying{after}\n")

    def end(self, workflow: str, phase: str, message: str, summary: str) -> None:
        detail = f": {message}" if message else ""
        self._write(f"{workflow} {phase} in {self.elapsed()}{detail}\n"
                    f"  {self.counts()}\n  summary: {summary}\n")


class LiveProgress(Progress):
    """One status line redrawn in place; failures and notices scroll above it."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self.workflow = ""
        self._shown = ""
        self._last_draw = 0.0

    def begin(self, workflow: str, run_dir: str) -> None:
        super().begin(workflow, run_dir)
        self.workflow = workflow
        self._write(f"local run {workflow} -> {run_dir}\n")
        self._draw(force=True)

    def notice(self, text: str) -> None:
        self._above(f"  note: {text}")

    def task_running(self, node: Node) -> None:
        super().task_running(node)
        self._draw()

    def task_finished(self, node: Node, *, was: str) -> None:
        super().task_finished(node, was=was)
        if node.phase in FAILED_OR_ERROR:
            self._above(_failure_line(node))
        else:
            self._draw()

    def tick(self) -> None:
        self._draw(force=True)

    def end(self, workflow: str, phase: str, message: str, summary: str) -> None:
        self._draw(force=True)
        detail = f": {message}" if message else ""
        self._write(f"\n{workflow} {phase} in {self.elapsed()}{detail}\n  summary: {summary}\n")

    def _line(self) -> str:
        return f"[{self.workflow}] {self.counts()} | {self.elapsed()}"

    def _draw(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < 0.1:  # at most ten redraws a second
            return
        self._last_draw = now
        line = self._line()
        if line != self._shown or force:
            self._write("\r\x1b[K" + line)
            self._shown = line

    def _above(self, text: str) -> None:
        self._write("\r\x1b[K" + text + "\n")
        self._shown = ""
        self._draw(force=True)


def make_progress(mode: str, stream: TextIO | None = None) -> Progress:
    """The reporter for a `progress=` value (`auto`, `live`, `plain` or `quiet`)."""
    stream = stream or sys.stdout
    if mode == "auto":
        is_tty = getattr(stream, "isatty", lambda: False)
        try:
            mode = "live" if is_tty() else "plain"
        except (OSError, ValueError):
            mode = "plain"
    if mode == "live":
        return LiveProgress(stream)
    if mode == "plain":
        return PlainProgress(stream)
    return Progress(stream)
