"""Hostile workflows: each is refused or ends in a clear Error, bounded, without traceback.

Memory is measured in a subprocess (its peak RSS), never by timing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from localrun_helpers import gone_soon, phases, summary_of

from hera_utils.errors import ConfigurationError
from hera_utils.local import limits

PEAK_RSS = """
import sys
from hera_utils.errors import ConfigurationError
from hera_utils.local import run_locally
try:
    result = run_locally(sys.argv[1], runs_dir=sys.argv[2], progress="quiet")
    print("RESULT", result.phase, result.message)
except ConfigurationError as error:
    print("REFUSED", error)
# VmHWM is this program's own peak (ru_maxrss would count the forking parent's too).
status = open("/proc/self/status").read()
print("PEAK_MB", int(status.split("VmHWM:")[1].split()[0]) // 1024)
"""


def _script(source: str, command: str = "python") -> dict[str, Any]:
    return {"image": "python:3.11", "command": [command], "source": source}


def _workflow(templates: list[dict[str, Any]], name: str = "hostile") -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": name},
            "spec": {"entrypoint": templates[0]["name"], "templates": templates}}


def _run_measured(tmp_path: Path, document: str) -> tuple[str, int]:
    """Run the YAML `document` in a fresh interpreter; (its output, its peak RSS in MB)."""
    workflow = tmp_path / "hostile.yaml"
    workflow.write_text(document)
    completed = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(workflow), str(tmp_path / "runs")],
        capture_output=True, text=True, timeout=120, cwd=tmp_path)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0 and "Traceback" not in output, output
    peak = int(output.rsplit("PEAK_MB", 1)[1].split()[0])
    return output, peak


# ----------------------------------------------------------------- documents

ALIAS_BOMB = "\n".join(
    [f"{a}: &{a} [" + ",".join([f"*{b}" if b else '"x"'] * 9) + "]"
     for a, b in zip("abcdefghi", ["", *"abcdefgh"], strict=True)]
    + ["kind: Workflow", "metadata: {name: bomb}",
       "spec: {entrypoint: main, templates: [{name: main, script: "
       "{image: python, command: [python], source: 'print(1)', env: *i}}]}"])


def test_a_yaml_alias_bomb_is_refused_without_expanding_it(tmp_path):
    output, peak = _run_measured(tmp_path, ALIAS_BOMB)

    assert "REFUSED" in output and "YAML aliases are expanded" in output, output
    assert peak < 150


def test_a_yaml_value_that_contains_itself_is_refused(tmp_path, run):
    workflow = tmp_path / "loop.yaml"
    workflow.write_text("kind: Workflow\nmetadata: {name: x}\nspec: &s {entrypoint: main, "
                        "templates: [{name: main, script: {source: *s}}]}\n")
    with pytest.raises(ConfigurationError, match="contains itself"):
        run(workflow)


def test_a_workflow_nested_deeper_than_the_parser_goes_is_refused(tmp_path, run):
    workflow = tmp_path / "deep.json"
    workflow.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigurationError, match="nests its values too deeply"):
        run(workflow)


def test_a_workflow_file_larger_than_any_workflow_is_refused(tmp_path, run):
    workflow = tmp_path / "huge.yaml"
    with open(workflow, "wb") as handle:
        handle.truncate(limits.MAX_WORKFLOW_FILE_BYTES + 1)
    with pytest.raises(ConfigurationError, match="no workflow is that large"):
        run(workflow)


def test_a_workflow_file_that_is_not_utf8_is_refused(tmp_path, run):
    workflow = tmp_path / "latin1.yaml"
    workflow.write_bytes("# caf\u00e9\nkind: Workflow\n".encode("latin-1"))
    with pytest.raises(ConfigurationError, match="is not UTF-8 text"):
        run(workflow)


@pytest.mark.parametrize(("spec", "where"), [
    ({"entrypoint": "main", "templates": "oops"}, "spec.templates: a list is expected"),
    ({"entrypoint": "main", "templates": [{"name": "main", "dag": {"tasks": "x"}}]},
     "spec.templates[0].dag.tasks: a list is expected"),
    ({"entrypoint": "main", "templates": [{"name": "main", "steps": [{"name": "a"}]}]},
     "spec.templates[0].steps[0]: a list is expected"),
    ({"entrypoint": "main", "templates": [
        {"name": "main", "script": _script("print(1)"), "inputs": {"parameters": "x"}}]},
     "spec.templates[0].inputs.parameters: a list is expected"),
    ({"entrypoint": ["main"], "templates": []}, "spec.entrypoint: a single value"),
    ([], "spec: a mapping is expected, not a list"),
])
def test_a_malformed_structure_is_refused_naming_where(run, spec, where):
    document = {"kind": "Workflow", "metadata": {"name": "bad"}, "spec": spec}
    with pytest.raises(ConfigurationError, match="not shaped like an Argo workflow") as raised:
        run(document)
    assert where in str(raised.value)


# ----------------------------------------------------------------- names

@pytest.mark.parametrize(("name", "expected"), [
    ("ma\x00in", "holds a control character"),
    ("m" * 300, "is longer than 128 characters"),
])
def test_a_template_name_that_cannot_be_a_file_name_is_refused(run, name, expected):
    workflow = _workflow([{"name": name, "script": _script("print(1)")}])
    with pytest.raises(ConfigurationError, match=expected) as raised:
        run(workflow)
    assert "\x00" not in str(raised.value)


@pytest.mark.parametrize("name", ["w" * 300, "bad\x00name", "../up", "Upper"])
def test_a_workflow_name_that_is_no_kubernetes_name_is_refused(run, name):
    with pytest.raises(ConfigurationError, match="workflow name"):
        run(_workflow([{"name": "main", "script": _script("print(1)")}], name=name))


def test_an_output_parameter_name_cannot_point_outside_the_run(run, tmp_path):
    workflow = _workflow([{"name": "main", "container": {"image": "x", "command": ["true"]},
                           "outputs": {"parameters": [
                               {"name": "../../../escaped", "valueFrom": {"path": "/tmp/o"}}]}}])
    with pytest.raises(ConfigurationError, match="must consist of letters, digits"):
        run(workflow, stub_containers=True)
    assert not list(tmp_path.rglob("escaped"))


# ----------------------------------------------------------------- growth

RECURSION = """
kind: Workflow
metadata: {name: recurse}
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - {name: again, template: main}
"""


def test_a_template_that_calls_itself_without_end_stops_at_argos_depth(tmp_path):
    output, peak = _run_measured(tmp_path, RECURSION)

    assert "RESULT Failed" in output and "Maximum recursion depth exceeded" in output, output
    assert peak < 200
    summary = json.loads((tmp_path / "runs" / "recurse" / "summary.json").read_text())
    assert summary["phase"] == "Failed"


@pytest.mark.parametrize("sequence", ["{count: '10000000'}", "{start: '0', end: '99999999'}"])
def test_a_huge_sequence_is_refused_before_any_item_is_made(tmp_path, sequence):
    output, peak = _run_measured(tmp_path, f"""
kind: Workflow
metadata: {{name: sweep}}
spec:
  entrypoint: main
  templates:
    - name: main
      steps:
        - - {{name: each, template: one, withSequence: {sequence}}}
    - name: one
      script: {{image: python, command: [python], source: 'print(1)'}}
""")
    assert "RESULT Failed" in output and "more than the 50,000 a local run takes" in output
    assert peak < 150


def test_an_oversized_output_parameter_is_an_error_not_a_huge_summary(run, tmp_path):
    big = tmp_path / "big.txt"
    workflow = _workflow([{
        "name": "main",
        "script": _script(f"open({str(big)!r}, 'w').write('x' * 2_000_000)"),
        "outputs": {"parameters": [{"name": "out", "valueFrom": {"path": str(big)}}]}}])

    result = run(workflow)

    assert phases(result) == {"hostile": "Error"}
    assert "larger than the 256 KiB a parameter may hold" in result.tasks[0].message
    assert result.summary_path.stat().st_size < 100_000


# ----------------------------------------------------------------- processes

ESCAPING = """
setsid sleep 300 >/dev/null 2>&1 &
echo $! > {pids}.setsid
(sleep 301 >/dev/null 2>&1 & echo $! > {pids}.double)
echo started
"""


def test_processes_that_leave_their_task_group_are_stopped_with_the_task(run, tmp_path):
    pids = tmp_path / "escapee"
    workflow = _workflow([{"name": "main",
                           "script": _script(ESCAPING.format(pids=pids), command="bash")}])

    result = run(workflow)

    assert result.succeeded
    escaped = [int(Path(f"{pids}.{kind}").read_text()) for kind in ("setsid", "double")]
    for pid in escaped:
        assert gone_soon(pid), f"process {pid} outlived its task"


SIGHUP_RUNNER = """
import sys
from hera_utils.local import run_locally
result = run_locally(sys.argv[1], runs_dir=sys.argv[2], progress="plain")
print("RESULT", result.phase, result.message, flush=True)
"""


def test_a_hang_up_stops_the_run_like_ctrl_c_and_writes_the_summary(tmp_path):
    pidfile = tmp_path / "task.pid"
    workflow = tmp_path / "long.yaml"
    workflow.write_text(json.dumps(_workflow([{"name": "main", "script": _script(
        f"import os, time\nopen({str(pidfile)!r}, 'w').write(str(os.getpid()))\n"
        "time.sleep(300)\n")}], name="hangup")))
    runner = subprocess.Popen([sys.executable, "-c", SIGHUP_RUNNER, str(workflow),
                               str(tmp_path / "runs")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        task_pid = _wait_for_pid(pidfile, runner)
        runner.send_signal(signal.SIGHUP)
        out, err = runner.communicate(timeout=60)
    finally:
        if runner.poll() is None:
            runner.kill()

    assert "Traceback" not in out + err, out + err
    assert "RESULT Failed Stopped: hung up (SIGHUP" in out
    assert gone_soon(task_pid)
    summary = json.loads((tmp_path / "runs" / "hangup" / "summary.json").read_text())
    assert summary["phase"] == "Failed" and "SIGHUP" in summary["message"]


def _wait_for_pid(pidfile: Path, runner: subprocess.Popen[str]) -> int:
    while runner.poll() is None:
        if pidfile.exists() and pidfile.read_text().strip():
            return int(pidfile.read_text())
        threading.Event().wait(0.05)
    raise AssertionError(f"the runner ended first: {runner.communicate()}")


def test_two_runs_of_one_name_at_once_keep_their_own_directories(run, tmp_path):
    gate = tmp_path / "gate"
    first = _workflow([{"name": "main", "script": _script(
        f"import os, time\nwhile not os.path.exists({str(gate)!r}): time.sleep(0.02)\n"
        "print('first')\n")}], name="same")
    second = _workflow([{"name": "main", "script": _script(
        f"open({str(gate)!r}, 'w').close()\nprint('second')\n")}], name="same")
    results: dict[str, Any] = {}
    started = threading.Thread(target=lambda: results.update(first=run(first)))
    started.start()
    # The second run starts once the first holds its directory (its task is running).
    while not (tmp_path / "runs" / "same" / "main.log").exists() and started.is_alive():
        threading.Event().wait(0.02)
    results["second"] = run(second)
    started.join(60)

    directories = {results[key].run_dir for key in ("first", "second")}
    assert len(directories) == 2
    assert results["first"].run_dir == tmp_path / "runs" / "same"
    for key in ("first", "second"):
        assert results[key].succeeded
        assert summary_of(results[key])["workflow"] == "same"
        assert (results[key].run_dir / "main.log").read_text() == f"{key}\n"
    assert sorted(os.listdir(tmp_path / "runs"))[0] == "same"
