"""A pod's volumes on this machine: each volume mount becomes a local directory.

On Argo a volume is mounted into the pod whatever the node's file system holds. Locally
each mount is a directory of the run, seen by a task at its mount path (a container has it
mounted there; a script finds it in its own file system, see `task_files`):

- an `emptyDir` lives and dies with the task attempt, in its file system;
- a claim of the workflow's `volumeClaimTemplates` is `runs/<run>/volumes/<name>/`, shared
  by the run's tasks, as the claim is for the workflow's life;
- an existing `persistentVolumeClaim` is `runs/claims/<claimName>/`, shared by every run,
  as the claim outlives them (empty at first: the cluster's copy is not read);
- a `hostPath` is that path of this machine (the node's, here);
- a mount inside the run's `volume_dir` (the experiment's stand-in for its claim) is that
  path itself.

Volumes whose content comes from the cluster (configMap, secret, projected, ...) cannot be
provided: `volume_problems` refuses them before the run.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PodMount", "pod_mounts", "volume_problems"]

_SUPPORTED = ("emptyDir", "persistentVolumeClaim", "hostPath", "ephemeral")


@dataclass(frozen=True)
class PodMount:
    """One volume mount: its path in the pod and the local directory behind it.

    `source` is None for a directory private to the task attempt (an `emptyDir`)."""

    mount_path: str
    source: Path | None
    volume: str


def pod_mounts(spec: Mapping[str, Any], template: Mapping[str, Any],
               workflow_spec: Mapping[str, Any], run_dir: Path,
               volume_dir: Path | None) -> list[PodMount]:
    """The mounts of a container or script spec, each with its local directory.

    Mounts inside `volume_dir` are left out: they are real paths of this machine already.
    """
    volumes = _volumes(template, workflow_spec)
    mounts = []
    for mount in spec.get("volumeMounts") or []:
        if not isinstance(mount, dict) or not mount.get("mountPath"):
            continue
        path = str(mount["mountPath"])
        if volume_dir is not None and _within(path, volume_dir):
            continue
        name = str(mount.get("name"))
        source = _source(volumes.get(name), name, run_dir)
        sub_path = str(mount.get("subPath") or "").strip("/")
        if source is not None:
            if sub_path:
                source = source / sub_path
            if not (volumes.get(name) or {}).get("hostPath"):
                source.mkdir(parents=True, exist_ok=True)
        mounts.append(PodMount(mount_path=path.rstrip("/") or "/", source=source, volume=name))
    return mounts


def volume_problems(template: Mapping[str, Any], workflow_spec: Mapping[str, Any],
                    where: str) -> list[str]:
    """Why the template's volume mounts cannot be given locally (empty if they can)."""
    pod_kind = next((k for k in ("container", "script") if k in template), "")
    body: Mapping[str, Any] = template[pod_kind] if pod_kind else {}
    volumes = _volumes(template, workflow_spec)
    problems = []
    for mount in body.get("volumeMounts") or []:
        volume = volumes.get(str(mount.get("name"))) if isinstance(mount, dict) else None
        if volume is None:
            continue  # an undefined volume ends the node in Error, as on Argo
        kind = next((key for key in volume if key != "name"), "")
        if kind and kind not in _SUPPORTED and kind != "claimTemplate":
            problems.append(
                f"{where} mounts volume '{mount.get('name')}' ({kind}), whose content comes "
                "from the cluster: a local run cannot provide it (pass the files as an "
                "artifact, or use an emptyDir or a volume claim)")
        host = volume.get("hostPath") or {}
        if kind == "hostPath" and not os.path.exists(str(host.get("path", ""))):
            # A kubelet may create it; a local run does not make directories out of its own.
            problems.append(f"{where} mounts volume '{mount.get('name')}': hostPath "
                            f"{host.get('path')} does not exist on this machine (create it)")
    return problems


def _volumes(template: Mapping[str, Any], workflow_spec: Mapping[str, Any]
             ) -> dict[str, dict[str, Any]]:
    volumes: dict[str, dict[str, Any]] = {}
    for claim in workflow_spec.get("volumeClaimTemplates") or []:
        if isinstance(claim, dict):
            name = str((claim.get("metadata") or {}).get("name"))
            volumes[name] = {"name": name, "claimTemplate": claim}
    for volume in [*(workflow_spec.get("volumes") or []), *(template.get("volumes") or [])]:
        if isinstance(volume, dict):
            volumes[str(volume.get("name"))] = volume
    return volumes


def _source(volume: Mapping[str, Any] | None, name: str, run_dir: Path) -> Path | None:
    if volume is None or volume.get("emptyDir") is not None or volume.get("ephemeral"):
        return None
    if volume.get("claimTemplate") is not None:
        return run_dir / "volumes" / _safe(name)
    claim = volume.get("persistentVolumeClaim")
    if claim is not None:
        return run_dir.parent / "claims" / _safe(str(claim.get("claimName") or name))
    host = volume.get("hostPath")
    if host is not None:
        return Path(str(host.get("path")))
    return None


def _within(path: str, directory: Path) -> bool:
    normal = os.path.normpath(path)
    return normal == str(directory) or normal.startswith(str(directory) + os.sep)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in name) or "volume"
