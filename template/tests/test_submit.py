"""Submitting to emulated Kubernetes and Argo servers: success, failure, a missing claim."""

from __future__ import annotations

from pathlib import Path

import pytest

import main

FAST = ["--poll-interval", "0.05", "--wait-timeout", "60"]


def test_submit_wait_follows_the_workflow_to_success(
    emulated_env, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    code = main.main(["submit", "--wait", "--runs-dir", str(runs), *FAST])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "Succeeded" in out
    (run_dir,) = runs.iterdir()
    assert (run_dir / "provenance.json").is_file()
    assert (run_dir / "workflow.yaml").is_file()


def test_a_failed_workflow_exits_with_1(emulated_env, tmp_path: Path) -> None:
    emulated_env.argo.outcome = "Failed"
    assert main.main(["submit", "--wait", "--runs-dir", str(tmp_path / "runs"), *FAST]) == 1


def test_check_reports_a_missing_volume_claim_with_exit_code_3(
    emulated_env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KUBEVOLUMECLAIMNAME", "no-such-claim")
    assert main.main(["check"]) == 3
    assert "no-such-claim" in capsys.readouterr().out
