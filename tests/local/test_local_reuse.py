"""`run_locally(reuse=RUN_DIR)` (`main.py local --retry RUN_DIR`): the tasks that succeeded
in the earlier run keep their outputs and are not run again, as `argo retry` keeps them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hera_utils.errors import ConfigurationError

# One line appended per run of a task (appends are atomic: tasks run at once).
# Kept in the test's directory (a task's working directory is its own, as a pod's is).
COUNT = ("import sys\nwith open({directory!r} + '/{name}.count', 'a') as f:\n"
         "    f.write('ran\\n')\n")


def workflow(directory: Path) -> dict:
    """prepare -> [train(x=1), train(x=2)] -> report; train fails while `broken` exists."""
    def script(name: str, body: str, inputs: list[str] = ()) -> dict:
        source = COUNT.format(name=name, directory=str(directory)) + body
        template = {"name": name, "script": {"image": "python:3.12", "command": ["python"],
                                             "source": source}}
        if inputs:
            template["inputs"] = {"parameters": [{"name": i} for i in inputs]}
        return template

    return {
        "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
        "metadata": {"generateName": "sweep-"},
        "spec": {"entrypoint": "main", "templates": [
            {"name": "main", "dag": {"tasks": [
                {"name": "prepare", "template": "prepare"},
                {"name": "train", "template": "train", "depends": "prepare",
                 "arguments": {"parameters": [
                     {"name": "x", "value": "{{item}}"},
                     {"name": "seed", "value": "{{tasks.prepare.outputs.result}}"}]},
                 "withItems": [1, 2]},
                {"name": "report", "template": "report", "depends": "train"},
            ]}},
            script("prepare", "print(42)"),
            script("train", "import os\n"
                   f"if os.path.exists({str(directory / 'broken')!r})"
                   " and '{{inputs.parameters.x}}' == '2':\n"
                   "    sys.exit('no data for 2')\n"
                   "print('{{inputs.parameters.seed}}-{{inputs.parameters.x}}')",
                   ["x", "seed"]),
            script("report", "print('done')"),
        ]},
    }


def counts(tmp_path: Path) -> dict[str, int]:
    return {p.stem: len(p.read_text().splitlines()) for p in tmp_path.glob("*.count")}


def test_a_retried_run_reruns_only_what_did_not_succeed(run, tmp_path) -> None:
    (tmp_path / "broken").touch()
    first = run(workflow(tmp_path))
    assert not first.succeeded
    assert counts(tmp_path) == {"prepare": 1, "train": 2}
    (tmp_path / "broken").unlink()

    second = run(workflow(tmp_path), reuse=first.run_dir)

    assert second.succeeded, second.message
    assert counts(tmp_path) == {"prepare": 1, "train": 3, "report": 1}
    assert second.task("prepare").result == "42"  # its output, as recorded, fed train
    assert second.task("train(1:2)").result == "42-2"
    summary = json.loads(second.summary_path.read_text())
    reused = sorted(t["name"] for t in summary["tasks"] if t.get("reused"))
    assert reused == ["prepare", "train(0:1)"]
    assert "not run again" in second.task("prepare").log.read_text()


def test_a_task_whose_inputs_changed_runs_again(run, tmp_path) -> None:
    (tmp_path / "broken").touch()
    first = run(workflow(tmp_path))
    changed = workflow(tmp_path)
    arguments = changed["spec"]["templates"][0]["dag"]["tasks"][1]["arguments"]
    arguments["parameters"][1]["value"] = "{{tasks.prepare.outputs.result}}0"
    (tmp_path / "broken").unlink()
    second = run(changed, reuse=first.run_dir)
    assert second.succeeded
    # train(0:1) has the node path of the one that succeeded, not its inputs: it runs.
    assert counts(tmp_path) == {"prepare": 1, "train": 2 + 2, "report": 1}
    assert second.task("train(0:1)").result == "420-1"


def test_reusing_a_directory_without_a_summary_is_refused_before_running(run, tmp_path) -> None:
    with pytest.raises(ConfigurationError, match=r"its summary\.json cannot be read"):
        run(workflow(tmp_path), reuse=tmp_path / "nowhere")
    assert counts(tmp_path) == {}
