"""Init containers and sidecars of a pod template, run around its main container.

In a pod, the init containers run one after another before any other container; then the
main container and the sidecars run together, sharing the pod's network (`localhost`), and
once the main container has ended Argo's executor stops the sidecars (SIGTERM, then
SIGKILL). Here each is a container of the runtime: an init container runs to its end
(`docker run`), a sidecar starts in the background (`docker run -d`) before the main
container, which joins the first sidecar's network (`--network container:<sidecar>`), as
do the other sidecars, so that `localhost` reaches them as in the pod. A script template
run on this machine (not `script_runtime="container"`) is in no container: its init
containers and sidecars use the host's network (`--network host`), where its `localhost` is.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import container_calls, runtimes
from .context import DEADLINE_MESSAGE
from .executors import ProcessOutcome
from .nodes import ERROR, FAILED
from .runtimes import ContainerRuntime
from .values import format_value

__all__ = ["PodContainers", "env_values", "first_sidecar", "has_pod_containers", "pod_failure",
           "sidecar_container"]

START_TIMEOUT = 600.0  # seconds `docker run -d` may take: it pulls the image first
# A sidecar the executor stopped ends with SIGKILL's or SIGTERM's code: Argo ignores those
# (workflow/controller/operator.go, inferFailedReason).
_STOPPED = (137, 143)

RunContainer = Callable[[list[str], Path], Awaitable[ProcessOutcome]]


def has_pod_containers(template: Mapping[str, Any]) -> bool:
    """Whether a pod template has init containers or sidecars."""
    return bool(template.get("initContainers") or template.get("sidecars"))


def sidecar_container(pod: str, name: str) -> str:
    """The runtime's name for init container or sidecar `name` of the pod named `pod`."""
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", f"{pod}-{name}")


def first_sidecar(template: Mapping[str, Any]) -> str | None:
    """The sidecar whose network the main container joins (None: no sidecar)."""
    for sidecar in template.get("sidecars") or []:
        if isinstance(sidecar, dict) and sidecar.get("name"):
            return str(sidecar["name"])
    return None


