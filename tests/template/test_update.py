"""`copier update` from a tagged template version to a newer one keeps the user's edits.

Each test tags versions of its own in a snapshot of the template (the repository's real
releases are tags pushed by maintainers), and uses explicit `vcs_ref`s.
"""

from __future__ import annotations

from pathlib import Path

import copier
import pytest
import yaml
from template_helpers import commit_all, generate, git, run_main, snapshot_template

USER_VINTAGES = "vintages: tuple[int, ...] = (2009, 2012, 2015, 2018)"
TEMPLATE_VINTAGES = "vintages: tuple[int, ...] = (2012, 2015)"
USER_COMMENT = "    # Our own note: scores are computed modulo 97."
V2_MESSAGE = "gathered {len(results)} results into {summary_file}"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


@pytest.fixture
def versions(tmp_path: Path) -> Path:
    """A template repository tagged v1.0.0 (this working tree) and v2.0.0 (changed)."""
    template = snapshot_template(tmp_path / "template")
    git(template, "tag", "v1.0.0")
    edit(
        template / "template" / "inputs.py.jinja",
        "Change what the experiment computes here",
        "Change what the experiment computes here (and only here)",
    )
    edit(
        template / "template" / "workflow.py.jinja",
        "summarized {len(results)} results into {summary_file}",
        V2_MESSAGE,
    )
    (template / "template" / "CHANGES.md").write_text("# Changes\n\nv2.0.0: clearer messages\n")
    commit_all(template, "v2: clearer messages")
    git(template, "tag", "v2.0.0")
    return template


@pytest.fixture
def user_project(versions: Path, tmp_path: Path) -> Path:
    """A project generated at v1.0.0, committed, then edited and committed by its user."""
    project = generate(versions, tmp_path / "project", {}, vcs_ref="v1.0.0")
    git(project, "init", "-q", "-b", "main")
    commit_all(project, "generated")
    edit(project / "inputs.py", TEMPLATE_VINTAGES, USER_VINTAGES)
    edit(
        project / "workflow.py",
        "    os.makedirs(output_dir, exist_ok=True)\n",
        f"{USER_COMMENT}\n    os.makedirs(output_dir, exist_ok=True)\n",
    )
    commit_all(project, "our vintages")
    return project


def update(project: Path, vcs_ref: str, conflict: str = "inline", quiet: bool = True) -> None:
    copier.run_update(
        str(project), vcs_ref=vcs_ref, defaults=True, overwrite=True, quiet=quiet,
        conflict=conflict,
    )


def test_update_keeps_user_edits_and_brings_template_changes(user_project: Path) -> None:
    update(user_project, "v2.0.0")
    inputs = (user_project / "inputs.py").read_text()
    workflow = (user_project / "workflow.py").read_text()
    assert USER_VINTAGES in inputs
    assert "(and only here)" in inputs
    assert USER_COMMENT in workflow
    assert V2_MESSAGE in workflow
    assert (user_project / "CHANGES.md").is_file()
    assert "<<<<<<<" not in inputs + workflow
    answers = yaml.safe_load((user_project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == "v2.0.0"


def test_the_updated_project_still_renders(user_project: Path) -> None:
    update(user_project, "v2.0.0")
    result = run_main(user_project, "render", "-o", "-")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("template: compute") == 4 * 3  # the user's 4 vintages


def test_a_genuine_conflict_is_shown_not_resolved_and_main_refuses_to_run(
    versions: Path, user_project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(
        versions / "template" / "inputs.py.jinja",
        TEMPLATE_VINTAGES,
        "vintages: tuple[int, ...] = (2012, 2015, 2021)",
    )
    commit_all(versions, "v3: a new vintage")
    git(versions, "tag", "v3.0.0")
    update(user_project, "v3.0.0", quiet=False)
    said = capsys.readouterr().err
    assert "to the template's v3.0.0" in said
    assert "grep -rn '^<<<<<<< '" in said and "main.py refuses to run" in said
    inputs = (user_project / "inputs.py").read_text()
    assert "<<<<<<<" in inputs and ">>>>>>>" in inputs
    assert USER_VINTAGES in inputs
    assert "(2012, 2015, 2021)" in inputs
    marker_line = inputs.splitlines().index(
        next(line for line in inputs.splitlines() if line.startswith("<<<<<<<"))) + 1
    result = run_main(user_project, "local")
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: inputs.py:{marker_line} still holds a conflict")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_conflict_can_be_left_in_a_rej_file(versions: Path, user_project: Path) -> None:
    edit(
        versions / "template" / "inputs.py.jinja",
        TEMPLATE_VINTAGES,
        "vintages: tuple[int, ...] = (2012, 2015, 2021)",
    )
    commit_all(versions, "v3: a new vintage")
    git(versions, "tag", "v3.0.0")
    update(user_project, "v3.0.0", conflict="rej")
    # Copier renders the new version, then re-applies the user's changes: the user's hunk
    # that does not apply is kept beside the file for them to resolve.
    assert "(2012, 2015, 2021)" in (user_project / "inputs.py").read_text()
    assert USER_VINTAGES in (user_project / "inputs.py.rej").read_text()


def test_what_main_py_writes_leaves_the_repository_clean_for_the_next_update(
    user_project: Path,
) -> None:
    assert run_main(user_project, "render").returncode == 0
    assert (user_project / "runs" / "workflow.yaml").is_file()
    assert run_main(user_project, "local").returncode == 0
    assert git(user_project, "status", "--porcelain", "--untracked-files=all") == ""
    update(user_project, "v2.0.0")  # copier refuses a dirty repository
    assert V2_MESSAGE in (user_project / "workflow.py").read_text()
