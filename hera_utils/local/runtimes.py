"""Container runtimes: finding a working docker or podman, and its command lines.

A container template runs as `docker run` (or `podman run`) of its image; what a task
writes is copied out with `docker cp`, and the container is removed after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
from dataclasses import dataclass

__all__ = [
    "ContainerRuntime",
    "container_run_command",
    "copy_from_container",
    "find_container_runtime",
    "mounts_in",
    "remove_container",
]

PROBE_TIMEOUT = 5.0  # seconds a container runtime has to answer `info`


@dataclass(frozen=True)
class ContainerRuntime:
    """A working `docker` or `podman` command line."""

    name: str
    path: str


_PROBES: dict[str, tuple[bool, str]] = {}


def find_container_runtime(preference: str | None = None, *, timeout: float = PROBE_TIMEOUT
                           ) -> tuple[ContainerRuntime | None, str]:
    """A container runtime that answers `info`, or None and the reason why there is none.

    `preference` is None/"auto" (docker, then podman), "none" (containers disabled), or a
    command name or path. Each probe's answer is cached per executable for the process.
    """
    if preference is not None and preference.strip().lower() == "none":
        return None, "containers are disabled (container_runtime='none')"
    candidates = ["docker", "podman"] if preference in (None, "", "auto") else [preference]
    reasons = []
    for candidate in candidates:
        path = shutil.which(candidate)
        if path is None:
            reasons.append(f"{candidate} is not on PATH")
            continue
        works, reason = _probe(path, timeout)
        if works:
            return ContainerRuntime(os.path.basename(candidate), path), ""
        reasons.append(reason)
    return None, "; ".join(reasons)


def _probe(path: str, timeout: float) -> tuple[bool, str]:
    cached = _PROBES.get(path)
    if cached is None:
        name = os.path.basename(path)
        try:
            completed = subprocess.run([path, "info"], stdin=subprocess.DEVNULL,
                                       capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            cached = (False, f"'{name} info' did not answer within {timeout:g}s")
        except OSError as error:
            cached = (False, f"cannot run {path}: {error.strerror or error}")
        else:
            if completed.returncode == 0:
                cached = (True, "")
            else:
                detail = completed.stderr.decode(errors="replace").strip().splitlines()
                first = f": {detail[-1][:200]}" if detail else ""
                cached = (False, f"'{name} info' failed (exit code {completed.returncode}){first}")
        _PROBES[path] = cached
    return cached


def container_run_command(runtime: ContainerRuntime, *, name: str, image: str,
                          command: list[str], args: list[str], env: dict[str, str],
                          mounts: list[tuple[str, str]], working_dir: str | None,
                          network: str | None = None, detach: bool = False) -> list[str]:
    """The `docker run`/`podman run` command line of a container template.

    Kubernetes' `command` replaces the image's entrypoint and `args` its command, hence
    `--entrypoint` with the first word of `command`. `--init` runs it as a child of an init
    process, as Argo's executor runs it: as PID 1 it would ignore the signals it sends
    itself (its default actions do not apply to PID 1). `network` is `host` or
    `container:<name>` (the network of a pod's other containers); `detach` starts it in the
    background (`-d`: the command returns once the container runs).
    """
    argv = [runtime.path, "run", "--init", *(["-d"] if detach else []), "--name", name]
    if network:
        argv += ["--network", network]
    for key, value in env.items():
        argv += ["-e", f"{key}={value}"]
    for host, target in mounts:
        argv += ["-v", f"{host}:{target}"]
    if working_dir:
        argv += ["-w", working_dir]
    if command:
        argv += ["--entrypoint", command[0]]
    return [*argv, image, *command[1:], *args]


async def copy_from_container(runtime: ContainerRuntime, container: str, path: str,
                              local_path: str) -> None:
    """`docker cp container:path local_path` (a file the container wrote as an output)."""
    await _quiet_command([runtime.path, "cp", f"{container}:{path}", local_path])


async def remove_container(runtime: ContainerRuntime, container: str) -> None:
    """`docker rm -f container`: the container of a finished or stopped task."""
    await _quiet_command([runtime.path, "rm", "-f", container])


async def _quiet_command(argv: list[str], timeout: float = 60.0) -> None:
    with contextlib.suppress(OSError, asyncio.TimeoutError):
        process = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL)
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except asyncio.TimeoutError:
            process.kill()
            raise


def mounts_in(argv: list[str]) -> list[tuple[str, str]]:
    """The (host, container path) volumes of a `container_run_command` command line."""
    mounts, index = [], 2  # after `docker run`, flags until the image
    while index < len(argv) and argv[index].startswith("-"):
        flag = argv[index]
        if flag in ("--init", "-d"):
            index += 1
            continue
        if flag == "-v" and index + 1 < len(argv):
            host, _, target = argv[index + 1].partition(":")
            mounts.append((host, target))
        index += 2
    return mounts
