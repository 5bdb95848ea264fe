"""`copier copy` with every answer set gives a small, clean, working experiment."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hera.workflows import models as m
from template_helpers import ANSWER_SETS, REPOSITORY, run, run_main

JOURNEY_RUNS = (REPOSITORY / "build" / "wheelhouse" / ".filled").is_file()
CONTRACT_FILES = [
    "environment.py", "inputs.py", "layout.py", "workflow.py", "main.py", "hera.config.tmpl",
    "argo.bash.tmpl", "README.md", "pyproject.toml", "tests", ".gitignore",
    ".copier-answers.yml",
]


@pytest.fixture(scope="module", params=list(ANSWER_SETS))
def project(request: pytest.FixtureRequest, generated) -> Path:
    return generated(request.param)


@pytest.fixture(scope="module")
def rendered(project: Path) -> dict:
    result = run_main(project, "render", "-o", "-")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def answered(project: Path, question: str) -> str:
    """The answer the project was generated with (given or default), "" when not asked."""
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    return answers.get(question, "")


def test_it_has_the_contract_files(project: Path) -> None:
    assert [name for name in CONTRACT_FILES if not (project / name).exists()] == []


def test_its_own_tests_pass(project: Path) -> None:
    if project.name == "defaults" and JOURNEY_RUNS:
        pytest.skip("the journey test runs the default project's tests in its own environment")
    result = run(project, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout


def test_render_gives_a_workflow_hera_accepts(rendered: dict) -> None:
    workflow = m.Workflow.model_validate(rendered)
    assert workflow.spec.entrypoint == "main"
    assert workflow.metadata.generate_name


def test_only_the_answered_optional_parts_appear(project: Path, rendered: dict) -> None:
    templates = {t["name"]: t for t in rendered["spec"]["templates"]}
    claim = answered(project, "volume_claim_name")
    assert ("volumes" in rendered["spec"]) == bool(claim)
    assert ("volumeMounts" in templates["compute"]["script"]) == bool(claim)
    assert ("envFrom" in templates["compute"]["script"]) == bool(
        answered(project, "configmap_name")
    )
    assert ("report" in templates) == bool(answered(project, "container_registry"))
    sources = "".join(path.read_text() for path in project.glob("*.py"))
    assert ("REGISTRY" in sources) == bool(answered(project, "container_registry"))
    assert ("MOUNT_PATH" in sources) == bool(claim)
    assert ("configmap" in sources) == bool(answered(project, "configmap_name"))


def test_ruff_finds_nothing(project: Path) -> None:
    check = run(project, "-m", "ruff", "check", "--no-cache", ".")
    assert check.returncode == 0, check.stdout + check.stderr
    formatting = run(project, "-m", "ruff", "format", "--check", "--no-cache", ".")
    assert formatting.returncode == 0, formatting.stdout + formatting.stderr


def test_no_jinja_is_left(project: Path) -> None:
    leftovers = []
    for path in project.rglob("*"):
        if path.is_dir() or "__pycache__" in path.parts or ".pytest_cache" in path.parts:
            continue
        text = path.read_text()
        if path.suffix == ".jinja" or any(mark in text for mark in ("{{", "{%")):
            leftovers.append(str(path))
    assert leftovers == []


def test_every_file_says_what_it_is_for(project: Path) -> None:
    for path in [*project.glob("*.py"), *project.glob("tests/*.py")]:
        first = path.read_text().splitlines()[0]
        assert first.startswith('"""') and len(first) > 10, path


def test_the_answers_file_records_the_answers(project: Path) -> None:
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"]
    assert Path(answers["_src_path"]).is_absolute()
    for question, value in ANSWER_SETS[project.name].items():
        assert answers.get(question, "") == value, question


def test_the_settings_files_name_the_answers(project: Path) -> None:
    config = (project / "hera.config.tmpl").read_text()
    bash = (project / "argo.bash.tmpl").read_text()
    namespace = answered(project, "namespace")
    assert f"argo_namespace='{namespace}'" in config
    assert f"ARGO_NAMESPACE={namespace}" in bash
    claim = answered(project, "volume_claim_name")
    assert (f"k8s_volume_claim_name='{claim}'" in config) == bool(claim)
    assert (f"KUBEVOLUMECLAIMNAME={claim}" in bash) == bool(claim)


def test_help_lists_the_subcommands(project: Path) -> None:
    result = run_main(project, "--help")
    assert result.returncode == 0, result.stderr
    for command in ("render", "check", "submit", "local"):
        assert command in result.stdout
