"""What it takes to start one task attempt: command line, environment, output paths.

The local counterpart of the controller's `workflowpod.go`: a script template becomes its
interpreter with the source written to a file (`python /path/script.py`, as Argo appends
the file to the command), a container template a `docker run` command line; `env` values
become the environment, and each output parameter's path is mapped to where the attempt
writes it on this machine.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import executors, runtimes
from .context import NodeError, RunOptions
from .limits import MAX_PARAMETER_BYTES, read_bounded
from .nodes import Node
from .reaper import TASK_MARKER
from .sandbox import PythonSandbox, make_sandbox
from .sidecars import first_sidecar, sidecar_container
from .values import format_value

__all__ = ["STAGED_SCRIPT", "Launch", "Launcher"]

STAGED_SCRIPT = "/argo/staging/script"  # where Argo's executor puts a script's source

_SHELLS = ("bash", "sh", "zsh", "dash", "ksh")
# Where programs that follow the XDG rules keep their files: under the task's HOME too.
_HOME_PLACES = {"XDG_CONFIG_HOME": ".config", "XDG_CACHE_HOME": ".cache",
                "XDG_DATA_HOME": ".local/share", "XDG_STATE_HOME": ".local/state"}


@dataclass
class Launch:
    """Everything needed to start one attempt and collect its outputs."""

    cwd: str
    kind: str
    argv: list[str] = field(default_factory=list)
    env_vars: dict[str, str] = field(default_factory=dict)  # the template's own `env`
    container_name: str = ""
    home: str = ""  # a script's HOME ("" leaves the inherited one)
    marker: str = ""  # names the attempt's processes, even those that leave its group
    # parameter name -> (path as the template says, path on this machine)
    output_paths: dict[str, tuple[str, str]] = field(default_factory=dict)
    shared_paths: set[str] = field(default_factory=set)
    copies: list[tuple[str, str, str]] = field(default_factory=list)
    _before: dict[str, tuple[int, int, int] | None] = field(default_factory=dict)

    def snapshot_outputs(self) -> None:
        """Remember the output files already there, so a stale one is not taken as output."""
        for _, local_path in self.output_paths.values():
            self._before[local_path] = _stat(local_path)

    def read_output(self, local_path: str) -> str | None:
        """The output file's text, or None if the attempt did not write it.

        Raises `LimitError` when the file is larger than a parameter may be.
        """
        now = _stat(local_path)
        if now is None or (now == self._before.get(local_path)):
            return None
        try:
            # Bounded: a parameter is a short value (Argo's limit); a larger file Errors.
            data = read_bounded(local_path, MAX_PARAMETER_BYTES)
        except OSError:
            return None
        return data.decode("utf-8", errors="replace")


class Launcher:
    """Prepares the launches of one run (its script files, its container names)."""

    def __init__(self, workflow_name: str, options: RunOptions) -> None:
        self.workflow_name = workflow_name
        self.options = options
        # (template, suffix, source) -> the script file written for it
        self._scripts: dict[tuple[str, str, str], str] = {}
        self._containers = 0
        self._launches = 0
        # The environment a task inherits, read once: os.environ decodes on every access.
        self._host_environment = dict(os.environ)
        self._sandbox: PythonSandbox | None = None

    def prepare(self, node: Node, body: dict[str, Any], kind: str, log_base: str,
                mounts: Sequence[tuple[str, str]] = (), *, cwd: Path | None = None,
                home: Path | None = None) -> Launch:
        """The launch of a pod template's attempt; `NodeError` if it cannot start.

        `mounts` (host path, container path) are a container's volumes and input
        artifacts. A script runs in `cwd` with `home` as its HOME (its own file system)."""
        spec = body[kind]
        env_vars = _env_values(spec.get("env") or [])
        remap: dict[str, str] = {}
        in_container = kind == "container" or self.options.script_runtime == "container"
        hera_outputs = env_vars.get("hera__outputs_directory")
        if hera_outputs and not in_container:
            # Hera's runner writes annotated outputs under this directory: give each attempt
            # its own, so that concurrent tasks do not overwrite each other's outputs.
            local_dir = self.options.run_dir / "outputs" / log_base
            local_dir.mkdir(parents=True, exist_ok=True)
            env_vars["hera__outputs_directory"] = str(local_dir)
            remap[hera_outputs.rstrip("/")] = str(local_dir)
        launch = Launch(cwd=str(cwd or self.options.work_dir),
                        kind="container" if in_container else kind,
                        home=str(home) if home else "")
        self._map_outputs(launch, body, launch.kind, log_base, remap)
        if self.options.volume_dir is not None:
            env_vars["HERA_UTILS_VOLUME_DIR"] = str(self.options.volume_dir)
        self._launches += 1
        launch.env_vars = env_vars
        if kind == "script" and self.options.script_runtime == "container":
            # As Argo stages it: the source at /argo/staging/script, appended to the args.
            script = self._script_file(spec, _file_name(node.template_name or "script"))
            spec = {**spec, "args": [*(spec.get("args") or []), STAGED_SCRIPT]}
            launch.argv, launch.container_name = self._container_command(
                spec, env_vars, [*mounts, (script, STAGED_SCRIPT)], sidecar=first_sidecar(body))
        elif kind == "script":
            self.sandbox()
            launch.argv = self._script_command(spec, _file_name(node.template_name or "script"))
        else:
            launch.argv, launch.container_name = self._container_command(
                spec, env_vars, mounts, sidecar=first_sidecar(body))
        if launch.container_name:
            for name, (path, local_path) in launch.output_paths.items():
                Path(local_path).parent.mkdir(parents=True, exist_ok=True)
                launch.copies.append((path, local_path, name))
        launch.marker = f"{self.options.run_id}:{self._launches}"
        return launch

    def _map_outputs(self, launch: Launch, body: dict[str, Any], kind: str, log_base: str,
                     remap: Mapping[str, str]) -> None:
        for parameter in (body.get("outputs") or {}).get("parameters") or []:
            path = (parameter.get("valueFrom") or {}).get("path")
            if not path:
                continue
            local_path = _remapped(path, remap)
            if kind == "container":
                local_path = str(self.options.run_dir / "outputs" / log_base / parameter["name"])
            elif not os.path.isabs(local_path):
                local_path = os.path.join(launch.cwd, local_path)
            launch.output_paths[parameter["name"]] = (path, local_path)
            if kind == "script" and _remapped(path, remap) == path:
                # A fixed path is private to each pod on Argo but shared by every process
                # here: tasks writing it must take turns.
                launch.shared_paths.add(os.path.normpath(local_path))

    def environment(self, launch: Launch) -> dict[str, str]:
        """The process's environment, made when it starts: waiting tasks hold none."""
        if launch.kind != "script":
            # docker run: the container's own come from `-e`
            return {**self._host_environment, TASK_MARKER: launch.marker}
        env = {**self._host_environment, TASK_MARKER: launch.marker}
        if launch.home:
            # The task's own HOME, and the places programs keep their files under it.
            env["HOME"] = launch.home
            for variable, place in _HOME_PLACES.items():
                env[variable] = os.path.join(launch.home, place)
        self.sandbox().apply(env)
        env.update(launch.env_vars)
        env[TASK_MARKER] = launch.marker
        work_dir = str(self.options.work_dir)
        existing = env.get("PYTHONPATH")
        env["PYTHONPATH"] = work_dir + (os.pathsep + existing if existing else "")
        env.setdefault("PYTHONUNBUFFERED", "1")  # logs show progress as it happens
        return env

    def sandbox(self) -> PythonSandbox:
        """The run's own Python for its scripts, made when the first script needs it."""
        if self._sandbox is None:
            try:
                self._sandbox = make_sandbox(self.options.run_dir / "python")
            except OSError as error:
                raise NodeError(f"cannot make the run's Python environment: {error}") \
                    from error
        return self._sandbox

    def _script_command(self, spec: dict[str, Any], template_name: str) -> list[str]:
        command = [str(word) for word in spec.get("command") or []]
        script = self._script_file(spec, template_name)
        args = [str(word) for word in spec.get("args") or []]
        program = command[0]
        if executors.python_interpreter(program) != program:
            program = self.sandbox().python  # the run's Python: pip installs stay in the run
        return [program, *command[1:], *args, script]

    def _script_file(self, spec: dict[str, Any], template_name: str) -> str:
        """The file holding the script's source (written once per distinct source)."""
        command = [str(word) for word in spec.get("command") or []]
        if not command:
            raise NodeError("the script template has no command (e.g. [python] or [bash])")
        program = os.path.basename(command[0])
        suffix = ".py" if executors.python_interpreter(program) != program else \
            ".sh" if program in _SHELLS else ""
        # Argo writes the source to a file and appends its path to the command line. Files
        # are named by content: the many tasks of a loop often share one resolved source.
        source = str(spec.get("source", ""))
        key = (template_name, suffix, source)
        script = self._scripts.get(key)
        if script is None:
            digest = hashlib.sha1(source.encode("utf-8")).hexdigest()[:12]
            path = self.options.run_dir / "scripts" / f"{template_name}-{digest}{suffix}"
            path.parent.mkdir(exist_ok=True)
            path.write_text(source, encoding="utf-8")
            # Argo stages the script executable (mode 0755): `command: [sh, -c]` runs it.
            path.chmod(0o755)
            script = self._scripts[key] = str(path)
        return script

    def _container_command(self, spec: dict[str, Any], env_vars: dict[str, str],
                           extra_mounts: Sequence[tuple[str, str]] = (),
                           sidecar: str | None = None) -> tuple[list[str], str]:
        assert self.options.runtime is not None
        self._containers += 1
        name = re.sub(r"[^a-zA-Z0-9_.-]", "-",
                      f"hera-local-{self.workflow_name}-{self._containers}")
        mounts = []
        if self.options.volume_dir is not None:
            mounts.append((str(self.options.volume_dir), str(self.options.volume_dir)))
        mounts.extend(extra_mounts)
        argv = runtimes.container_run_command(
            self.options.runtime, name=name, image=str(spec.get("image", "")),
            command=[str(w) for w in spec.get("command") or []],
            args=[str(w) for w in spec.get("args") or []], env=env_vars, mounts=mounts,
            working_dir=spec.get("workingDir"),
            # a pod's containers share its network: the main one joins its first sidecar's
            network=f"container:{sidecar_container(name, sidecar)}" if sidecar else None)
        return argv, name


@functools.lru_cache(maxsize=256)  # a run has few template names and many tasks
def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text)[:100] or "script"


def _stat(path: str) -> tuple[int, int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_mtime_ns, info.st_size, info.st_ino)


def _remapped(path: str, remap: Mapping[str, str]) -> str:
    for prefix, target in remap.items():
        if path == prefix or path.startswith(prefix + "/"):
            return target + path[len(prefix):]
    return path


def _env_values(env: list[Mapping[str, Any]]) -> dict[str, str]:
    values = {}
    for variable in env:
        name = variable.get("name")
        if not name:
            continue
        if "value" in variable:
            values[name] = format_value(variable["value"])
        elif variable.get("valueFrom") and name in os.environ:
            values[name] = os.environ[name]  # validated: taken from this machine
    return values
