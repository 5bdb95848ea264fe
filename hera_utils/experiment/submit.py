"""`main.py submit`: check access, submit the workflow, record it, optionally follow it."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hera_utils.errors import ConfigurationError, ServerError, WorkflowFailedError
from hera_utils.experiment.check import failed_checks_error
from hera_utils.experiment.output import now, warn
from hera_utils.experiment.paths import WORKFLOW_SOURCE, runs_dir
from hera_utils.experiment.validate import refuse_invalid_workflow
from hera_utils.settings import Settings
from hera_utils.submission import (
    WorkflowState,
    follow,
    size_warning,
    submit_recorded,
    update_provenance,
)

if TYPE_CHECKING:
    from hera.workflows import Workflow

    from hera_utils.cluster import KubernetesCluster
    from hera_utils.workflow_paths import WorkflowsPath


# An invalid workflow: the user's to fix, not the server's (exit code 2).
REJECTED_STATUSES = (400, 422)


def rejection_reason(error: ServerError) -> str:
    """The server's own reason, out of the message `http.hera_error` (Argo Server) or
    `cluster` (Kubernetes API) built around it."""
    for pattern in (r"failed with HTTP \d+ \((.*)\)\s*$", r"\(HTTP \d+: (.*)\)\s*$"):
        found = re.search(pattern, error.message, re.DOTALL)
        if found:
            return found[1]
    return error.message


def connect(args: Settings) -> tuple[KubernetesCluster | None, WorkflowsPath]:
    """Run the access checks, then return the cluster (None when not needed) and what
    workflows are submitted through: the Argo Server, or the Kubernetes API
    (`argo_submit_via`, by default the Argo Server when `argo_server` is set).

    A failed check prints the table to stderr and raises one error naming every failed
    check with its hint (exit code 3, or 2 for a configuration error).
    """
    from hera_utils.argo import argo_server
    from hera_utils.checks import SUBMIT_IGNORES, run_checks
    from hera_utils.k8s_workflows import KubernetesWorkflows, submit_path

    report = run_checks(args)
    error = failed_checks_error(report, ignore=SUBMIT_IGNORES)
    if error is not None:
        print(report.render(), file=sys.stderr)
        raise error
    # Go on with what the checks connected to: each server is asked each thing once.
    cluster = report.cluster
    if submit_path(args) == "kubernetes" and cluster is not None:
        return cluster, KubernetesWorkflows(cluster, args.argo_service_account)
    return cluster, report.argo or argo_server(cluster, args)


def submit(
    argo: WorkflowsPath,
    workflow: Workflow,
    args: Settings,
    *,
    inputs: Any,
    project_dir: Path,
) -> int:
    """Submit `workflow`, print its name and UI link, record provenance; with --wait, follow it.

    Returns 0, or raises `WorkflowFailedError` when a followed workflow does not succeed.
    """
    refuse_invalid_workflow(workflow.to_dict(), WORKFLOW_SOURCE)
    rendered = workflow.to_yaml()
    warn(size_warning(rendered))
    service = argo.workflows_service()
    try:
        submitted = submit_recorded(
            service,
            workflow,
            argo.namespace,
            timeout=argo.timeout,
            runs_dir=runs_dir(args, project_dir),
            rendered_yaml=rendered,
            inputs=inputs,
            project_dir=project_dir,
            record=_submitted_through(argo),
            ui_url=argo.ui_url,
            say=lambda message: print(f"note: {message}", flush=True),
        )
    except ServerError as error:
        if error.status not in REJECTED_STATUSES:
            raise
        raise ConfigurationError(
            f"{_name_of(argo)} rejected the workflow: {rejection_reason(error)}",
            hint=f"fix it in {WORKFLOW_SOURCE} (python main.py render shows what is sent)",
        ) from error
    name, provenance = submitted.name, submitted.provenance
    ui_url = argo.ui_url(name)
    verb = "found workflow" if submitted.resumed else "submitted workflow"
    print(f"{verb} {name} to namespace {argo.namespace}")
    print(f"{'Argo UI' if argo.has_ui else 'see it with'}: {ui_url}", flush=True)
    print(f"provenance: {provenance}", flush=True)
    if not args.wait:
        return 0
    return wait_for_success(argo, name, args, provenance)


def wait_for_success(
    argo: WorkflowsPath, name: str, args: Settings, provenance: Path | None
) -> int:
    """Follow workflow `name` to its end: 0 when it succeeded, else `WorkflowFailedError`."""
    state = follow_to_end(argo, name, args, provenance)
    if state.phase != "Succeeded":
        detail = f": {state.message}" if state.message else ""
        raise WorkflowFailedError(f"workflow {name} ended {state.phase}{detail}",
                                  hint=argo.ui_url(name))
    print(f"workflow {name} succeeded")
    return 0


def _name_of(argo: WorkflowsPath) -> str:
    return "the Argo Server" if argo.via == "argo-server" else "the Kubernetes API"


def _submitted_through(argo: WorkflowsPath) -> dict[str, str]:
    """What provenance.json records of the path a workflow took."""
    if argo.via == "argo-server":
        return {"namespace": argo.namespace, "argo_server": argo.url, "submitted_via": argo.via}
    return {"namespace": argo.namespace, "kubernetes_api": argo.url, "submitted_via": argo.via}


def follow_to_end(
    argo: WorkflowsPath, name: str, args: Settings, provenance: Path | None
) -> WorkflowState:
    """Follow workflow `name` to its end, printing its progress and each failed task's log
    tail as soon as it fails; record the final phase in `provenance` (when known)."""
    from hera_utils.experiment.followup import FailedTaskLogs

    state = follow(
        argo.workflows_service(),
        name,
        argo.namespace,
        timeout=args.wait_timeout,
        request_timeout=argo.timeout,
        poll_interval=args.poll_interval,
        report=lambda state: print(f"  {state}", flush=True),
        notice=lambda message: print(f"  note: {message}", flush=True),
        watch=FailedTaskLogs(argo, name),
    )
    if provenance is not None:
        update_provenance(provenance, phase=state.phase, finished_at=now())
    return state
