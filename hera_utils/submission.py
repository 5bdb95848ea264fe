"""Submitting a workflow to an Argo Server, following it to its end, recording provenance.

`submit_workflow` sends a Hera workflow through a `WorkflowsService` and returns its name;
`follow` polls it with a deadline until a final phase (Hera's own `wait()` returns as soon
as a workflow is not Running, so a Pending one ends it early, and it has no timeout);
`write_provenance` keeps what was submitted, with which inputs, from which template and
experiment commits, under `runs/<workflow-name>/`.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import requests
from hera import exceptions as hera_exceptions
from hera.workflows import Workflow, WorkflowsService
from hera.workflows import models as m

from hera_utils.errors import (
    RequestTimeoutError,
    ServerError,
    UnreachableError,
    WorkflowFailedError,
)
from hera_utils.http import hera_exception_error, translate_request_error
from hera_utils.redaction import scrub_json, write_text

FINAL_PHASES = frozenset({"Succeeded", "Failed", "Error"})
# etcd refuses objects over about 1.5 MiB and Argo advises staying under 1 MB; warn early.
SIZE_WARNING_BYTES = 800_000
ANSWERS_FILE = ".copier-answers.yml"
_GIT_TIMEOUT = 10.0
_MAX_CONSECUTIVE_POLL_FAILURES = 3

T = TypeVar("T")


@dataclass(frozen=True)
class WorkflowState:
    """What one poll saw: the phase, the node progress (`done/total`) and any message."""

    phase: str
    progress: str = ""
    message: str = ""

    @property
    def final(self) -> bool:
        """Whether the workflow has ended."""
        return self.phase in FINAL_PHASES

    def __str__(self) -> str:
        return " ".join(part for part in (self.phase, self.progress) if part)


def size_warning(rendered_yaml: str) -> str | None:
    """A warning when a rendered workflow nears the 1 MB an Argo workflow object may take."""
    size = len(rendered_yaml.encode("utf-8"))
    if size < SIZE_WARNING_BYTES:
        return None
    return (
        f"the rendered workflow is {size / 1_000_000:.2f} MB, near the 1 MB limit of a "
        "workflow object: pass large data through the volume, or fan out with "
        "withItems/withParam rather than one task per parameter"
    )


def submit_workflow(
    service: WorkflowsService, workflow: Workflow, namespace: str, *, timeout: float
) -> str:
    """Create `workflow` in `namespace` through `service`; return the name the server gave it.

    `timeout` is the session's bound on each request, used in the error message.
    """
    request = m.WorkflowCreateRequest(workflow=workflow.build())
    created = call_server(
        lambda: service.create_workflow(request, namespace=namespace),
        service.host,
        timeout=timeout,
        namespace=namespace,
    )
    if created.metadata.name is None:
        raise ServerError("the Argo Server accepted the workflow but returned no name")
    return created.metadata.name


def follow(
    service: WorkflowsService,
    name: str,
    namespace: str,
    *,
    timeout: float,
    request_timeout: float,
    poll_interval: float = 5.0,
    report: Callable[[WorkflowState], None] = lambda state: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> WorkflowState:
    """Poll the workflow until it reaches a final phase; return its last state.

    `report` is called each time the phase or progress changes. A poll that fails is
    retried (a server restarting should not end the wait) up to a few times in a row.
    `request_timeout` is the session's bound on each request (for error messages).
    Raises `WorkflowFailedError` when `timeout` seconds pass first: the workflow goes on
    on the cluster, only the wait ends.
    """
    deadline = clock() + timeout
    last: WorkflowState | None = None
    failures = 0
    while True:
        try:
            workflow = call_server(
                lambda: service.get_workflow(name, namespace=namespace),
                service.host,
                timeout=request_timeout,
                namespace=namespace,
            )
            failures = 0
        except (UnreachableError, RequestTimeoutError, ServerError):
            failures += 1
            if failures >= _MAX_CONSECUTIVE_POLL_FAILURES:
                raise
        else:
            state = workflow_state(workflow)
            if state != last:
                report(state)
                last = state
            if state.final:
                return state
        if clock() + poll_interval > deadline:
            seen = last.phase if last else "unknown"
            raise WorkflowFailedError(
                f"workflow {name} did not finish within {timeout:g} s (last phase: {seen})",
                hint="it goes on on the cluster; follow it in the Argo UI",
            )
        sleep(poll_interval)


def workflow_state(workflow: m.Workflow) -> WorkflowState:
    """The phase and node progress of a workflow as the Argo Server returned it."""
    status = workflow.status
    if status is None:
        return WorkflowState("Pending")
    progress = status.progress or _progress_from_nodes(status.nodes or {})
    return WorkflowState(status.phase or "Pending", progress or "", status.message or "")


def _progress_from_nodes(nodes: dict[str, m.NodeStatus]) -> str:
    """`done/total` over the pod nodes, as Argo computes `status.progress`."""
    pods = [node for node in nodes.values() if node.type == "Pod"]
    if not pods:
        return ""
    done = sum(1 for node in pods if node.phase in FINAL_PHASES | {"Skipped", "Omitted"})
    return f"{done}/{len(pods)}"


def call_server(request: Callable[[], T], url: str, *, timeout: float, namespace: str = "") -> T:
    """Run one request of a Hera service, turning its failures into hera_utils errors."""
    try:
        return request()
    except hera_exceptions.HeraException as error:
        raise hera_exception_error(
            error, what="the Argo Server", url=url, namespace=namespace
        ) from None
    except requests.RequestException as error:
        raise translate_request_error(
            error, url=url, what="the Argo Server", setting="argo_server", timeout=timeout
        ) from None


def write_provenance(
    run_dir: Path,
    *,
    rendered_yaml: str,
    inputs: Any,
    project_dir: Path,
    record: dict[str, Any],
) -> Path:
    """Write `workflow.yaml`, `inputs.json` and `provenance.json` into `run_dir`.

    `provenance.json` holds `record` (what was submitted where) plus the template version
    the experiment was generated from (`.copier-answers.yml`) and the experiment's git
    commit, when there is one. Returns the path of `provenance.json`.
    """
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(run_dir / "workflow.yaml", rendered_yaml)
    _write_json(run_dir / "inputs.json", describe_inputs(inputs))
    provenance = {
        **record,
        "recorded_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "template": template_version(project_dir),
        "experiment": git_revision(project_dir),
        "python": sys.version.split()[0],
    }
    path = run_dir / "provenance.json"
    _write_json(path, provenance)
    return path


def update_provenance(path: Path, **fields: Any) -> None:
    """Add or replace fields of a `provenance.json` (e.g. the final phase after a wait)."""
    provenance = json.loads(path.read_text(encoding="utf-8"))
    provenance.update(fields)
    _write_json(path, provenance)


def _write_json(path: Path, value: Any) -> None:
    # Through JSON first, so that `default=str` values are scrubbed too.
    plain = json.loads(json.dumps(value, default=str))
    write_text(path, json.dumps(scrub_json(plain), indent=2) + "\n")


def describe_inputs(inputs: Any) -> Any:
    """A JSON-ready view of an experiment's inputs (a module, dataclasses, plain values)."""
    if isinstance(inputs, ModuleType):
        return {
            name: describe_inputs(value)
            for name, value in vars(inputs).items()
            if not name.startswith("_")
            and not isinstance(value, (ModuleType, type))
            and not callable(value)
        }
    if dataclasses.is_dataclass(inputs) and not isinstance(inputs, type):
        return {
            field.name: describe_inputs(getattr(inputs, field.name))
            for field in dataclasses.fields(inputs)
        }
    if isinstance(inputs, dict):
        return {str(key): describe_inputs(value) for key, value in inputs.items()}
    if isinstance(inputs, (list, tuple, set, frozenset)):
        return [describe_inputs(value) for value in inputs]
    return inputs


def template_version(project_dir: Path) -> dict[str, str | None]:
    """The template source and commit recorded by Copier in `.copier-answers.yml`."""
    answers_path = project_dir / ANSWERS_FILE
    import yaml  # loaded only when a provenance record is written

    try:
        answers = yaml.safe_load(answers_path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {"src_path": None, "commit": None}
    return {"src_path": answers.get("_src_path"), "commit": answers.get("_commit")}


def git_revision(project_dir: Path) -> dict[str, Any]:
    """The experiment's git commit and whether its work tree had changes (None outside git)."""
    commit = _git(project_dir, "rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = _git(project_dir, "status", "--porcelain")
    return {"commit": commit, "dirty": bool(status)}


def _git(directory: Path, *arguments: str) -> str | None:
    try:
        completed = subprocess.run(
            ["git", *arguments],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None
