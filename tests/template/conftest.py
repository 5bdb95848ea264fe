"""Fixtures of the template's tests: a snapshot of the template in git, generated projects.

Each answer set is generated once per session and shared (see template_helpers).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from template_helpers import ANSWER_SETS, generate, snapshot_template


@pytest.fixture(scope="session")
def template_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return snapshot_template(tmp_path_factory.mktemp("template") / "repo")


@pytest.fixture(scope="session")
def template_dir(tmp_path_factory: pytest.TempPathFactory, template_repo: Path) -> Path:
    """The same template outside git: copier reads it in place instead of cloning it."""
    destination = tmp_path_factory.mktemp("template-dir") / "template"
    shutil.copytree(template_repo, destination, ignore=shutil.ignore_patterns(".git"))
    return destination


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory, template_repo: Path) -> Any:
    """`generated(name)`: the project of answer set `name`, generated once per session."""
    projects: dict[str, Path] = {}

    def project(name: str) -> Path:
        if name not in projects:
            destination = tmp_path_factory.mktemp(f"project-{name}") / name
            projects[name] = generate(template_repo, destination, ANSWER_SETS[name])
        return projects[name]

    return project
