"""The template's questions refuse invalid answers when asked, saying what is expected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import copier
import pytest

INVALID = [
    ("project_slug", "Bad-Slug", "lowercase letter"),
    ("project_slug", "2nd_run", "lowercase letter"),
    ("project_slug", "trailing_", "not ending"),
    ("experiment_name", 'say "hi"', "no quotes"),
    ("namespace", "Experiments", "namespace name"),
    ("namespace", "a" * 64, "namespace name"),
    ("service_account", "argo_workflow", "Kubernetes name"),
    ("volume_claim_name", "Data", "Kubernetes name"),
    ("configmap_name", "-proxy", "Kubernetes name"),
    ("argo_server", "argo.example.org", "host:port"),
    ("argo_server", "ftp://argo.example.org", "host:port"),
    ("argo_server", "https://", "host:port"),
    ("mount_path", "data", "absolute path"),
    ("mount_path", "/", "absolute path"),
    ("container_registry", "Registry.example.org", "in lowercase"),
    ("python_version", "2.7", "One of 3.10"),
]

VALID = [
    ("argo_server", "argo.example.org:443"),
    ("argo_server", "127.0.0.1:2746"),
    ("argo_server", "https://argo.example.org/argo/"),
    ("service_account", "team.runner"),
    ("container_registry", "registry.example.org:5000/team/project"),
    ("volume_claim_name", ""),
    ("configmap_name", "http-proxy"),
]


@pytest.mark.parametrize(("question", "answer", "message"), INVALID)
def test_an_invalid_answer_is_refused_with_a_message(
    template_repo: Path, tmp_path: Path, question: str, answer: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        copier.run_copy(
            str(template_repo), str(tmp_path / "out"), data={question: answer},
            defaults=True, vcs_ref="HEAD", quiet=True, pretend=True,
        )
    assert question in str(refused.value)


@pytest.mark.parametrize(("question", "answer"), VALID)
def test_a_valid_answer_is_accepted(
    template_repo: Path, tmp_path: Path, question: str, answer: str
) -> None:
    copier.run_copy(
        str(template_repo), str(tmp_path / "out"), data={question: answer},
        defaults=True, vcs_ref="HEAD", quiet=True, pretend=True,
    )


def test_the_command_line_refuses_an_invalid_answer(template_repo: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "copier", "copy", "--defaults", "--vcs-ref", "HEAD",
         "--data", "namespace=Not_A_Namespace", str(template_repo), str(tmp_path / "out")],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode != 0
    assert "namespace" in result.stderr
    assert not (tmp_path / "out" / "main.py").exists()
