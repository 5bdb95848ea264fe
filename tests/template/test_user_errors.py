"""What `main.py` says when the user's own files are wrong: one line, whose fault, exit code.

Conflict markers left by `copier update`, an invalid workflow (render, local and submit
all refuse it before anything is written, run or sent), an Argo Server rejecting the
workflow, a failing task function, several failed checks: each a test of the message and
the exit code, run in-process against the emulators.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from template_helpers import run_main

FAST = ("--poll-interval", "0.05", "--wait-timeout", "60")
DEPENDS_LINE = "            computations >> summary\n"


@pytest.fixture
def project(generated, tmp_path: Path) -> Path:
    """A copy of the default experiment the test may edit."""
    return Path(shutil.copytree(generated("defaults"), tmp_path / "experiment"))


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_a_conflict_marker_is_named_with_its_file_and_line_exit_2(project: Path) -> None:
    workflow = project / "workflow.py"
    lines = workflow.read_text().splitlines(keepends=True)
    lines[20:20] = ["<<<<<<< before updating\n", "x = 1\n", "=======\n", "x = 2\n",
                    ">>>>>>> after updating\n"]
    workflow.write_text("".join(lines))
    for command in ("render", "local", "submit", "check"):
        result = run_main(project, command)
        assert result.returncode == 2, (command, result.stderr)
        line = one_error_line(result.stderr)
        assert "workflow.py:21" in line and "conflict marker" in line, line
        assert "SyntaxError" not in result.stderr


def misspell_depends(project: Path) -> None:
    edit(project / "workflow.py", DEPENDS_LINE, '            summary.depends = "computee"\n')


@pytest.mark.parametrize("command", ["render", "local", "submit"])
def test_a_misspelt_depends_is_refused_before_anything_is_sent_exit_2(
    project: Path, command: str, emulated_env, tmp_path: Path
) -> None:
    misspell_depends(project)
    runs = () if command == "render" else ("--runs-dir", str(tmp_path / "runs"))
    result = run_main(project, command, *runs)
    assert result.returncode == 2, result.stdout + result.stderr
    line = one_error_line(result.stderr)
    assert "task 'summarize' depends on 'computee'" in line, line
    assert "fix it in workflow.py" in line
    assert "cluster instead" not in result.stdout + result.stderr
    assert emulated_env.argo.workflows == {}
    assert not (project / "runs" / "workflow.yaml").exists()
    assert not list((tmp_path / "runs").glob("*/summary.json"))


def test_an_unknown_template_is_refused_exit_2(project: Path) -> None:
    edit(project / "workflow.py", DEPENDS_LINE,
         DEPENDS_LINE + '            Task(name="extra", template="no-such-template")\n')
    edit(project / "workflow.py", "from hera.workflows import ", "from hera.workflows import Task, ")
    result = run_main(project, "render")
    assert result.returncode == 2, result.stderr
    line = one_error_line(result.stderr)
    assert "task 'extra' uses template 'no-such-template', which is not defined" in line


def test_a_bad_input_reference_is_refused_exit_2(project: Path) -> None:
    edit(project / "workflow.py", DEPENDS_LINE,
         DEPENDS_LINE + '            Task(name="extra", template="summarize", arguments={'
         '"result_dirs": "{{tasks.nowhere.outputs.result}}", "summary_file": "x"})\n')
    edit(project / "workflow.py", "from hera.workflows import ", "from hera.workflows import Task, ")
    result = run_main(project, "render")
    assert result.returncode == 2, result.stderr
    assert "task 'extra' refers to tasks.nowhere" in one_error_line(result.stderr)


def test_the_argo_server_rejecting_the_workflow_is_a_user_error_exit_2(
    project: Path, emulated_env, tmp_path: Path
) -> None:
    # A name Kubernetes refuses: only the server knows its rules, so the server answers 400.
    edit(project / "inputs.py", 'name: str = "vintages-by-boroughs"', 'name: str = "Vintages"')
    result = run_main(project, "submit", "--runs-dir", str(tmp_path))
    assert result.returncode == 2, result.stdout + result.stderr
    line = one_error_line(result.stderr)
    assert line.startswith("error: the Argo Server rejected the workflow: "), line
    assert "retry later" not in line
    assert emulated_env.argo.workflows == {}


def test_a_failing_task_shows_its_traceback_at_its_workflow_py_line_exit_1(
    project: Path,
) -> None:
    workflow = project / "workflow.py"
    edit(workflow, "    os.makedirs(output_dir, exist_ok=True)\n",
         "    os.makedirs(output_dir, exist_ok=True)\n"
         '    if borough == "VILLEURBANNE":\n'
         '        raise ValueError(f"no data for {borough}")\n')
    raise_line = workflow.read_text().splitlines().index(
        '        raise ValueError(f"no data for {borough}")') + 1
    result = run_main(project, "local")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f'File "workflow.py", line {raise_line}, in compute' in result.stderr
    assert "ValueError: no data for VILLEURBANNE" in result.stderr
    assert "/scripts/" not in result.stderr  # no frame names the copied script
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: local run ") and "ended Failed" in last, last


def test_every_failed_check_ends_a_failed_submit_and_check(
    project: Path, emulated_env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KUBEVOLUMECLAIMNAME", "no-such-claim")
    monkeypatch.setenv("KUBECONFIGMAPNAME", "no-such-configmap")
    for command, *options in (("submit", "--runs-dir", str(tmp_path)), ("check",)):
        result = run_main(project, command, *options)
        assert result.returncode == 3, result.stdout + result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert re.match(r"error: 2 checks failed: ", last), last
        assert "volume_claim" in last and "configmap" in last
        assert "no-such-claim" in last and "no-such-configmap" in last
    assert emulated_env.argo.workflows == {}


def test_config_shows_environment_py_defaults_labelled_and_help_shows_them(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ARGO_SERVICE_ACCOUNT", "runner")
    result = run_main(project, "config", "--show-origin")
    assert result.returncode == 0, result.stderr
    lines = {line.split("=")[0].strip(): line for line in result.stdout.splitlines() if "=" in line}
    assert "experiment-data" in lines["k8s_volume_claim_name"]
    assert lines["k8s_volume_claim_name"].endswith("# default (environment.py)")
    assert lines["argo_namespace"].endswith("# default (environment.py)")
    assert "runner" in lines["argo_service_account"]
    assert lines["argo_service_account"].endswith("# environment (ARGO_SERVICE_ACCOUNT)")
    assert run_main(project, "config").stdout.count("# ") == 0
    helped = run_main(project, "--help")
    assert helped.returncode == 0
    assert "default from environment.py: experiment-data" in " ".join(helped.stdout.split())
    refused = run_main(project, "render", "--show-origin")
    assert refused.returncode == 2
    assert "--show-origin applies to config" in refused.stderr


def test_local_retry_reruns_only_the_tasks_that_did_not_succeed(project: Path) -> None:
    import json

    workflow = project / "workflow.py"
    edit(workflow, "    os.makedirs(output_dir, exist_ok=True)\n",
         "    os.makedirs(output_dir, exist_ok=True)\n"
         # Absolute: a task's working directory is its own, as a pod's is.
         f'    if borough == "VILLEURBANNE" and os.path.exists({str(project / "broken")!r}):\n'
         '        raise ValueError(f"no data for {borough}")\n')
    (project / "broken").touch()
    earlier = {p.parent.resolve() for p in project.glob("runs/*/summary.json")}
    first = run_main(project, "local")
    assert first.returncode == 1, first.stdout + first.stderr
    hint = re.search(r"python main.py local --retry (\S+) re-runs only", first.stderr)
    assert hint, first.stderr
    (project / "broken").unlink()
    again = run_main(project, "local", "--retry", hint[1])
    assert again.returncode == 0, again.stdout + again.stderr
    failed_run = (project / hint[1]).resolve()  # printed relative to the project, or not
    (latest,) = [p for p in (project / "runs").glob("*/summary.json")
                 if p.parent.resolve() not in {failed_run, *earlier}]
    tasks = json.loads(latest.read_text())["tasks"]
    reused = {task["name"] for task in tasks if task.get("reused")}
    ran = {task["name"] for task in tasks if not task.get("reused")}
    assert reused and all("villeurbanne" not in name for name in reused)
    assert any("villeurbanne" in name for name in ran) and "summarize" in ran, (ran, reused)
