"""The container runtime's calls for containers that outlive one command line: a detached
container's start, stop, exit code and logs, and a stopped container's restart.

As `executors`' container calls, each is bounded by a timeout and answers rather than
raises: a runtime that fails or does not answer is a `CommandResult` saying so.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

from .executors import TERMINATE_GRACE, start_failure
from .runtimes import ContainerRuntime

__all__ = ["CommandResult", "container_exit", "restart_command", "runtime_command",
           "stop_container"]


def restart_command(runtime: ContainerRuntime, container: str) -> list[str]:
    """`docker start -a container`: the stopped container's command again, attached, in
    the file system its earlier run left (what a container set's retry sees)."""
    return [runtime.path, "start", "-a", container]


@dataclass(frozen=True)
class CommandResult:
    """A runtime command's exit code (None: it did not start or answer) and output."""

    exit_code: int | None
    stdout: str = ""
    stderr: str = ""

    def problem(self) -> str:
        """The runtime's last line of complaint, or a description of the failure."""
        lines = self.stderr.strip().splitlines()
        if lines:
            return lines[-1][:300]
        return "no answer" if self.exit_code is None else f"exit code {self.exit_code}"


async def runtime_command(argv: list[str], timeout: float) -> CommandResult:
    """Run a short runtime command (`run -d`, `stop`, `wait`, `logs`) for its output."""
    try:
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE)
    except OSError as error:
        return CommandResult(None, stderr=start_failure(argv[0], error))
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except asyncio.TimeoutError:
        process.kill()
        await process.wait()
        return CommandResult(None, stderr=f"{os.path.basename(argv[0])} {argv[1]} did not "
                             f"answer within {timeout:g}s")
    except asyncio.CancelledError:
        process.kill()
        raise
    return CommandResult(process.returncode, stdout.decode(errors="replace"),
                         stderr.decode(errors="replace"))


async def stop_container(runtime: ContainerRuntime, container: str,
                         grace: float = TERMINATE_GRACE) -> None:
    """`docker stop`: SIGTERM the container, SIGKILL it after `grace` seconds (as Argo's
    executor stops a pod's sidecars when its main container has ended)."""
    seconds = str(max(1, round(grace)))
    await runtime_command([runtime.path, "stop", "-t", seconds, container], grace + 60.0)


async def container_exit(runtime: ContainerRuntime, container: str, log_path: Path
                         ) -> int | None:
    """A stopped detached container's exit code (`docker wait`); its output (`docker
    logs`) appended to `log_path`."""
    waited = await runtime_command([runtime.path, "wait", container], 60.0)
    logs = await runtime_command([runtime.path, "logs", container], 60.0)
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(logs.stdout + logs.stderr)
    try:
        return int(waited.stdout.strip().splitlines()[-1]) if waited.exit_code == 0 else None
    except (ValueError, IndexError):
        return None
