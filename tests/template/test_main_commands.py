"""`python main.py ...` of the default experiment, as a user runs it, against emulators."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from template_helpers import run_main

FAST = ("--poll-interval", "0.05", "--wait-timeout", "60")


@pytest.fixture(scope="module")
def project(generated) -> Path:
    return generated("defaults")


def test_submit_wait_succeeds(emulated_env, project: Path, tmp_path: Path) -> None:
    result = run_main(project, "submit", "--wait", "--runs-dir", str(tmp_path), *FAST)
    assert result.returncode == 0, result.stdout + result.stderr
    ((name, namespace),) = [(n, ns) for (ns, n) in emulated_env.argo.workflows]
    assert f"submitted workflow {name}" in result.stdout
    assert f"/workflows/{namespace}/{name}" in result.stdout  # the UI link
    assert "Succeeded" in result.stdout
    provenance = json.loads((tmp_path / name / "provenance.json").read_text())
    assert provenance["phase"] == "Succeeded"
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert provenance["template"]["commit"] == answers["_commit"]


def test_submit_wait_reports_a_failed_workflow_with_exit_code_1(
    emulated_env, project: Path, tmp_path: Path
) -> None:
    emulated_env.argo.outcome = "Failed"
    result = run_main(project, "submit", "--wait", "--runs-dir", str(tmp_path), *FAST)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "ended Failed" in result.stderr
    assert "Traceback" not in result.stderr


def test_no_subcommand_submits(emulated_env, project: Path, tmp_path: Path) -> None:
    result = run_main(project, "--runs-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(emulated_env.argo.workflows) == 1


def test_check_reports_a_missing_volume_claim_with_exit_code_3_and_the_hint(
    emulated_env, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBEVOLUMECLAIMNAME", "no-such-claim")
    result = run_main(project, "check")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "no-such-claim" in result.stdout
    assert "KUBEVOLUMECLAIMNAME" in result.stdout  # the hint says what to set


def test_submit_stops_at_a_failed_check_without_submitting(
    emulated_env, project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KUBEVOLUMECLAIMNAME", "no-such-claim")
    result = run_main(project, "submit", "--runs-dir", str(tmp_path))
    assert result.returncode == 3
    assert "volume_claim" in result.stderr and "Traceback" not in result.stderr
    assert emulated_env.argo.workflows == {}


def test_a_rejected_token_is_reported_without_printing_it(
    emulated_env, project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ARGO_TOKEN", "Bearer secret-that-must-not-show")
    result = run_main(project, "submit", "--runs-dir", str(tmp_path))
    assert result.returncode == 3
    assert "secret-that-must-not-show" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_render_touches_no_network(project: Path, tmp_path: Path) -> None:
    # Settings that point nowhere: render must not need them.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "ARGO", "HERA"))}
    env.update(ARGO_SERVER="127.0.0.1:9", KUBECONFIG=str(tmp_path / "missing"))
    output = tmp_path / "workflow.yaml"
    result = run_main(project, "render", "-o", str(output), env=env)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(output.read_text())["kind"] == "Workflow"


def test_an_option_of_another_subcommand_is_a_usage_error(project: Path) -> None:
    result = run_main(project, "render", "--wait")
    assert result.returncode == 2
    assert "--wait" in result.stderr


def test_default_local_run_writes_the_layout_files_and_summary(project: Path) -> None:
    result = run_main(project, "local")
    assert result.returncode == 0, result.stdout + result.stderr
    (summary_path,) = (project / "runs").glob("*/summary.json")
    summary = json.loads(summary_path.read_text())
    assert summary["tasks"]
    assert {task["phase"] for task in summary["tasks"]} == {"Succeeded"}
    experiment_dir = project / "local-volume" / "vintages-by-boroughs"
    assert len(list(experiment_dir.glob("compute/*/*/result.json"))) == 2 * 3
    summary_file = experiment_dir / "summary" / "summary.json"
    assert len(json.loads(summary_file.read_text())) == 2 * 3


def test_local_with_a_container_task_and_no_container_runtime_exits_1_with_the_reason(
    generated, tmp_path: Path
) -> None:
    project = generated("everything")  # has a container task (container registry answered)
    no_runtime = tmp_path / "bin"  # a PATH with neither docker nor podman
    no_runtime.mkdir()
    env = {**os.environ, "PATH": str(no_runtime)}
    result = run_main(project, "local", "--volume-dir", str(tmp_path / "volume"),
                 "--runs-dir", str(tmp_path / "runs"), env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "not runnable here" in output
    assert "docker is not on PATH" in output
    assert "Traceback" not in output
    stubbed = run_main(project, "local", "--stub-containers", "--volume-dir",
                  str(tmp_path / "volume"), "--runs-dir", str(tmp_path / "runs"), env=env)
    assert stubbed.returncode == 0, stubbed.stdout + stubbed.stderr


def test_submit_with_an_expired_sso_token_uses_the_service_account_and_says_so(
    emulated_env, project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ARGO_TOKEN", "Bearer v2:ZXhwaXJlZC1zc28tc2Vzc2lvbi10b2tlbg==")
    result = run_main(project, "submit", "--runs-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "rejected an SSO token from argo_token (401); using a short-lived token" in (
        result.stderr)
    assert "ZXhw" not in result.stdout + result.stderr
    assert len(emulated_env.argo.workflows) == 1
