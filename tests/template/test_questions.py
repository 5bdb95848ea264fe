"""The template's questions refuse invalid answers when asked, saying what is expected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import copier
import pytest
from template_helpers import REPOSITORY

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
    # Answers that would run code where they land: refused, whatever the question.
    ("argo_server", 'argo.example.org:443" + __import__("os").getcwd() + "', "host:port"),
    ("argo_server", "https://argo.example.org/$(touch injected)", "host:port"),
    ("argo_server", "https://argo.example.org/`touch injected`", "host:port"),
    ("experiment_name", "Heat\ntouch injected", "line breaks"),
    ("experiment_name", "Heat\nargo_insecure_skip_verify='1'", "line breaks"),
    ("experiment_name", "Heat $(touch injected)", "line breaks"),
    ("hera_utils_requirement", 'hera-utils"\nimport os', "one line"),
    # A trailing newline passes a `$`-anchored pattern: every pattern is anchored at \Z.
    ("namespace", "argo\n", "namespace name"),
    ("project_slug", "heat\n", "lowercase letter"),
    ("service_account", "argo-workflow\n", "Kubernetes name"),
    ("volume_claim_name", "data\n", "Kubernetes name"),
    ("configmap_name", "proxy\n", "Kubernetes name"),
    ("mount_path", "/data\n", "absolute path"),
    ("container_registry", "registry.example.org\n", "in lowercase"),
    ("argo_server", "argo.example.org:443\n", "host:port"),
    ("experiment_name", "Heat islands\n", "line breaks"),
    ("hera_utils_requirement", "hera-utils==0.1.0\n", "one line"),
]

VALID = [
    ("argo_server", "argo.example.org:443"),
    ("argo_server", "127.0.0.1:2746"),
    ("argo_server", "https://argo.example.org/argo/"),
    ("service_account", "team.runner"),
    ("container_registry", "registry.example.org:5000/team/project"),
    ("volume_claim_name", ""),
    ("configmap_name", "http-proxy"),
    ("experiment_name", "Heat & cold: (Lyon, 2024); v2.1/b"),
    ("hera_utils_requirement", "hera-utils[testing]>=0.1,<0.3"),
]


@pytest.mark.parametrize(("question", "answer", "message"), INVALID)
def test_an_invalid_answer_is_refused_with_a_message(
    template_dir: Path, tmp_path: Path, question: str, answer: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message) as refused:
        copier.run_copy(
            str(template_dir), str(tmp_path / "out"), data={question: answer},
            defaults=True, quiet=True, pretend=True,
        )
    assert question in str(refused.value)


@pytest.mark.parametrize(("question", "answer"), VALID)
def test_a_valid_answer_is_accepted(
    template_dir: Path, tmp_path: Path, question: str, answer: str
) -> None:
    copier.run_copy(
        str(template_dir), str(tmp_path / "out"), data={question: answer},
        defaults=True, quiet=True, pretend=True,
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


def test_answers_with_shell_and_python_characters_are_inert_where_they_land(
    template_repo: Path, tmp_path: Path
) -> None:
    """Values accepted by the validators are quoted for the language of each file."""
    name = "Heat & cold: (Lyon); v2/b"
    server = "https://argo.example.org/a~b%20c/"
    project = tmp_path / "out"
    copier.run_copy(
        str(template_repo), str(project), data={"experiment_name": name, "argo_server": server},
        defaults=True, vcs_ref="HEAD", quiet=True,
    )
    sourced = subprocess.run(
        ["bash", "-c", 'set -a; source ./argo.bash.tmpl; set +a; printf "%s" "$ARGO_SERVER"'],
        cwd=project, capture_output=True, text=True, timeout=30, check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    assert sourced.returncode == 0, sourced.stderr
    assert sourced.stdout == server
    assert sorted(path.name for path in tmp_path.iterdir()) == ["out"]  # nothing ran
    namespace: dict[str, object] = {}
    exec(compile((project / "environment.py").read_text(), "environment.py", "exec"), namespace)
    assert namespace["SETTING_DEFAULTS"]["argo_server"] == server  # type: ignore[index]


def source_requirement(src: str, commit: str = "0123abc") -> str:
    """The requirement copier.yml derives for a template copied from `src`."""
    import jinja2
    import yaml

    template_text = yaml.safe_load((REPOSITORY / "copier.yml").read_text())[
        "hera_utils_source"
    ]["default"]
    env = jinja2.Environment(extensions=["jinja2_ansible_filters.AnsibleCoreFiltersExtension"])
    return env.from_string(template_text).render(
        _copier_answers={"_src_path": src}, _copier_conf={"vcs_ref_hash": commit}
    )


@pytest.mark.parametrize(
    ("src", "requirement"),
    [
        ("gh:lab/hera_utils", "hera-utils @ git+https://github.com/lab/hera_utils.git@0123abc"),
        ("gl:lab/hera_utils.git",
         "hera-utils @ git+https://gitlab.com/lab/hera_utils.git@0123abc"),
        ("https://git.example.org/lab/hera_utils.git",
         "hera-utils @ git+https://git.example.org/lab/hera_utils.git@0123abc"),
        ("git+https://git.example.org/lab/hera_utils",
         "hera-utils @ git+https://git.example.org/lab/hera_utils@0123abc"),
        ("git@github.com:lab/hera_utils.git",
         "hera-utils @ git+ssh://git@github.com/lab/hera_utils.git@0123abc"),
        ("/srv/checkouts/hera_utils", "hera-utils @ file:///srv/checkouts/hera_utils"),
    ],
)
def test_the_default_requirement_follows_where_the_template_came_from(
    src: str, requirement: str
) -> None:
    assert source_requirement(src) == requirement


def test_the_default_requirement_of_a_local_copy_is_installable_by_pip(
    template_repo: Path, tmp_path: Path
) -> None:
    from packaging.requirements import Requirement

    project = tmp_path / "out"
    copier.run_copy(str(template_repo), str(project), defaults=True, vcs_ref="HEAD", quiet=True)
    text = (project / "pyproject.toml").read_text()
    expected = f"hera-utils @ {template_repo.resolve().as_uri()}"
    assert f'"{expected}"' in text
    assert Requirement(expected).url == template_repo.resolve().as_uri()
    assert f'"hera-utils[testing] @ {template_repo.resolve().as_uri()}"' in text
