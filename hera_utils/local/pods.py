"""Pod templates run here: scripts and containers as processes, stubs, and suspend.

An attempt waits for its turn (a slot of `parallelism`, and the lock of any fixed output
path it shares with other tasks), runs (`executors.run_process`), then has its outputs
collected as Argo's wait container would: `outputs.result` from stdout, output parameters
from their files. A container task runs through docker or podman, or is stubbed.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
from pathlib import Path
from typing import Any

from . import executors, runtimes
from .artifacts import LocalRepository, has_artifacts, published_artifacts
from .concurrency import Turn
from .container_set_rules import describe_set, set_volume_mounts
from .container_sets import ContainerSet, run_container_set
from .context import NodeError, Operator
from .harvest import Harvest
from .launch import Launch, Launcher
from .nodes import ERROR, FAILED, RUNNING, SUCCEEDED, Node
from .reuse import apply as apply_reused
from .reuse import reuse_for
from .scope import published_globals
from .sidecars import PodContainers, has_pod_containers, pod_failure
from .task_files import TaskFiles
from .values import duration_seconds, format_value, min_positive_seconds, truthy
from .volumes import pod_mounts

__all__ = ["PodRunner", "run_suspend"]


class PodRunner:
    """Runs the pod templates (script, container) of one run."""

    def __init__(self, op: Operator) -> None:
        self.op = op
        self.options = op.options
        self.launcher = Launcher(op.name, op.options)
        self.repository = LocalRepository(op.options.run_dir)

    async def run(self, node: Node, body: dict[str, Any], kind: str, log_base: str) -> None:
        """Run one attempt of a pod template as node `node`."""
        node.kind = kind
        log_path = self.op.log_path(log_base)
        node.logs.append(log_path)
        outputs = (body.get("outputs") or {}).get("parameters") or []
        if self._volume_missing(node, body, kind, log_path):
            return
        # Artifacts are files of this run only: their task runs again.
        found = reuse_for(node, self.options.reusable) \
            if self.options.reusable and not has_artifacts(body) else None
        if found is not None:
            apply_reused(node, found, log_path, self.options.reused_from)
            node.reused = True
            node.finish(SUCCEEDED)
            self.op.global_scope.update(published_globals(outputs, node))
            self.op.finished(node, was="none")
            return
        mounts = [] if kind == "containerSet" else pod_mounts(  # a set's: container_sets
            body[kind], body, self.op.model.spec, self.options.run_dir, self.options.volume_dir)
        files = TaskFiles(self.repository, log_path.stem, body, mounts)
        if kind in ("container", "containerSet") and self.options.stub_containers:
            self._stub(node, body, outputs, log_path, files)
            return
        if kind == "containerSet":
            pod = await run_container_set(
                self.op, node, body, log_path, files, environment=self.launcher.environment,
                log_path_of=lambda name: self._extra_log(node, log_base, name))
            if pod is not None:
                self._finish_set(node, body, outputs, files, pod)
            return
        launch = self._prepare(node, body, kind, log_base, log_path, files)
        if launch is None:
            return
        deadline = min_positive_seconds(body.get("activeDeadlineSeconds"),
                                        duration_seconds(body.get("timeout")))
        extras = self._pod_containers(node, body, launch, log_base, files)
        harvest = Harvest(outputs, launch, files)
        try:
            outcome = await self._attempt(node, kind, launch, log_path, deadline, extras,
                                          harvest)
            if not harvest.ran:  # a container's files are copied out by now
                harvest(not outcome.start_error)
        finally:
            if not harvest.by_worker:  # a container's, or one stopped before it started
                files.clean()
        node.exit_code = outcome.exit_code
        node.result = executors.result_text(outcome.stdout)
        problems = harvest.apply(node)
        self._conclude(node, pod_failure(outcome, extras, daemon=truthy(body.get("daemon"))),
                       problems, outputs, body)

    def _conclude(self, node: Node, failure: tuple[str, str] | None, problems: list[str],
                  outputs: list[dict[str, Any]], body: dict[str, Any]) -> None:
        """End an attempt's node: its pod's failure, else its outputs' problems, else done."""
        if failure is not None:
            node.finish(*failure)
        elif problems:
            # Argo's wait container fails to save the outputs: the node errors.
            node.finish(ERROR, "failed to save outputs: " + "; ".join(problems))
        else:
            node.finish(SUCCEEDED)
            self.op.global_scope.update(published_globals(outputs, node))
            self.op.global_scope.update(published_artifacts(body, node))
        self.op.finished(node, was="running")

    def _volume_missing(self, node: Node, body: dict[str, Any], kind: str, log_path: Path
                        ) -> bool:
        """Whether a volume mount names no volume: Argo cannot create the pod, the node
        errors (stubbed or not)."""
        spec = {"volumeMounts": set_volume_mounts(body)} if kind == "containerSet" \
            else body[kind]
        missing = undefined_volume(spec, body, self.op.model.spec)
        if missing:
            log_path.write_text(f"{missing}\n", encoding="utf-8")
            node.finish(ERROR, missing)
            self.op.finished(node, was="none")
        return bool(missing)

    def _prepare(self, node: Node, body: dict[str, Any], kind: str, log_base: str,
                 log_path: Path, files: TaskFiles) -> Launch | None:
        """The attempt's launch, its file system made; None (the node ended) if it cannot
        start."""
        try:
            on_host = kind == "script" and self.options.script_runtime == "host"
            if not on_host and self.options.runtime is None:
                what = "a container task" if kind == "container" else \
                    "a script task in its image (script_runtime='container')"
                raise NodeError(f"not runnable here: {what} needs a working docker "
                                f"or podman ({self.options.runtime_problem})")
            if has_pod_containers(body) and self.options.runtime is None \
                    and not self.options.stub_containers:
                raise NodeError("not runnable here: init containers and sidecars need a "
                                f"working docker or podman ({self.options.runtime_problem})")
            spec = body[kind]
            files.materialise(spec if on_host else None)
            if on_host:  # a process sees its files in its own file system
                body = {**body, kind: files.rewrite(spec)}
                launch = self.launcher.prepare(node, body, kind, log_base,
                                               cwd=files.working_dir(spec), home=files.home)
            else:
                launch = self.launcher.prepare(node, body, kind, log_base,
                                               mounts=files.mounts())
                launch.copies.extend(files.container_copies())
            return launch
        except (NodeError, OSError) as error:
            files.clean()
            log_path.write_text(f"{error}\n", encoding="utf-8")
            node.finish(ERROR, str(error))
            self.op.finished(node, was="none")
            return None

    def _pod_containers(self, node: Node, body: dict[str, Any], launch: Launch,
                        log_base: str, files: TaskFiles) -> PodContainers | None:
        """The init containers and sidecars of the attempt (None: it has none, or stubs)."""
        if not has_pod_containers(body):
            return None
        if self.options.stub_containers or self.options.runtime is None:
            names = [str(c.get("name")) for c in [*(body.get("initContainers") or []),
                                                  *(body.get("sidecars") or [])]]
            self.op.progress.notice(f"stub {node.display_name}: init containers and sidecars "
                                    f"{', '.join(names)} not run")
            return None
        pod = launch.container_name or re.sub(
            r"[^a-zA-Z0-9_.-]", "-", f"hera-local-{self.op.name}-{launch.marker}")
        # A script on this machine: its volumes are directories of its own file system.
        mounts = runtimes.mounts_in(launch.argv) if launch.container_name else files.mounts()
        return PodContainers(self.options.runtime, body, pod=pod,
                             host_network=not launch.container_name,
                             main_mounts=mounts, volume_dir=self.options.volume_dir,
                             log_path=lambda name: self._extra_log(node, log_base, name))

    def _extra_log(self, node: Node, log_base: str, name: str) -> Path:
        path = self.op.log_path(f"{log_base}.{name}")
        # Before the attempt's own log, which stays the last: the one a task's `log` names.
        node.logs.insert(max(len(node.logs) - 1, 0), path)
        return path

    async def _attempt(self, node: Node, kind: str, launch: Launch, log_path: Path,
                       deadline: float | None, extras: PodContainers | None,
                       harvest: Harvest) -> executors.ProcessOutcome:
        """Wait for a turn, run the process, copy a container's outputs out of it.

        `extras` (init containers, sidecars) run in the same turn: the init containers
        first, then the sidecars, stopped when the main process has ended. A process's
        outputs are harvested by its worker thread, as soon as it has ended."""
        self.op.progress.task_pending(node)
        state = "pending"

        def started() -> None:
            nonlocal state
            node.start(RUNNING)
            self.op.progress.task_running(node)
            state = "running"
        # A daemon (`daemons`) waits mostly: it takes no slot. A lone process takes its slot
        # in line (`slots`); a pod of several, or a container, holds one on the loop.
        slots = self.op.slots if node.pod_ip is None else None
        in_line = slots is not None and extras is None and not launch.container_name
        try:
            locks = [(path, self.op.path_lock(path)) for path in sorted(launch.shared_paths)]
            async with Turn(locks, None if in_line else slots, self._shared_path_notice):
                launch.snapshot_outputs()
                if not in_line:
                    started()
                if extras is not None and not await self._before_main(
                        extras, self.launcher.environment(launch), launch, deadline):
                    outcome = executors.ProcessOutcome(exit_code=None)
                else:
                    try:
                        outcome = await executors.run_process(
                            launch.argv, env=functools.partial(self.launcher.environment,
                                                               launch),
                            cwd=launch.cwd, log_path=log_path, workers=self.op.workers,
                            timeout=deadline, live=self.op.processes,
                            after=None if launch.container_name else harvest.in_worker,
                            cleanup=None if launch.container_name else harvest.clean,
                            slots=slots if in_line else None,
                            on_start=started if in_line else None)
                    finally:
                        if extras is not None:
                            await extras.stop_sidecars()
                if launch.container_name:
                    await self._copy_outputs(launch)
        except asyncio.CancelledError:
            if launch.container_name and state == "running":
                await self._remove(launch)
            if node.daemoned and not self.op.stop_message:
                node.finish(SUCCEEDED)  # its scope ended (`daemons`, killDaemonedChildren)
            else:
                node.finish(FAILED, self.op.stop_message)
            self.op.finished(node, was=state)
            raise
        if launch.container_name:
            await self._remove(launch)
        return outcome

    def _shared_path_notice(self, path: str) -> None:
        self.op.notice_once(f"tasks writing their outputs to {path} take turns here (on Argo "
                            "each pod has its own file system)")

    async def _before_main(self, extras: PodContainers, env: dict[str, str], launch: Launch,
                           deadline: float | None) -> bool:
        """Run the init containers, start the sidecars; False if the main must not run."""
        async def run(argv: list[str], log: Path) -> executors.ProcessOutcome:
            return await executors.run_process(
                argv, env=env, cwd=launch.cwd, log_path=log, workers=self.op.workers,
                timeout=deadline, live=self.op.processes)
        try:
            if await extras.run_init(run) and await extras.start_sidecars():
                return True
        except BaseException:
            await extras.stop_sidecars()
            raise
        await extras.stop_sidecars()
        return False

    async def _copy_outputs(self, launch: Launch) -> None:
        assert self.options.runtime is not None
        for path, local_path, _ in launch.copies:
            await runtimes.copy_from_container(self.options.runtime, launch.container_name,
                                                path, local_path)

    async def _remove(self, launch: Launch) -> None:
        if self.options.runtime is not None and launch.container_name:
            await runtimes.remove_container(self.options.runtime, launch.container_name)

    def _finish_set(self, node: Node, body: dict[str, Any], outputs: list[dict[str, Any]],
                    files: TaskFiles | None, pod: ContainerSet) -> None:
        """Collect a container set's outputs (`main`'s) and finish its node."""
        try:
            main = pod.main_outcome()
            node.exit_code = pod.exit_code()
            node.result = executors.result_text(main.stdout) if main is not None else None
            harvest = Harvest(outputs, pod.launch, files)
            harvest(True)
            problems = harvest.apply(node)
        finally:
            pod.clean()
            if files is not None:
                files.clean()
        self._conclude(node, pod.failure(), problems, outputs, body)

    def _stub(self, node: Node, body: dict[str, Any], outputs: list[dict[str, Any]],
              log_path: Path, files: TaskFiles | None) -> None:
        if "containerSet" in body:
            description = describe_set(body)
        else:
            spec = body["container"]
            command = [*(spec.get("command") or []), *(spec.get("args") or [])]
            description = (f"image {spec.get('image')}, command "
                           f"{json.dumps(command) if command else '(the image default)'}")
        log_path.write_text(f"stubbed container task, not run: {description}\n",
                            encoding="utf-8")
        self.op.progress.notice(f"stub {node.display_name}: {description}")
        node.stubbed = True
        node.start()
        node.result = ""
        node.exit_code = 0  # a stub "exits 0": `{{steps.X.exitCode}}` reads it
        for parameter in outputs:
            source = parameter.get("valueFrom") or {}
            default = source.get("default", parameter.get("value", ""))
            node.parameters[parameter["name"]] = format_value(default)
        if files is not None and files.outputs:
            files.stub(node)
            self.op.notice_once("a stubbed container task's output artifacts are empty files")
        node.finish(SUCCEEDED, f"stubbed: {description}")
        self.op.global_scope.update(published_globals(outputs, node))
        self.op.global_scope.update(published_artifacts(body, node))
        self.op.finished(node, was="none")


