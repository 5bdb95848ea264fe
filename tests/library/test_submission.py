"""Specification of hera_utils.submission: submit, follow, provenance (emulated Argo Server)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from hera.workflows import DAG, Container, Workflow, WorkflowsService
from hera.workflows import models as m

from hera_utils.argo import ArgoServer
from hera_utils.errors import (
    UnauthorizedError,
    UnreachableError,
    WorkflowFailedError,
)
from hera_utils.settings import parse_arguments
from hera_utils.submission import (
    SIZE_WARNING_BYTES,
    WorkflowState,
    describe_inputs,
    follow,
    size_warning,
    submit_workflow,
    workflow_state,
    write_provenance,
)


def small_workflow(tasks: int = 2) -> Workflow:
    with Workflow(generate_name="spec-", entrypoint="main") as workflow:
        hello = Container(name="hello", image="alpine:3", command=["echo", "hi"])
        with DAG(name="main"):
            for index in range(tasks):
                hello(name=f"hello-{index}")
    return workflow


@pytest.fixture
def argo(emulated_env) -> ArgoServer:
    return ArgoServer.from_settings(None, parse_arguments([]))


@pytest.fixture
def service(argo: ArgoServer) -> WorkflowsService:
    return argo.workflows_service()


def submitted(service: WorkflowsService, argo: ArgoServer) -> str:
    return submit_workflow(service, small_workflow(), argo.namespace, timeout=argo.timeout)


def test_submit_returns_the_name_the_server_gave(emulated_env, argo, service) -> None:
    name = submitted(service, argo)
    assert name.startswith("spec-")
    assert (argo.namespace, name) in emulated_env.argo.workflows


def test_follow_reports_each_change_until_success(argo, service) -> None:
    name = submitted(service, argo)
    seen: list[WorkflowState] = []
    final = follow(
        service,
        name,
        argo.namespace,
        timeout=30,
        request_timeout=5,
        poll_interval=0.01,
        report=seen.append,
    )
    assert final.phase == "Succeeded"
    assert seen[-1] == final
    assert len(seen) == len(set(seen))  # a state is reported once, when it changes
    assert final.progress == "2/2"


def test_follow_returns_a_failed_phase(emulated_env, argo, service) -> None:
    emulated_env.argo.outcome = "Failed"
    name = submitted(service, argo)
    final = follow(service, name, argo.namespace, timeout=30, request_timeout=5, poll_interval=0.01)
    assert final.phase == "Failed"
    assert final.final


def test_follow_gives_up_at_its_deadline(emulated_env, argo, service) -> None:
    emulated_env.argo.running_polls = 10_000
    name = submitted(service, argo)
    with pytest.raises(WorkflowFailedError, match="did not finish within"):
        follow(service, name, argo.namespace, timeout=0.3, request_timeout=5, poll_interval=0.02)


def test_follow_rides_out_a_few_server_errors(emulated_env, argo, service) -> None:
    name = submitted(service, argo)
    emulated_env.argo.faults.set("error500", times=2)
    final = follow(service, name, argo.namespace, timeout=30, request_timeout=5, poll_interval=0.01)
    assert final.phase == "Succeeded"


def test_a_rejected_token_is_an_unauthorized_error(argo) -> None:
    service = WorkflowsService(host=argo.url, token="not-a-token", session=argo.session)
    service.session.auth = None
    with pytest.raises(UnauthorizedError):
        submit_workflow(service, small_workflow(), argo.namespace, timeout=5)


def test_an_unreachable_server_is_an_unreachable_error(unused_tcp_port: int) -> None:
    service = WorkflowsService(host=f"http://127.0.0.1:{unused_tcp_port}/", token="x")
    with pytest.raises(UnreachableError):
        submit_workflow(service, small_workflow(), "experiments", timeout=5)


@pytest.fixture
def unused_tcp_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_progress_is_counted_over_pod_nodes_when_the_server_gives_none() -> None:
    nodes = {
        "a": m.NodeStatus(id="a", name="a", type="Pod", phase="Succeeded"),
        "b": m.NodeStatus(id="b", name="b", type="Pod", phase="Running"),
        "dag": m.NodeStatus(id="dag", name="dag", type="DAG", phase="Running"),
    }
    workflow = m.Workflow(
        metadata=m.ObjectMeta(name="w"),
        spec=m.WorkflowSpec(),
        status=m.WorkflowStatus(phase="Running", nodes=nodes),
    )
    assert workflow_state(workflow) == WorkflowState("Running", "1/2")


def test_a_workflow_without_status_is_pending() -> None:
    workflow = m.Workflow(metadata=m.ObjectMeta(name="w"), spec=m.WorkflowSpec())
    assert workflow_state(workflow).phase == "Pending"


def test_size_warning_near_the_object_limit() -> None:
    assert size_warning("x" * 1000) is None
    warning = size_warning("x" * SIZE_WARNING_BYTES)
    assert warning is not None and "1 MB" in warning


@dataclass(frozen=True)
class Parameters:
    vintages: tuple[int, ...] = (2012, 2015)


def inputs_module() -> ModuleType:
    module = ModuleType("inputs")
    module.parameters = Parameters()  # type: ignore[attr-defined]
    module.dataclass = dataclass  # type: ignore[attr-defined]  # imported names are skipped
    module._private = 1  # type: ignore[attr-defined]
    return module


def test_inputs_are_described_as_json() -> None:
    assert describe_inputs(inputs_module()) == {"parameters": {"vintages": [2012, 2015]}}


def git(directory: Path, *arguments: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *arguments],
        cwd=directory,
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.strip()


def test_provenance_records_template_and_experiment_versions(tmp_path: Path) -> None:
    project = tmp_path / "experiment"
    project.mkdir()
    (project / ".copier-answers.yml").write_text("_commit: v1.2.0\n_src_path: /templates/x\n")
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "first")
    path = write_provenance(
        project / "runs" / "w-1",
        rendered_yaml="kind: Workflow\n",
        inputs=inputs_module(),
        project_dir=project,
        record={"workflow": "w-1"},
    )
    provenance = json.loads(path.read_text())
    assert provenance["workflow"] == "w-1"
    assert provenance["template"] == {"src_path": "/templates/x", "commit": "v1.2.0"}
    assert provenance["experiment"]["commit"] == git(project, "rev-parse", "HEAD")
    assert provenance["experiment"]["dirty"] is True  # runs/ is new and not ignored here
    assert (path.parent / "workflow.yaml").read_text() == "kind: Workflow\n"
    inputs = json.loads((path.parent / "inputs.json").read_text())
    assert inputs == {"parameters": {"vintages": [2012, 2015]}}


def test_provenance_outside_git_says_so(tmp_path: Path) -> None:
    path = write_provenance(
        tmp_path / "run", rendered_yaml="", inputs={}, project_dir=tmp_path, record={}
    )
    provenance = json.loads(path.read_text())
    assert provenance["experiment"] == {"commit": None, "dirty": None}
    assert provenance["template"] == {"src_path": None, "commit": None}
    assert provenance["python"] == sys.version.split()[0]
