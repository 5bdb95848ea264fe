"""The runner as a user's process: Ctrl-C stops it cleanly, failures print no traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from localrun_helpers import WORKFLOWS, gone_soon

RUNNER = """
import sys
from hera_utils.local import run_locally
parameters = {"pidfile": sys.argv[3]} if len(sys.argv) > 3 else None
result = run_locally(sys.argv[1], runs_dir=sys.argv[2], progress="plain", parameters=parameters)
print("RESULT", result.phase, result.message, flush=True)
sys.exit(0 if result.succeeded else 1)
"""

LONG_TASK = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: long-run
spec:
  entrypoint: main
  arguments:
    parameters: [{name: pidfile}]
  templates:
    - name: main
      dag:
        tasks:
          - name: long
            template: sleeper
          - name: after
            depends: long
            template: sleeper
    - name: sleeper
      script:
        image: python:3.11
        command: [python]
        source: |
          import os, time
          with open("{{workflow.parameters.pidfile}}", "w") as handle:
              handle.write(str(os.getpid()))
          print("sleeping", flush=True)
          time.sleep(120)
"""


def _wait_for(path: Path, seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.05)
    raise AssertionError(f"{path} did not appear within {seconds}s")


def test_ctrl_c_stops_the_running_task_and_still_writes_the_summary(tmp_path):
    workflow = tmp_path / "long.yaml"
    workflow.write_text(LONG_TASK)
    pidfile = tmp_path / "task.pid"
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(workflow), str(tmp_path / "runs"), str(pidfile)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        task_pid = int(_wait_for(pidfile, 30))
        sent = time.monotonic()
        runner.send_signal(signal.SIGINT)
        out, err = runner.communicate(timeout=30)
        elapsed = time.monotonic() - sent
    finally:
        if runner.poll() is None:
            runner.kill()

    assert elapsed < 10, f"took {elapsed:.1f}s to stop"
    assert runner.returncode == 1
    assert "Traceback" not in out + err, out + err
    assert gone_soon(task_pid)
    assert "RESULT Failed Stopped: interrupted (SIGINT, Ctrl-C)" in out
    summary = json.loads((tmp_path / "runs" / "long-run" / "summary.json").read_text())
    assert (summary["phase"], summary["message"]) == ("Failed",
                                                      "Stopped: interrupted (SIGINT, Ctrl-C)")
    assert [(t["name"], t["phase"], t["message"]) for t in summary["tasks"]] == [
        ("long", "Failed", "Stopped: interrupted (SIGINT, Ctrl-C)")]
    assert (tmp_path / "runs" / "long-run" / "long.log").read_text() == "sleeping\n"


def test_a_run_that_cannot_use_containers_fails_without_traceback(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    env = {**os.environ, "PATH": str(bin_dir)}

    completed = subprocess.run(
        [sys.executable, "-c", RUNNER, str(WORKFLOWS / "mixed.yaml"), str(tmp_path / "runs")],
        capture_output=True, text=True, env=env, timeout=60)

    assert completed.returncode == 1
    assert "Traceback" not in completed.stdout + completed.stderr
    assert "x simulate: Error: not runnable here" in completed.stdout
    assert "RESULT Error simulate: not runnable here" in completed.stdout


NESTED = """
apiVersion: argoproj.io/v1alpha1
kind: Workflow
metadata:
  name: nested-stop
spec:
  entrypoint: main
  parallelism: 3
  arguments:
    parameters: [{name: pidfile}]
  templates:
    - name: main
      parallelism: 2
      steps:
        - - name: group
            template: inner
            withItems: [1, 2, 3, 4]
    - name: inner
      parallelism: 1
      dag:
        tasks:
          - {name: first, template: sleeper}
          - {name: second, template: sleeper}
          - {name: third, template: sleeper, depends: first}
    - name: sleeper
      script:
        image: python:3.11
        command: [python]
        source: |
          import os, time
          with open("{{workflow.parameters.pidfile}}", "a") as handle:
              handle.write(str(os.getpid()) + "\\n")
          time.sleep(120)
"""


def test_after_a_sigterm_no_task_is_left_running_in_the_summary(tmp_path):
    workflow = tmp_path / "nested.yaml"
    workflow.write_text(NESTED)
    pidfile = tmp_path / "task.pid"
    runner = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(workflow), str(tmp_path / "runs"), str(pidfile)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(pidfile, 30)
        time.sleep(0.3)  # let the other groups start and wait on their limits
        runner.send_signal(signal.SIGTERM)
        out, err = runner.communicate(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()

    assert "Traceback" not in out + err, out + err
    summary = json.loads((tmp_path / "runs" / "nested-stop" / "summary.json").read_text())
    unfinished = [(t["name"], t["phase"]) for t in summary["tasks"]
                  if t["phase"] in ("Running", "Pending")]
    assert unfinished == []
    for pid in pidfile.read_text().split():
        assert gone_soon(int(pid))
