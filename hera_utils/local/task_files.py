"""A task attempt's own file system, standing for its pod's: `runs/<run>/fs/<task>/`.

A script task runs in it: its working directory is this directory (the pod's `/`, or its
`workingDir` under it) and so is its HOME, so what it writes there stays in the run.
Input artifacts are copied in before the task starts, at their path under this directory
(`/tmp/in` -> `<run>/fs/<task>/tmp/in`), and each volume mount is a directory (or a link
to the volume's directory, see `volumes`) at its mount path; a script's source, args and
env are rewritten to name them there, and a container gets each one mounted at its path.
After the task, its output artifacts are copied from there into the run's repository
(`artifacts`); the directory is then removed, as a pod's file system is.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .artifacts import LOCAL_SOURCE, STUB_MARKER, LocalRepository, key_of, location_of
from .context import NodeError
from .nodes import Node
from .volumes import PodMount

__all__ = ["TaskFiles"]

_PATH_CHARACTER = r"[\w.\-]"
_SYSTEM_DIRECTORIES = tuple(f"/{name}/" for name in (
    "bin", "boot", "dev", "etc", "home", "lib", "lib64", "opt", "proc", "root", "run", "sbin",
    "srv", "sys", "usr", "var"))


class TaskFiles:
    """The input and output artifacts of one task attempt, in its own file system."""

    def __init__(self, repository: LocalRepository, task: str, body: Mapping[str, Any],
                 mounts: Sequence[PodMount] = ()) -> None:
        self.repository = repository
        self.task = task
        self.root = repository.files_root / task
        # HOME too: one directory a task, made and removed in one system call each (a
        # second one for HOME cost as much again on a busy machine, for every task).
        self.home = self.root
        self.inputs = list((body.get("inputs") or {}).get("artifacts") or [])
        self.outputs = list((body.get("outputs") or {}).get("artifacts") or [])
        self.volume_mounts = list(mounts)

    def working_dir(self, spec: Mapping[str, Any]) -> Path:
        """The task's working directory: its `workingDir` in its file system, else its `/`."""
        return self.local_path(str(spec.get("workingDir") or "/"))

    def local_path(self, path: str) -> Path:
        """Where the task's file `path` is on this machine: always in its own file system
        (a relative path too: never in the work directory, where the user's files are)."""
        return self.root / path.lstrip("/")

    def path_map(self) -> dict[str, str]:
        """Artifact path -> its place on this machine (what a script's text is rewritten to).

        The directory holding an artifact is rewritten too (a script often makes it, as in
        `os.mkdir("/mnt/out")` before writing `/mnt/out/part.json`), unless it is a
        top-level directory (`/tmp`) or one of the system's own."""
        mapping: dict[str, str] = {}
        for artifact in [*self.inputs, *self.outputs]:
            path = str(artifact.get("path") or "").rstrip("/")
            if path.startswith("/"):
                mapping[path] = str(self.local_path(path))
                outer = _outermost(path)
                mapping[outer] = str(self.local_path(outer))
        for mount in self.volume_mounts:
            if mount.mount_path != "/":
                mapping[mount.mount_path] = str(self.local_path(mount.mount_path))
        return mapping

    def rewrite(self, spec: dict[str, Any]) -> dict[str, Any]:
        """A script's spec with its artifact paths replaced by their local places."""
        mapping = self.path_map()
        if not mapping:
            return spec
        # Longest first, and only whole paths: `/tmp/in` is not rewritten in `/tmp/input`.
        alternatives = "|".join(map(re.escape, sorted(mapping, key=len, reverse=True)))
        pattern = re.compile(rf"(?<![\w.\-/])({alternatives})(?!{_PATH_CHARACTER})")
        rewritten = dict(spec)
        for field in ("source", "args", "command", "env", "workingDir"):
            if field in spec:
                rewritten[field] = _replace_strings(
                    spec[field], lambda text: pattern.sub(lambda m: mapping[m.group(1)], text))
        return rewritten

    def materialise(self, spec: Mapping[str, Any] | None = None) -> None:
        """Make the file system: HOME, the working directory of `spec`, the volumes at their
        mount paths; copy the input artifacts in; make the parent of each output path."""
        # The directory itself is made by the thread that starts the task (`executors`): on
        # a busy machine a mkdir can take a millisecond, not to be spent by the event loop.
        if spec is not None and spec.get("workingDir"):
            self.working_dir(spec).mkdir(parents=True, exist_ok=True)
        for mount in self.volume_mounts:
            place = self.local_path(mount.mount_path)
            if mount.source is None:
                place.mkdir(parents=True, exist_ok=True)
            elif place != self.root and not place.is_symlink():
                place.parent.mkdir(parents=True, exist_ok=True)
                if place.is_dir():
                    place.rmdir()  # a working directory made at the same path, still empty
                place.symlink_to(mount.source, target_is_directory=mount.source.is_dir())
        for artifact in self.inputs:
            source = artifact.get(LOCAL_SOURCE)
            if not source or not artifact.get("path"):
                continue  # an optional artifact that is missing
            target = self.local_path(str(artifact["path"]))
            _copy(Path(source), target)
            if artifact.get("mode") is not None:
                try:
                    _chmod_files(target, int(str(artifact["mode"]), 0))
                except ValueError:
                    raise NodeError(f"inputs.artifacts.{artifact.get('name')}.mode: "
                                    f"{artifact['mode']!r} is not a file mode") from None
        for artifact in self.outputs:
            # What holds the rewritten path exists (`/tmp` for `/tmp/out.txt`, `/mnt` for
            # `/mnt/out/part.json`); the rest the task makes, as it would on Argo.
            outer = _outermost(str(artifact.get("path") or "").rstrip("/"))
            self.local_path(os.path.dirname(outer)).mkdir(parents=True, exist_ok=True)

    def mounts(self) -> list[tuple[str, str]]:
        """(host, container path) of each volume and input artifact, for a container task."""
        volumes = [(str(m.source or self.local_path(m.mount_path)), m.mount_path)
                   for m in self.volume_mounts]
        return volumes + [(str(self.local_path(str(a["path"]))), str(a["path"]))
                          for a in self.inputs if a.get(LOCAL_SOURCE) and a.get("path")]

    def container_copies(self) -> list[tuple[str, str, str]]:
        """(container path, local path, name) of each output artifact, copied out after."""
        return [(str(a["path"]), str(self.local_path(str(a["path"]))), str(a["name"]))
                for a in self.outputs if a.get("path")]

    def collect(self) -> tuple[dict[str, str], list[str]]:
        """Store the output artifacts the task wrote in the repository: name -> where each
        is stored, and the problems. Touches no node: a worker thread may call it."""
        stored: dict[str, str] = {}
        problems = []
        for artifact in self.outputs:
            name, path = str(artifact.get("name")), str(artifact.get("path") or "")
            local = self.local_path(path)
            if not local.exists():
                if not artifact.get("optional"):
                    problems.append(f"output artifact {name}: {path}: no such file or directory")
                continue
            try:
                stored[name] = str(self._store(artifact, local))
            except (OSError, NodeError) as error:
                problems.append(f"output artifact {name}: {error}")
        return stored, problems

    def stub(self, node: Node) -> None:
        """A stubbed task's outputs: an empty file for each artifact (nothing ran), marked
        as a stub's so that a `subPath` into it is the placeholder too."""
        for artifact in self.outputs:
            name = str(artifact.get("name"))
            path = str(artifact.get("path") or name)
            target = self._destination(artifact, file_name=os.path.basename(path) or name)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"")
            if not self._keyed(artifact):  # a key's directory holds only what is stored
                (target.parent / STUB_MARKER).write_bytes(b"")
            node.artifacts[name] = str(target)

    def clean(self) -> None:
        """Remove the task's file system (its outputs are in the repository by now)."""
        try:  # most tasks leave it empty: one system call, not a tree walk
            os.rmdir(self.root)
        except FileNotFoundError:
            pass  # a container task that needed none
        except OSError:
            shutil.rmtree(self.root, ignore_errors=True)

    def _store(self, artifact: Mapping[str, Any], local: Path) -> Path:
        target = self._destination(artifact, file_name=None if local.is_dir() else local.name)
        # Under a key, directories add up (as objects under one prefix of a bucket do).
        _copy(local, target, merge=self._keyed(artifact))
        return target

    @staticmethod
    def _keyed(artifact: Mapping[str, Any]) -> bool:
        location = location_of(artifact)
        return location is not None and key_of(artifact, location) is not None

    def _destination(self, artifact: Mapping[str, Any], *, file_name: str | None) -> Path:
        if self._keyed(artifact):
            return self.repository.key_path(str(key_of(artifact, str(location_of(artifact)))))
        folder = self.repository.root / self.task / str(artifact.get("name"))
        return folder / file_name if file_name else folder


def _outermost(path: str) -> str:
    """The outermost of an artifact's paths that a script's text is rewritten for: its
    directory, unless that is top-level or the system's, else the path itself."""
    parent = os.path.dirname(path)
    if parent.count("/") >= 2 and not parent.startswith(_SYSTEM_DIRECTORIES):
        return parent
    return path


def _copy(source: Path, target: Path, *, merge: bool = False) -> None:
    """Copy a file or directory to `target` (replacing a file, merging directories)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_file() or target.is_symlink():
        target.unlink(missing_ok=True)  # another task storing under the same key may race
    if source.is_dir():
        if target.exists() and not merge:
            shutil.rmtree(target)
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True)
    else:
        if target.is_dir():
            shutil.rmtree(target)
        shutil.copy2(source, target)


def _chmod_files(path: Path, mode: int) -> None:
    """Argo's `mode`: on the file, or on every file of a directory (directories keep theirs,
    so the task can still enter them)."""
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    for file in files:
        os.chmod(file, mode)


def _replace_strings(value: Any, replace: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return replace(value)
    if isinstance(value, list):
        return [_replace_strings(item, replace) for item in value]
    if isinstance(value, dict):
        return {key: _replace_strings(item, replace) for key, item in value.items()}
    return value
