"""Container set templates before they run: Argo's rules for them, their mounts, a stub's
description (the running is `container_sets`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .values import duration_seconds, parse_integer

__all__ = ["MAIN", "container_set_problems", "describe_set", "set_volume_mounts"]

MAIN = "main"  # the container whose inputs and outputs are the template's


def describe_set(body: Mapping[str, Any]) -> str:
    """The containers of a container set, for a stub's message."""
    containers = (body.get("containerSet") or {}).get("containers") or []
    return "container set of " + ", ".join(
        f"{c.get('name')} (image {c.get('image')})" for c in containers if isinstance(c, dict))


def set_volume_mounts(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every volume mount of a container set: the set's own and its containers'."""
    spec = body.get("containerSet") or {}
    mounts = [m for m in spec.get("volumeMounts") or [] if isinstance(m, dict)]
    for container in spec.get("containers") or []:
        if isinstance(container, dict):
            mounts += [m for m in container.get("volumeMounts") or [] if isinstance(m, dict)]
    return mounts


def container_set_problems(template: Mapping[str, Any], where: str) -> list[str]:
    """What Argo's validation refuses in a container set, and what cannot run locally."""
    spec = template.get("containerSet") or {}
    containers = [c for c in spec.get("containers") or [] if isinstance(c, dict)]
    if not containers:
        return [f"{where}: containerSet.containers must have at least one container"]
    problems: list[str] = []
    names = [str(c.get("name") or "") for c in containers]
    if "" in names or len(set(names)) != len(names):
        problems.append(f"{where}: containerSet.containers must have unique names")
    inputs, outputs = template.get("inputs") or {}, template.get("outputs") or {}
    if (inputs.get("artifacts") or outputs.get("parameters") or outputs.get("artifacts")) \
            and MAIN not in names:
        problems.append(f'{where}: containerSet.containers must have a container named "main" '
                        "for input or output")
    for container in containers:
        for dependency in container.get("dependencies") or []:
            if dependency not in names:
                problems.append(f"{where}: container {container.get('name')} depends on "
                                f"{dependency!r}, which is not a container of the set")
        if not container.get("image"):
            problems.append(f"{where}: container {container.get('name')} needs an image")
    if not problems and _order(containers) is None:
        problems.append(f"{where}: the dependencies of the container set form a cycle")
    retry = spec.get("retryStrategy") or {}
    if "retries" in retry and parse_integer(retry["retries"]) is None:
        problems.append(f"{where}: containerSet.retryStrategy.retries {retry['retries']!r} "
                        "is not a number")
    if retry.get("duration") and duration_seconds(retry["duration"]) is None:
        problems.append(f"{where}: containerSet.retryStrategy.duration {retry['duration']!r} "
                        "is not a duration (e.g. 5s)")
    return problems


def _order(containers: Sequence[Mapping[str, Any]]) -> list[str] | None:
    """The containers' names with each after its dependencies; None if they form a cycle."""
    pending = {str(c["name"]): set(c.get("dependencies") or []) for c in containers}
    order: list[str] = []
    while pending:
        ready = [name for name, needs in pending.items() if needs <= set(order)]
        if not ready:
            return None
        order += ready
        for name in ready:
            del pending[name]
    return order
