"""Container set templates: the containers of one pod, run in the order of their
dependencies, sharing the volumes the set mounts.

As Argo's emissary runs them (cmd/argoexec/commands/emissary.go): a container starts once
the containers it depends on have ended, and does not run its command if one of them
failed (it ends with exit code 64, saying which dependency failed); containers without a
dependency between them run at the same time. The set's `retryStrategy` (`retries`,
`duration` between attempts) runs a failed container's command again in the same
container (`docker start -a`, which keeps the file system the failed run left). Inputs and
outputs are the `main` container's: its stdout is `outputs.result`, its input artifacts are
mounted in it, output parameters and artifacts are read from a shared volume or copied out
of it. A failed container fails the node with its message (`<name>: Error (exit code N)`),
the first by name as the kubelet lists a pod's containers.

Volumes are the local directories `volumes` gives a container template's, an `emptyDir` a
directory of the attempt's own file system; the set's containers all mount them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import container_calls, executors, runtimes
from .container_set_rules import MAIN
from .context import DEADLINE_MESSAGE, NodeError, Operator
from .executors import ProcessOutcome
from .launch import Launch
from .nodes import ERROR, FAILED, RUNNING, Node
from .runtimes import ContainerRuntime
from .sidecars import env_values
from .task_files import TaskFiles
from .values import duration_seconds, min_positive_seconds, parse_integer
from .volumes import pod_mounts

__all__ = ["ContainerSet", "run_container_set"]

DEPENDENCY_FAILED = 64  # the emissary's exit code when it does not run the command

RunContainer = Callable[[list[str], Path], Awaitable[ProcessOutcome]]


@dataclass
class _Container:
    name: str
    spec: Mapping[str, Any]
    docker_name: str
    log: Path
    outcome: ProcessOutcome | None = None
    skipped_for: str = ""  # the failed dependency it did not run for


class ContainerSet:
    """One attempt of a container set template: its containers, volumes and outputs."""

    def __init__(self, runtime: ContainerRuntime, body: Mapping[str, Any], *, pod: str,
                 launch: Launch, run_dir: Path, node_dir: str, files_root: Path,
                 workflow_spec: Mapping[str, Any],
                 volume_dir: Path | None, input_mounts: Sequence[tuple[str, str]],
                 log_path: Callable[[str], Path]) -> None:
        self.runtime = runtime
        self.body = body
        self.launch = launch
        self.run_dir = run_dir
        spec = body.get("containerSet") or {}
        self.workflow_spec = workflow_spec
        self.volume_dir = volume_dir
        self.files_root = files_root
        self._node_dir = node_dir
        self.set_mounts = self._host_mounts(spec.get("volumeMounts") or [])
        self.input_mounts = list(input_mounts)
        retry = spec.get("retryStrategy") or {}
        self.retries = parse_integer(retry.get("retries", 0)) or 0
        self.pause = duration_seconds(retry.get("duration")) or 0.0
        self.containers = [
            _Container(str(c["name"]), c, re.sub(r"[^a-zA-Z0-9_.-]", "-", f"{pod}-{c['name']}"),
                       log_path(str(c["name"])))
            for c in spec.get("containers") or [] if isinstance(c, dict)]
        self.timed_out = False
        self._map_outputs()

    # ------------------------------------------------------------------ volumes

    def _host_mounts(self, mounts: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
        """(local directory, mount path) of each mount, as for a container (`volumes`); an
        emptyDir is a directory of the attempt's own file system."""
        found = []
        for mount in pod_mounts({"volumeMounts": list(mounts)}, self.body, self.workflow_spec,
                                self.run_dir, self.volume_dir):
            host = mount.source if mount.source is not None else \
                self.files_root / mount.mount_path.lstrip("/")
            host.mkdir(parents=True, exist_ok=True)
            found.append((str(host), mount.mount_path))
        return found

    def _mounts_of(self, container: _Container) -> list[tuple[str, str]]:
        mounts = [*self.set_mounts, *self._host_mounts(container.spec.get("volumeMounts") or [])]
        if container.name == MAIN:
            mounts += self.input_mounts  # Argo loads input artifacts into `main` only
        if self.volume_dir is not None:
            mounts.append((str(self.volume_dir), str(self.volume_dir)))
        return mounts

    def _on_volume(self, path: str) -> str | None:
        """Where `path` of the main container is on this machine, if on a mounted volume."""
        main = next((c for c in self.containers if c.name == MAIN), None)
        mounts = self.set_mounts if main is None else self._mounts_of(main)
        for host, target in sorted(mounts, key=lambda m: len(m[1]), reverse=True):
            if path == target or path.startswith(target.rstrip("/") + "/"):
                return host + path[len(target.rstrip("/")):]
        return None

    def _map_outputs(self) -> None:
        for parameter in (self.body.get("outputs") or {}).get("parameters") or []:
            path = (parameter.get("valueFrom") or {}).get("path")
            if path:
                local = self._on_volume(str(path)) or str(
                    self.run_dir / "outputs" / self._node_dir / str(parameter["name"]))
                Path(local).parent.mkdir(parents=True, exist_ok=True)
                self.launch.output_paths[str(parameter["name"])] = (str(path), local)

    # ------------------------------------------------------------------ running

    async def run(self, run: RunContainer, deadline: float | None) -> None:
        """Run the containers, each once its dependencies have ended; stop at `deadline`."""
        ends: dict[str, asyncio.Future[int | None]] = {}

        async def one(container: _Container) -> int | None:
            for dependency in container.spec.get("dependencies") or []:
                code = await ends[dependency]
                if code != 0:
                    container.skipped_for = (
                        f'dependency "{dependency}" exited with non-zero code: {code}'
                        if code is not None else
                        f'dependency "{dependency}" died without reporting exit code')
                    with open(container.log, "a", encoding="utf-8") as log:
                        log.write(container.skipped_for + "\n")
                    return DEPENDENCY_FAILED
            argv = runtimes.container_run_command(
                self.runtime, name=container.docker_name,
                image=str(container.spec.get("image", "")),
                command=[str(w) for w in container.spec.get("command") or []],
                args=[str(w) for w in container.spec.get("args") or []],
                env=self._env(container), mounts=self._mounts_of(container),
                working_dir=container.spec.get("workingDir"))
            outcome = await run(argv, container.log)
            for _ in range(self.retries):
                if outcome.exit_code in (0, None):
                    break
                await asyncio.sleep(self.pause)
                outcome = await run(container_calls.restart_command(self.runtime,
                                                              container.docker_name),
                                    container.log)
            container.outcome = outcome
            return outcome.exit_code

        for container in self.containers:
            ends[container.name] = asyncio.ensure_future(one(container))
        everything = asyncio.gather(*ends.values())
        try:
            await asyncio.wait_for(everything, deadline)
        except asyncio.TimeoutError:
            self.timed_out = True
        finally:
            for end in ends.values():
                end.cancel()

    def _env(self, container: _Container) -> dict[str, str]:
        env = env_values(container.spec)
        if self.volume_dir is not None:
            env["HERA_UTILS_VOLUME_DIR"] = str(self.volume_dir)
        return env

    def exit_codes(self) -> dict[str, int | None]:
        """Each container's exit code (64: not run, a dependency failed; None: not run)."""
        return {c.name: DEPENDENCY_FAILED if c.skipped_for else
                c.outcome.exit_code if c.outcome else None for c in self.containers}

    def log_exit_codes(self, log_path: Path) -> None:
        """Append each container's exit code to the node's log."""
        with open(log_path, "a", encoding="utf-8") as log:
            for name, code in self.exit_codes().items():
                log.write(f"container {name}: exit code {'-' if code is None else code}\n")

    def failure(self) -> tuple[str, str] | None:
        """(phase, message) of a failed set, as Argo's controller reads the pod; None."""
        if self.timed_out:
            return FAILED, DEADLINE_MESSAGE
        # The kubelet lists a pod's containers by name; all of a set's are "main" ones.
        for container in sorted(self.containers, key=lambda c: c.name):
            if container.outcome is not None and container.outcome.start_error:
                return ERROR, f"{container.name}: {container.outcome.start_error}"
            code = self.exit_codes()[container.name]
            if code not in (0, None):
                return FAILED, f"{container.name}: Error (exit code {code})"
        return None

    def main_outcome(self) -> ProcessOutcome | None:
        """The outcome of the container named `main` (its stdout is `outputs.result`)."""
        return next((c.outcome for c in self.containers if c.name == MAIN), None)

    def exit_code(self) -> int | None:
        """The node's exit code: `main`'s, else the first failure's, else 0."""
        codes = self.exit_codes()
        if MAIN in codes:
            return codes[MAIN]
        return next((code for code in codes.values() if code not in (0, None)), 0)

    async def copy_out(self, files: TaskFiles | None) -> None:
        """Bring the outputs off `main` that are not on a volume; artifacts to `files`."""
        main = next((c for c in self.containers if c.name == MAIN), None)
        for path, local in self.launch.output_paths.values():
            if main is not None and self._on_volume(path) is None:
                await runtimes.copy_from_container(self.runtime, main.docker_name, path, local)
        if files is None:
            return
        for path, local, _ in files.container_copies():
            on_volume = self._on_volume(path)
            Path(local).parent.mkdir(parents=True, exist_ok=True)
            if on_volume is not None:
                if os.path.realpath(on_volume) != os.path.realpath(local):
                    _copy(Path(on_volume), Path(local))
            elif main is not None:
                await runtimes.copy_from_container(self.runtime, main.docker_name, path, local)

    async def remove(self) -> None:
        """Remove the set's containers."""
        await asyncio.gather(*(runtimes.remove_container(self.runtime, c.docker_name)
                               for c in self.containers))

    def clean(self) -> None:
        """Remove the attempt's own file system (its emptyDirs), once its outputs are read."""
        shutil.rmtree(self.files_root, ignore_errors=True)


