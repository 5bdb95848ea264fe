"""`main.py submit`, `logs` and `check` with a kubeconfig and no Argo Server: workflows as
custom resources through the Kubernetes API, as the Argo CLI does without ARGO_SERVER."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from template_helpers import run_main

FAST = ("--poll-interval", "0.05", "--wait-timeout", "60")
NS = "experiments"


@pytest.fixture(scope="module")
def project(generated) -> Path:
    return generated("defaults")


@pytest.fixture
def no_argo_server(emulated_env, monkeypatch):
    monkeypatch.delenv("ARGO_SERVER")
    return emulated_env


def created(cluster) -> list[str]:
    return [name for (ns, name) in cluster.argo.workflows if ns == NS]


def test_submit_wait_without_an_argo_server_creates_the_resource_and_follows_it(
    no_argo_server, project, tmp_path
) -> None:
    result = run_main(project, "submit", "--wait", "--runs-dir", str(tmp_path), *FAST)
    assert result.returncode == 0, result.stdout + result.stderr
    (name,) = created(no_argo_server)
    assert f"submitted workflow {name} to namespace {NS}" in result.stdout
    assert f"see it with: kubectl -n {NS} get workflow {name}" in result.stdout
    assert f"workflow {name} succeeded" in result.stdout
    assert list(no_argo_server.argo.requests) == []  # not one call to the Argo Server
    provenance = json.loads((tmp_path / name / "provenance.json").read_text())
    assert provenance["submitted_via"] == "kubernetes"
    assert provenance["kubernetes_api"] == no_argo_server.k8s.url
    assert provenance["phase"] == "Succeeded"


def test_a_failed_task_through_kubernetes_shows_its_pod_log_tail(
    no_argo_server, project, tmp_path
) -> None:
    no_argo_server.argo.failing_tasks = {"summarize": 1}
    no_argo_server.argo.task_logs = {"summarize": b"ValueError: no data \xff\n"}
    result = run_main(project, "submit", "--wait", "--runs-dir", str(tmp_path), *FAST)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "  task summarize failed" in result.stdout
    assert "    | ValueError: no data \ufffd" in result.stdout
    logs = run_main(project, "logs", "--task", "summarize", "--runs-dir", str(tmp_path))
    assert logs.returncode == 0, logs.stdout + logs.stderr
    assert logs.stdout.splitlines() == ["ValueError: no data \ufffd"]


def test_check_without_an_argo_server_says_the_argo_checks_are_not_used(
    no_argo_server, project
) -> None:
    result = run_main(project, "check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "workflows go through the Kubernetes API" in result.stdout
    assert "may create workflows in namespace 'experiments'" in result.stdout


def test_without_the_right_to_create_workflows_submit_stops_at_the_check(
    no_argo_server, project, tmp_path
) -> None:
    no_argo_server.k8s.allowed_verbs = {(no_argo_server.user, NS): ["get", "list"]}
    result = run_main(project, "submit", "--runs-dir", str(tmp_path))
    assert result.returncode == 3, result.stdout + result.stderr
    assert "not allowed to create workflows.argoproj.io" in result.stderr
    assert created(no_argo_server) == []


def test_submit_via_argo_server_without_one_is_a_configuration_error(
    no_argo_server, project, monkeypatch, tmp_path
) -> None:
    monkeypatch.setenv("HERA_UTILS_SUBMIT_VIA", "argo-server")
    result = run_main(project, "submit", "--runs-dir", str(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "argo_server" in result.stderr


def test_retry_through_kubernetes_reruns_only_the_failed_tasks(
    no_argo_server, project, tmp_path
) -> None:
    no_argo_server.argo.failing_tasks = {"summarize": 1}
    first = run_main(project, "submit", "--wait", "--runs-dir", str(tmp_path), *FAST)
    assert first.returncode == 1
    (name,) = created(no_argo_server)
    result = run_main(project, "retry", "--wait", "--runs-dir", str(tmp_path), *FAST)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"retried workflow {name}" in result.stdout
    assert f"workflow {name} succeeded" in result.stdout
    assert list(no_argo_server.argo.requests) == []  # not one call to the Argo Server
    attempts = no_argo_server.argo.run_of(NS, name).attempts
    assert attempts["summarize"] == 1
    assert all(n == 0 for task, n in attempts.items() if task != "summarize")
    replaced = [e for e in no_argo_server.k8s.requests if e.method == "PUT"]
    assert [e.path for e in replaced] == [f"/apis/argoproj.io/v1alpha1/namespaces/{NS}/"
                                          f"workflows/{name}"]