class PodContainers:
    """The init containers and sidecars of one attempt of a pod template.

    `failure` is the (phase, message) the pod ends with because of them, as Argo words it;
    `blocked` says that the main container must not run (an init container failed, a
    sidecar did not start).
    """

    def __init__(self, runtime: ContainerRuntime, template: Mapping[str, Any], *, pod: str,
                 host_network: bool, main_mounts: Sequence[tuple[str, str]],
                 volume_dir: Path | None, log_path: Callable[[str], Path]) -> None:
        self.runtime = runtime
        self.pod = pod
        self.host_network = host_network
        self.main_mounts = list(main_mounts)
        self.volume_dir = volume_dir
        self.log_path = log_path
        self.init = [c for c in template.get("initContainers") or [] if isinstance(c, dict)]
        self.sidecars = [c for c in template.get("sidecars") or [] if isinstance(c, dict)]
        self.failure: tuple[str, str] | None = None
        self.blocked = False
        self.logs: list[Path] = []
        self._running: list[tuple[str, str, Path]] = []  # (name, container, log)

    async def run_init(self, run: RunContainer) -> bool:
        """Run the init containers in order; False (and `failure`) if one did not succeed."""
        for spec in self.init:
            name = str(spec.get("name"))
            container = sidecar_container(self.pod, name)
            log = self._log(name)
            try:
                outcome = await run(self._argv(spec, container, detach=False,
                                               network="host" if self.host_network else None), log)
            finally:
                await runtimes.remove_container(self.runtime, container)
            failure = _init_failure(name, outcome)
            if failure is not None:
                self.failure, self.blocked = failure, True
                return False
        return True

    async def start_sidecars(self) -> bool:
        """Start the sidecars, the first owning the pod's network; False if one did not."""
        owner: str | None = None  # the first sidecar: the others join its network
        for spec in self.sidecars:
            name = str(spec.get("name"))
            container = sidecar_container(self.pod, name)
            log = self._log(name)
            self._running.append((name, container, log))  # stopped and removed even if half-started
            network = "host" if self.host_network else owner and f"container:{owner}"
            started = await container_calls.runtime_command(
                self._argv(spec, container, detach=True, network=network), START_TIMEOUT)
            if started.exit_code != 0:
                with open(log, "a", encoding="utf-8") as file:
                    file.write(started.stdout + started.stderr)
                # Kubernetes would keep the pod waiting for the container; here it errors.
                self.failure = (ERROR, f"{name}: the sidecar did not start: {started.problem()}")
                self.blocked = True
                return False
            owner = owner or container
        return True

    async def stop_sidecars(self) -> None:
        """Stop the running sidecars (the main container has ended), keep their logs.

        A sidecar that ended with a code other than 0 or those of a stop fails the pod (if
        nothing else did), as Argo's controller reads a failed pod's containers."""
        running, self._running = self._running, []
        if not running:
            return
        codes = await asyncio.gather(*(self._stop(container, log)
                                       for _, container, log in running))
        if self.failure is None:
            for (name, _, _), code in zip(running, codes, strict=True):
                if code not in (None, 0, *_STOPPED):
                    self.failure = (FAILED, f"{name}: Error (exit code {code})")
                    break

    async def _stop(self, container: str, log: Path) -> int | None:
        try:
            await container_calls.stop_container(self.runtime, container)
            return await container_calls.container_exit(self.runtime, container, log)
        finally:
            await runtimes.remove_container(self.runtime, container)

    def _log(self, name: str) -> Path:
        log = self.log_path(name)
        self.logs.append(log)
        return log

    def _argv(self, spec: Mapping[str, Any], container: str, *, detach: bool,
              network: str | None) -> list[str]:
        mounts = list(self.main_mounts) if spec.get("mirrorVolumeMounts") else []
        # Its own mounts: the main container's volume at that path, else the path here.
        pod_volumes = {target: host for host, target in self.main_mounts}
        for mount in spec.get("volumeMounts") or []:
            target = str(mount.get("mountPath") or "") if isinstance(mount, dict) else ""
            host = pod_volumes.get(target.rstrip("/")) or pod_volumes.get(target)
            if host is None and target and os.path.isdir(target):
                host = target
            if host is not None and (host, target) not in mounts:
                mounts.append((host, target))
        if self.volume_dir is not None and (str(self.volume_dir),) * 2 not in mounts:
            mounts.append((str(self.volume_dir), str(self.volume_dir)))
        return runtimes.container_run_command(
            self.runtime, name=container, image=str(spec.get("image", "")),
            command=[str(w) for w in spec.get("command") or []],
            args=[str(w) for w in spec.get("args") or []], env=env_values(spec),
            mounts=mounts, working_dir=spec.get("workingDir"),
            network=network, detach=detach)


def pod_failure(outcome: ProcessOutcome, extras: PodContainers | None, *,
                daemon: bool) -> tuple[str, str] | None:
    """(phase, message) of a failed attempt, in the order Argo's controller reads a pod
    (None: it succeeded); `extras` are its init containers and sidecars."""
    if extras is not None and extras.blocked and extras.failure:
        return extras.failure  # an init container failed, a sidecar did not start
    if outcome.start_error:
        return ERROR, outcome.start_error
    if outcome.timed_out:
        return FAILED, DEADLINE_MESSAGE
    if outcome.exit_code != 0 or daemon:
        # Argo fails a daemon whose pod succeeds too: it was to run until stopped.
        return FAILED, f"Error (exit code {outcome.exit_code})"
    return extras.failure if extras is not None else None  # a sidecar that failed itself


def _init_failure(name: str, outcome: ProcessOutcome) -> tuple[str, str] | None:
    """How the pod ends when init container `name` ended so (None: it succeeded)."""
    if outcome.start_error:
        return ERROR, f"{name}: {outcome.start_error}"
    if outcome.timed_out:
        return FAILED, DEADLINE_MESSAGE
    if outcome.exit_code == 0:
        return None
    if outcome.exit_code in _STOPPED:
        # Argo ignores these codes of a container other than main, and finds the main
        # container still waiting for the init containers.
        return ERROR, "Pod failed before main container starts due to PodInitializing: "
    return FAILED, f"{name}: Error (exit code {outcome.exit_code})"


def env_values(spec: Mapping[str, Any]) -> dict[str, str]:
    """A container's `env` as values (one from the cluster is taken from this machine's)."""
    values = {}
    for variable in spec.get("env") or []:
        name = variable.get("name") if isinstance(variable, dict) else None
        if not name:
            continue
        if "value" in variable:
            values[str(name)] = format_value(variable["value"])
        elif variable.get("valueFrom") and name in os.environ:
            values[str(name)] = os.environ[name]  # as for the main container: from here
    return values
