"""The logs of a submitted workflow's tasks, through the Argo Server's log API.

The Argo Server streams a workflow's logs as one JSON object per line,
`{"result": {"content": "<one line>", "podName": "..."}}` (bytes that are not UTF-8
arrive as U+FFFD, as Go's encoder writes them). Each request is bounded by the session's
timeout; a followed log that stays quiet longer is asked for again, skipping what was read.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import requests

from .errors import AccessError, MalformedAnswerError

if TYPE_CHECKING:
    from .argo import ArgoServer
    from .workflow_paths import WorkflowsPath

MAIN_CONTAINER = "main"
POD_NAME_FORMAT_ANNOTATION = "workflows.argoproj.io/pod-name-format"
# Argo keeps a pod name within Kubernetes' 253 characters: prefix, "-", a 10-digit hash.
_MAX_POD_NAME_PREFIX = 253 - 10 - 1
FAILED_PHASES = frozenset({"Failed", "Error"})


@dataclass(frozen=True)
class LogLine:
    """One line of a task's log: the pod that wrote it and the text."""

    pod: str
    content: str


@dataclass(frozen=True)
class TaskPod:
    """A task (a node of type Pod) of a workflow, and the pod that ran it."""

    task: str
    pod: str
    phase: str
    message: str


def pod_name(workflow: Mapping[str, Any], node: Mapping[str, Any]) -> str:
    """The pod of a workflow node, named as Argo names it (`workflow/util/pod_name.go`).

    v2 names (the default) are the workflow name, the template name and an FNV-1a hash of
    the node name; v1 names (the annotation `pod-name-format: v1`) are the node id.
    """
    metadata = workflow.get("metadata") or {}
    name = str(metadata.get("name", ""))
    template = node.get("templateName") or (node.get("templateRef") or {}).get("template") or ""
    version = (metadata.get("annotations") or {}).get(POD_NAME_FORMAT_ANNOTATION, "v2")
    if version == "v1" or not template:
        return str(node.get("id", ""))
    if node.get("name") == name:
        return name
    prefix = f"{name}-{template}"[:_MAX_POD_NAME_PREFIX]
    return f"{prefix}-{_fnv1a_32(str(node.get('name', '')).encode())}"


def _fnv1a_32(data: bytes) -> int:
    value = 0x811C9DC5
    for byte in data:
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def task_pods(workflow: Mapping[str, Any]) -> list[TaskPod]:
    """The pods of a workflow's tasks, in the order they started."""
    nodes = ((workflow.get("status") or {}).get("nodes") or {}).values()
    pods = [node for node in nodes if isinstance(node, dict) and node.get("type") == "Pod"]
    pods.sort(key=lambda node: (str(node.get("startedAt") or "~"), str(node.get("name", ""))))
    return [
        TaskPod(
            task=str(node.get("displayName") or node.get("name") or ""),
            pod=pod_name(workflow, node),
            phase=str(node.get("phase") or ""),
            message=str(node.get("message") or ""),
        )
        for node in pods
    ]


def workflow_logs(
    argo: ArgoServer,
    name: str,
    *,
    pod: str | None = None,
    follow: bool = False,
    tail_lines: int | None = None,
) -> Iterator[LogLine]:
    """Stream the main container's log lines of workflow `name` (of one pod, if given)."""
    params = {"logOptions.container": MAIN_CONTAINER}
    if pod:
        params["podName"] = pod
    if tail_lines:
        params["logOptions.tailLines"] = str(tail_lines)
    if not follow:
        yield from _read(argo, name, params)
        return
    params["logOptions.follow"] = "true"
    seen: dict[str, int] = {}
    while True:
        lines_this_time: dict[str, int] = {}
        try:
            for line in _read(argo, name, params):
                count = lines_this_time[line.pod] = lines_this_time.get(line.pod, 0) + 1
                if count > seen.get(line.pod, 0):
                    seen[line.pod] = count
                    yield line
            return  # the server ended the stream: the workflow is over
        except _QuietTooLong:
            continue  # asked again; what was read is skipped


class _QuietTooLong(Exception):
    """A followed log said nothing within the request timeout."""


def _read(argo: ArgoServer, name: str, params: dict[str, str]) -> Iterator[LogLine]:
    url = f"{argo.url}api/v1/workflows/{argo.namespace}/{name}/log"
    response = argo.get_streamed(url, params=params, setting="argo_server")
    try:
        for raw in response.iter_lines():
            if raw:
                yield _log_line(raw, argo.url)
    except requests.exceptions.ConnectionError as error:
        if "timed out" in str(error).lower() and params.get("logOptions.follow"):
            raise _QuietTooLong() from error
        raise argo.unreachable(error) from error
    except requests.RequestException as error:
        raise argo.unreachable(error) from error
    finally:
        response.close()


def _log_line(raw: bytes, url: str) -> LogLine:
    try:
        entry = json.loads(raw)
        result = entry.get("result") if isinstance(entry, dict) else None
        if isinstance(result, dict):
            return LogLine(str(result.get("podName", "")), str(result.get("content", "")))
        error = entry.get("error") if isinstance(entry, dict) else None
    except ValueError:
        error = None
    if isinstance(error, dict):
        raise AccessError(
            f"the Argo Server at {url} could not read the log: {error.get('message', error)}",
            hint="the pod may be gone (garbage-collected); look in the Argo UI's archive",
            setting="argo_server",
        )
    raise MalformedAnswerError(
        f"the Argo Server at {url} answered the log request with a line that is not a log entry",
        hint="check argo_server and argo_base_href: another service may answer there",
        setting="argo_server",
        url=url,
    )


def log_tail(argo: WorkflowsPath, workflow_name: str, pod: str, lines: int = 20) -> list[str]:
    """The last `lines` lines of a pod's main log (empty when it cannot be read)."""
    try:
        read = argo.task_log(workflow_name, pod, tail_lines=lines)
        return [line.content for line in read][-lines:]
    except AccessError:
        return []