def run_suspend(op: Operator, node: Node, body: dict[str, Any]) -> None:
    """A suspend template: it does not wait in a local run, it is resumed at once.

    Its outputs take what `resume_with` supplies, else (as Argo's
    `OverrideOutputParametersWithDefault` on resume or timeout) their `valueFrom.default`,
    else the default of the input parameter of the same name.
    """
    duration = (body.get("suspend") or {}).get("duration")
    note = f" (duration {duration})" if duration else ""
    op.progress.notice(f"suspend {node.display_name}{note}: not waiting in a local run")
    node.start()
    inputs = {str(p.get("name")): p for p in (body.get("inputs") or {}).get("parameters") or []}
    for parameter in (body.get("outputs") or {}).get("parameters") or []:
        name = str(parameter["name"])
        source = parameter.get("valueFrom") or {}
        value = op.options.resume_with.get(name) if "supplied" in source else None
        if value is None:
            value = source.get("default", parameter.get("default", parameter.get("value")))
        if value is None and "supplied" in source:
            value = node.inputs.get(name, (inputs.get(name) or {}).get("default"))
        if value is not None:
            node.parameters[name] = format_value(value)
    node.finish(SUCCEEDED, "suspend: not waiting in a local run")
    op.finished(node, was="none")


def undefined_volume(spec: dict[str, Any], template: dict[str, Any],
                     workflow_spec: dict[str, Any]) -> str | None:
    """Argo's error for a volumeMount that names no volume of the template or workflow."""
    if not spec.get("volumeMounts"):
        return None
    defined = {str(v.get("name")) for v in (workflow_spec.get("volumes") or [])
               + (template.get("volumes") or []) if isinstance(v, dict)}
    defined |= {str((claim.get("metadata") or {}).get("name"))
                for claim in workflow_spec.get("volumeClaimTemplates") or []
                if isinstance(claim, dict)}
    for mount in spec.get("volumeMounts") or []:
        name = mount.get("name") if isinstance(mount, dict) else None
        if name and str(name) not in defined:
            return f"volume '{name}' not found in workflow spec"
    return None