def _copy(source: Path, target: Path) -> None:
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True)
    elif source.exists():
        shutil.copy2(source, target)


async def run_container_set(op: Operator, node: Node, body: Mapping[str, Any], log_path: Path,
                            files: TaskFiles | None, *,
                            environment: Callable[[Launch], dict[str, str]],
                            log_path_of: Callable[[str], Path]) -> ContainerSet | None:
    """Run a container set template as one pod, in one turn (slot) of the run; the set,
    ended, for its outputs to be collected (None: it could not start, the node ended)."""
    try:
        if op.options.runtime is None:
            raise NodeError("not runnable here: a container set needs a working docker or "
                            f"podman ({op.options.runtime_problem})")
        if files is not None:
            files.materialise()
        launch = Launch(cwd=str(op.options.work_dir), kind="containerSet",
                        marker=f"{op.options.run_id}:{log_path.stem}")
        pod = ContainerSet(
            op.options.runtime, body, launch=launch, run_dir=op.options.run_dir,
            pod=f"hera-local-{op.options.run_id[:8]}-{op.pod_name(node)}",
            node_dir=log_path.stem, workflow_spec=op.model.spec,
            files_root=files.root if files else op.options.run_dir / "fs" / log_path.stem,
            volume_dir=op.options.volume_dir, input_mounts=files.mounts() if files else (),
            log_path=log_path_of)
    except (NodeError, OSError) as error:
        if files is not None:
            files.clean()
        log_path.write_text(f"{error}\n", encoding="utf-8")
        node.finish(ERROR, str(error))
        op.finished(node, was="none")
        return None
    deadline = min_positive_seconds(body.get("activeDeadlineSeconds"),
                                    duration_seconds(body.get("timeout")))
    env = environment(launch)

    async def run(argv: list[str], log: Path) -> ProcessOutcome:
        return await executors.run_process(argv, env=env, cwd=launch.cwd, log_path=log,
                                           workers=op.workers, live=op.processes)
    op.progress.task_pending(node)
    state = "pending"
    try:
        async with contextlib.AsyncExitStack() as stack:
            await op.slots.acquire()
            stack.callback(op.slots.release)
            launch.snapshot_outputs()
            node.start(RUNNING)
            op.progress.task_running(node)
            state = "running"
            await pod.run(run, deadline)
            await pod.copy_out(files)
    except asyncio.CancelledError:
        if state == "running":
            await pod.remove()
        pod.clean()
        if files is not None:
            files.clean()
        node.finish(FAILED, op.stop_message)
        op.finished(node, was=state)
        raise
    await pod.remove()
    pod.log_exit_codes(log_path)
    return pod
