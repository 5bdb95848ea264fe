"""Artifacts in local runs: passed from task to task as Argo passes them, kept under
runs/<workflow>/artifacts/, and the same workflow accepted by the (emulated) Argo Server."""

from __future__ import annotations

import json
import os
import stat
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from hera.workflows import (
    DAG,
    Artifact,
    NoneArchiveStrategy,
    Parameter,
    RawArtifact,
    S3Artifact,
    Script,
    Steps,
    Workflow,
)

from hera_utils.errors import ConfigurationError

# A directory no test may create on this machine: artifact paths are the task's own.
HOST_ROOT = f"/tmp/hera-utils-artifacts-{uuid.uuid4().hex[:8]}"

PRODUCE = f"""import os
os.makedirs("{HOST_ROOT}/data")
for name in ("a", "b", "c"):
    with open("{HOST_ROOT}/data/" + name + ".txt", "w") as f:
        f.write(name * 3)
"""

# `{{inputs.parameters.letter}}` picks its part of the directory every consumer receives.
CONSUME = f"""import os
with open("{{{{inputs.artifacts.data.path}}}}/{{{{inputs.parameters.letter}}}}.txt") as f:
    text = f.read()
os.makedirs("{HOST_ROOT}/out")
with open("{HOST_ROOT}/out/part.txt", "w") as f:
    f.write(text.upper())
"""

COLLECT = f"""import os
folder = "{HOST_ROOT}/parts"
with open("{HOST_ROOT}/total.txt", "w") as f:
    for name in sorted(os.listdir(folder)):
        f.write(name + "=" + open(os.path.join(folder, name)).read() + "\\n")
"""


def _script(name: str, source: str, **fields: Any) -> Script:
    return Script(name=name, image="python:3.12", command=["python"], source=source, **fields)


def acceptance_workflow(**naming: str) -> Workflow:
    """A producer's directory to a loop of consumers, their outputs fanned into one task."""
    with Workflow(entrypoint="main", **(naming or {"generate_name": "artifacts-"})) as workflow:
        produce = _script("produce", PRODUCE, outputs=[
            Artifact(name="data", path=f"{HOST_ROOT}/data", archive=NoneArchiveStrategy())])
        consume = _script("consume", CONSUME, inputs=[
            Parameter(name="letter"), Artifact(name="data", path=f"{HOST_ROOT}/in")],
            outputs=[S3Artifact(  # key-only: the run's artifact repository keeps it
                name="part", path=f"{HOST_ROOT}/out/part.txt", archive=NoneArchiveStrategy(),
                key="{{workflow.name}}/parts/{{inputs.parameters.letter}}.txt")])
        collect = _script("collect", COLLECT, inputs=[
            S3Artifact(name="parts", path=f"{HOST_ROOT}/parts", key="{{workflow.name}}/parts")],
            outputs=[Artifact(name="total", path=f"{HOST_ROOT}/total.txt")])
        with DAG(name="main"):
            first = produce(name="produce")
            loop = consume(name="consume", with_items=["a", "b", "c"], arguments=[
                Parameter(name="letter", value="{{item}}"),
                Artifact(name="data", from_="{{tasks.produce.outputs.artifacts.data}}")])
            last = collect(name="collect")
            first >> loop >> last
    return workflow


def _manifest(workflow: Workflow) -> dict[str, Any]:
    return json.loads(json.dumps(workflow.to_dict()))


# ---------------------------------------------------------------------------- the DAG


def test_a_directory_goes_to_a_loop_of_consumers_and_their_outputs_into_one_task(run):
    result = run(acceptance_workflow())

    assert result.phase == "Succeeded", result.message
    total = result.task("collect").artifacts["total"]
    assert total.read_text() == "a.txt=AAA\nb.txt=BBB\nc.txt=CCC\n"
    assert total == result.run_dir / "artifacts" / "collect" / "total" / "total.txt"
    data = result.task("produce").artifacts["data"]
    assert sorted(p.name for p in data.iterdir()) == ["a.txt", "b.txt", "c.txt"]
    parts = result.run_dir / "artifacts" / "keys" / result.name / "parts"
    assert sorted(p.name for p in parts.iterdir()) == ["a.txt", "b.txt", "c.txt"]


def test_artifact_paths_stay_inside_the_run_directory(run):
    result = run(acceptance_workflow())

    assert result.succeeded, result.message
    assert not os.path.exists(HOST_ROOT)
    assert not (result.run_dir / "fs").exists() or not any((result.run_dir / "fs").iterdir())


def test_summary_lists_each_tasks_output_artifacts_with_their_paths(run):
    result = run(acceptance_workflow())

    summary = json.loads(result.summary_path.read_text())
    tasks = {task["name"]: task for task in summary["tasks"]}
    assert tasks["produce"]["outputs"]["artifacts"] == [
        {"name": "data", "path": "artifacts/produce/data"}]
    assert tasks["consume(1:b)"]["outputs"]["artifacts"] == [
        {"name": "part", "path": f"artifacts/keys/{result.name}/parts/b.txt"}]
    assert (result.run_dir / tasks["collect"]["outputs"]["artifacts"][0]["path"]).is_file()


def test_the_same_workflow_renders_and_validates_against_the_argo_schema():
    from hera_utils.testing._workflow_validation import workflow_problem

    manifest = _manifest(acceptance_workflow())

    assert workflow_problem(manifest, lambda name: None) is None
    consume = next(t for t in manifest["spec"]["templates"] if t["name"] == "consume")
    assert consume["outputs"]["artifacts"][0]["s3"] == {
        "key": "{{workflow.name}}/parts/{{inputs.parameters.letter}}.txt"}


def test_the_same_workflow_is_accepted_by_the_argo_server(emulated_env):
    from hera_utils.argo import ArgoServer
    from hera_utils.settings import parse_arguments
    from hera_utils.submission import submit_workflow

    argo = ArgoServer.from_settings(None, parse_arguments([]))
    name = submit_workflow(argo.workflows_service(), acceptance_workflow(), argo.namespace,
                           timeout=5)

    stored = emulated_env.argo.read_workflow(argo.namespace, name)
    tasks = stored["spec"]["templates"][-1]["dag"]["tasks"]
    assert tasks[1]["arguments"]["artifacts"] == [
        {"name": "data", "from": "{{tasks.produce.outputs.artifacts.data}}"}]


# ---------------------------------------------------------------------------- sources


def _writer(name: str, path: str, text: str, inputs: list[Any] | None = None,
            **artifact: Any) -> Script:
    source = (f"import os\nos.makedirs(os.path.dirname('{path}'), exist_ok=True)\n"
              f"open('{path}', 'w').write('{text}')\n")
    return _script(name, source, inputs=inputs or [],
                   outputs=[Artifact(name="out", path=path, **artifact)])


def _reader(name: str, inputs: list[Artifact], out: str = "/tmp/read.txt") -> Script:
    lines = ["import os", "def show(p):",
             "    if not os.path.exists(p): return 'missing'",
             "    return open(p).read() if os.path.isfile(p) else ','.join(sorted(os.listdir(p)))",
             f"with open('{out}', 'w') as f:"]
    lines += [f"    f.write('{a.name}=' + show('{a.path}') + ';')" for a in inputs]
    return _script(name, "\n".join(lines) + "\n", inputs=inputs,
                   outputs=[Artifact(name="read", path=out)])


def _read(result: Any, task: str) -> str:
    return result.task(task).artifacts["read"].read_text()


def test_a_task_takes_artifacts_from_several_tasks(run):
    with Workflow(name="fan-in", entrypoint="main") as workflow:
        left = _writer("left", "/tmp/x/left.txt", "L")
        right = _writer("right", "/tmp/y/right.txt", "R")
        merge = _reader("merge", [Artifact(name="a", path="/tmp/a.txt"),
                                  Artifact(name="b", path="/tmp/b.txt")])
        with DAG(name="main"):
            one, two = left(name="one"), right(name="two")
            both = merge(name="both", arguments=[
                Artifact(name="a", from_="{{tasks.one.outputs.artifacts.out}}"),
                Artifact(name="b", from_="{{tasks.two.outputs.artifacts.out}}")])
            [one, two] >> both

    result = run(workflow)

    assert result.succeeded, result.message
    assert _read(result, "both") == "a=L;b=R;"


def test_steps_pass_artifacts_and_a_step_template_publishes_one(run):
    with Workflow(name="steps-art", entrypoint="main") as workflow:
        write = _writer("write", "/tmp/w/message.txt", "hello")
        read = _reader("read", [Artifact(name="m", path="/tmp/m.txt")])
        with Steps(name="main", outputs=[Artifact(
                name="final", from_="{{steps.second.outputs.artifacts.read}}")]):
            write(name="first")
            read(name="second", arguments=[
                Artifact(name="m", from_="{{steps.first.outputs.artifacts.out}}")])

    result = run(workflow)

    assert result.succeeded, result.message
    assert _read(result, "second") == "m=hello;"


def test_raw_data_optional_and_missing_inputs(run):
    with Workflow(name="sources", entrypoint="main") as workflow:
        reader = _reader("reader", [
            RawArtifact(name="raw", path="/tmp/raw.txt", data="raw text"),
            Artifact(name="maybe", path="/tmp/maybe.txt", optional=True)])
        with DAG(name="main"):
            reader(name="read")

    result = run(workflow)

    assert result.succeeded, result.message
    assert _read(result, "read") == "raw=raw text;maybe=missing;"


def test_a_missing_input_artifact_errors_the_task(run):
    with Workflow(name="missing-in", entrypoint="main") as workflow:
        reader = _reader("reader", [Artifact(name="needed", path="/tmp/needed.txt")])
        with DAG(name="main"):
            reader(name="read")

    result = run(workflow)

    assert result.task("read").phase == "Error"
    assert "inputs.artifacts.needed was not supplied" in result.task("read").message


def test_a_missing_output_artifact_errors_the_task_unless_optional(run):
    with Workflow(name="missing-out", entrypoint="main") as workflow:
        silent = _script("silent", "print('nothing written')\n", outputs=[
            Artifact(name="kept", path="/tmp/none.txt", optional=True)])
        forgetful = _script("forgetful", "print('nothing written')\n", outputs=[
            Artifact(name="lost", path="/tmp/none.txt")])
        with DAG(name="main"):
            silent(name="silent")
            forgetful(name="forgetful")

    result = run(workflow)

    assert result.task("silent").phase == "Succeeded"
    assert result.task("silent").artifacts == {}
    assert result.task("forgetful").phase == "Error"
    assert "output artifact lost: /tmp/none.txt: no such file" in result.task("forgetful").message


def test_a_loops_artifacts_cannot_be_named_and_the_message_says_what_to_do(run):
    with Workflow(name="loop-ref", entrypoint="main") as workflow:
        write = _writer("write", "/tmp/w/{{inputs.parameters.n}}.txt", "x",
                        inputs=[Parameter(name="n")])
        read = _reader("read", [Artifact(name="all", path="/tmp/all")])
        with DAG(name="main"):
            many = write(name="many", with_items=[1, 2], arguments={"n": "{{item}}"})
            one = read(name="one", arguments=[
                Artifact(name="all", from_="{{tasks.many.outputs.artifacts.out}}")])
            many >> one

    result = run(workflow)

    message = result.task("one").message
    assert result.task("one").phase == "Error"
    assert "failed to resolve {{tasks.many.outputs.artifacts.out}}" in message
    assert "s3: {key: ...}" in message


def test_mode_is_applied_to_an_input_artifact(run):
    with Workflow(name="mode", entrypoint="main") as workflow:
        check = _script("check", "import os, stat\n"
                        "print(oct(stat.S_IMODE(os.stat('/tmp/tool.sh').st_mode)))\n",
                        inputs=[RawArtifact(name="tool", path="/tmp/tool.sh", data="echo hi",
                                            mode=0o755)])
        with DAG(name="main"):
            check(name="check")

    result = run(workflow)

    assert result.succeeded, result.message
    assert result.task("check").result == "0o755"


def test_workflow_argument_artifacts_from_raw_data_and_a_local_file(run, tmp_path):
    given = tmp_path / "given.txt"
    given.write_text("from this machine")
    with Workflow(name="wf-args", entrypoint="main",
                  arguments=[RawArtifact(name="inline", data="inline data"),
                             Artifact(name="local")]) as workflow:
        reader = _reader("reader", [Artifact(name="inline", path="/tmp/inline.txt"),
                                    Artifact(name="local", path="/tmp/local.txt")])
        with DAG(name="main", inputs=[Artifact(name="inline"), Artifact(name="local")]):
            reader(name="read", arguments=[
                Artifact(name="inline", from_="{{inputs.artifacts.inline}}"),
                Artifact(name="local", from_="{{inputs.artifacts.local}}")])

    result = run(workflow, artifacts={"local": given})

    assert result.succeeded, result.message
    assert _read(result, "read") == "inline=inline data;local=from this machine;"


def test_a_workflow_artifact_given_as_a_missing_file_is_a_configuration_error(run, tmp_path):
    with pytest.raises(ConfigurationError) as caught:
        run(acceptance_workflow(), artifacts={"data": tmp_path / "absent"})

    assert caught.value.setting == "artifacts"
    assert "absent does not exist" in caught.value.message


def test_global_artifacts_are_published(run):
    with Workflow(name="globals", entrypoint="main") as workflow:
        write = _writer("write", "/tmp/g/out.txt", "shared", global_name="shared")
        read = _reader("read", [Artifact(name="g", path="/tmp/g.txt")])
        with Steps(name="main"):
            write(name="write")
            read(name="read", arguments=[
                Artifact(name="g", from_="{{workflow.outputs.artifacts.shared}}")])

    result = run(workflow)

    assert result.succeeded, result.message
    assert _read(result, "read") == "g=shared;"


def test_a_literal_path_in_a_script_is_the_tasks_own_but_a_longer_path_is_not(run):
    source = ("open('/tmp/ownpath', 'w').write('mine')\n"
              "print('/tmp/ownpath')\nprint('/tmp/ownpath-not')\n")
    with Workflow(name="literal", entrypoint="main") as workflow:
        task = _script("task", source, outputs=[Artifact(name="own", path="/tmp/ownpath")])
        with DAG(name="main"):
            task(name="task")

    result = run(workflow)

    assert result.succeeded, result.message
    own, other = result.task("task").result.splitlines()
    assert own == str(result.run_dir / "fs" / "task" / "tmp" / "ownpath")
    assert other == "/tmp/ownpath-not"
    assert result.task("task").artifacts["own"].read_text() == "mine"
    assert not os.path.exists("/tmp/ownpath")


# ---------------------------------------------------------------------------- refusals


def _workflow_with(artifact: dict[str, Any], section: str = "inputs",
                   spec: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": "refused"},
            "spec": {"entrypoint": "t", **(spec or {}), "templates": [{
                "name": "t", section: {"artifacts": [artifact]},
                "script": {"image": "python", "command": ["python"], "source": "print(1)"}}]}}


@pytest.mark.parametrize(("artifact", "section", "said"), [
    ({"name": "a", "path": "/tmp/a", "s3": {"bucket": "b", "key": "k", "endpoint": "s3:9000"}},
     "inputs", "input artifact 'a' comes from s3"),
    ({"name": "a", "path": "/tmp/a", "http": {"url": "https://example.org/a"}},
     "inputs", "input artifact 'a' is fetched over http"),
    ({"name": "a", "path": "/tmp/a", "git": {"repo": "https://example.org/r.git"}},
     "inputs", "input artifact 'a' comes from git"),
    ({"name": "a", "path": "/tmp/a", "gcs": {"bucket": "b", "key": "k"}},
     "outputs", "output artifact 'a' is stored in gcs"),
    ({"name": "a", "path": "/tmp/a", "artifactGC": {"strategy": "OnWorkflowDeletion"}},
     "outputs", "output artifact 'a' uses artifactGC"),
    ({"name": "a"}, "inputs", "input artifact 'a' has no path"),
])
def test_what_a_machine_cannot_do_is_refused_before_anything_runs(run, artifact, section, said):
    with pytest.raises(ConfigurationError) as caught:
        run(_workflow_with(artifact, section))

    assert f"template 't': {said}" in caught.value.message
    assert not Path("runs/refused").exists()


def test_an_artifact_repository_ref_is_refused_naming_the_local_repository(run):
    workflow = _workflow_with({"name": "a", "path": "/tmp/a"}, "outputs",
                              spec={"artifactRepositoryRef": {"key": "my-repo"}})

    with pytest.raises(ConfigurationError) as caught:
        run(workflow)

    assert "spec.artifactRepositoryRef" in caught.value.message
    assert "runs/<workflow>/artifacts/" in caught.value.message


# ---------------------------------------------------------------------------- containers

FAKE_DOCKER = f"""#!{sys.executable}
import json, os, sys
with open(os.environ["FAKE_DOCKER_CALLS"], "a") as calls:
    calls.write(json.dumps(sys.argv[1:]) + "\\n")
if sys.argv[1] == "cp":
    os.makedirs(sys.argv[3])
    open(os.path.join(sys.argv[3], "made.txt"), "w").write("by the container")
sys.exit(0)
"""


def test_a_container_gets_its_input_artifacts_mounted_and_its_outputs_copied_out(
        run, tmp_path, monkeypatch):
    docker = tmp_path / "bin" / "docker"
    docker.parent.mkdir()
    docker.write_text(FAKE_DOCKER)
    docker.chmod(docker.stat().st_mode | stat.S_IXUSR)
    calls = tmp_path / "calls.jsonl"
    monkeypatch.setenv("FAKE_DOCKER_CALLS", str(calls))
    monkeypatch.setenv("PATH", f"{docker.parent}{os.pathsep}{os.environ['PATH']}")
    workflow = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                "metadata": {"name": "boxed"}, "spec": {"entrypoint": "t", "templates": [{
                    "name": "t",
                    "inputs": {"artifacts": [{"name": "in", "path": "/data/in.txt",
                                              "raw": {"data": "given"}}]},
                    "outputs": {"artifacts": [{"name": "out", "path": "/data/out"}]},
                    "container": {"image": "busybox", "command": ["true"]}}]}}

    result = run(workflow, container_runtime=str(docker))

    assert result.succeeded, result.message
    lines = [json.loads(line) for line in calls.read_text().splitlines()]
    started = next(line for line in lines if line[0] == "run")
    mounts = [started[i + 1] for i, word in enumerate(started) if word == "-v"]
    assert any(m.startswith(f"{result.run_dir}/fs/") and m.endswith("/data/in.txt:/data/in.txt")
               for m in mounts), mounts
    copied = [line[1] for line in lines if line[0] == "cp"]
    assert len(copied) == 1 and copied[0].endswith(":/data/out")
    stored = result.task("boxed").artifacts["out"]
    assert (stored / "made.txt").read_text() == "by the container"


def test_a_stubbed_containers_output_artifacts_are_empty_placeholders(run):
    workflow = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                "metadata": {"name": "stubbed"}, "spec": {"entrypoint": "main", "templates": [
                    {"name": "main", "steps": [
                        [{"name": "make", "template": "make"}],
                        [{"name": "use", "template": "use", "arguments": {"artifacts": [
                            {"name": "in", "subPath": "part.txt",
                             "from": "{{workflow.outputs.artifacts.made}}"}]}}]]},
                    {"name": "make", "container": {"image": "busybox", "command": ["true"]},
                     "outputs": {"artifacts": [{"name": "dir", "path": "/out",
                                                "globalName": "made"}]}},
                    {"name": "use", "container": {"image": "busybox", "command": ["true"]},
                     "inputs": {"artifacts": [{"name": "in", "path": "/in.txt"}]}}]}}

    result = run(workflow, stub_containers=True)

    assert result.succeeded, result.message
    placeholder = result.task("make").artifacts["dir"]
    assert placeholder.is_file() and placeholder.read_bytes() == b""


def test_a_hera_runner_script_with_artifacts_is_refused_saying_why(run):
    workflow = _workflow_with({"name": "text", "path": "/tmp/hera-outputs/artifacts/text"},
                              "outputs")
    workflow["spec"]["templates"][0]["script"]["args"] = [
        "-m", "hera.workflows.runner", "-e", "flow:make"]

    with pytest.raises(ConfigurationError) as caught:
        run(workflow)

    assert "template 't' is a Hera runner script" in caught.value.message
    assert "inline script" in caught.value.message


def test_a_manifest_cannot_name_a_file_of_this_machine_as_a_source(run, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for tasks")
    workflow = _workflow_with({"name": "a", "path": "/tmp/a", "localSource": str(secret)})

    result = run(workflow)

    assert result.phase == "Error"
    assert "inputs.artifacts.a was not supplied" in result.message


def _script_template(name: str, source: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "script": {"image": "python", "command": ["python"],
                                     "source": source}, **fields}


@pytest.mark.parametrize("pick", ["heads", "tails"])
def test_a_steps_output_artifact_from_an_expression_takes_the_branch_that_ran(run, pick):
    def side(name: str) -> dict[str, Any]:
        return _script_template(
            name, f"open('/tmp/result.txt', 'w').write('it was {name}')\n",
            outputs={"artifacts": [{"name": "out", "path": "/tmp/result.txt"}]})

    expression = ("steps['flip'].outputs.result == 'heads' ? "
                  "steps.heads.outputs.artifacts.out : steps.tails.outputs.artifacts.out")
    workflow = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                "metadata": {"name": "coin"}, "spec": {"entrypoint": "outer", "templates": [
                    {"name": "outer", "steps": [
                        [{"name": "coin", "template": "main"}],
                        [{"name": "read", "template": "read", "arguments": {"artifacts": [
                            {"name": "r", "from": "{{steps.coin.outputs.artifacts.result}}"}]}}]]},
                    {"name": "main", "steps": [
                        [{"name": "flip", "template": "flip"}],
                        [{"name": "heads", "template": "heads",
                          "when": "{{steps.flip.outputs.result}} == heads"},
                         {"name": "tails", "template": "tails",
                          "when": "{{steps.flip.outputs.result}} == tails"}]],
                     "outputs": {"artifacts": [{"name": "result",
                                                "fromExpression": expression}]}},
                    _script_template("flip", f"print('{pick}')\n"), side("heads"), side("tails"),
                    _script_template("read", "print(open('/tmp/r.txt').read())\n",
                                     inputs={"artifacts": [{"name": "r", "path": "/tmp/r.txt"}]}),
                ]}}

    result = run(workflow)

    assert result.succeeded, result.message
    assert result.task("read").result == f"it was {pick}"


def test_a_retried_task_gives_the_artifacts_of_its_last_attempt(run, tmp_path):
    marker = tmp_path / "tried-once"
    source = (f"import os\nopen('/tmp/out.txt', 'w').write('attempt')\n"
              f"if not os.path.exists({str(marker)!r}):\n"
              f"    open({str(marker)!r}, 'w').close()\n    raise SystemExit(1)\n")
    with Workflow(name="retried", entrypoint="main") as workflow:
        flaky = _script("flaky", source, retry_strategy={"limit": 2},
                        outputs=[Artifact(name="out", path="/tmp/out.txt")])
        read = _reader("read", [Artifact(name="o", path="/tmp/o.txt")])
        with DAG(name="main"):
            first = flaky(name="flaky")
            second = read(name="read", arguments=[
                Artifact(name="o", from_="{{tasks.flaky.outputs.artifacts.out}}")])
            first >> second

    result = run(workflow)

    assert result.succeeded, result.message
    assert result.task("flaky").attempts == 2
    assert result.task("flaky").artifacts["out"].parent.parent.name == "flaky.attempt-2"
    assert _read(result, "read") == "o=attempt;"


def test_a_key_leaving_the_repository_errors_the_task(run):
    workflow = _workflow_with({"name": "a", "path": "/tmp/a", "s3": {"key": "../../../etc"}})

    result = run(workflow)

    assert result.phase == "Error"
    assert "leaves the artifact repository" in result.message


def test_a_new_run_of_the_same_name_starts_with_an_empty_repository(run):
    first = run(acceptance_workflow(name="again"))
    stale = first.run_dir / "artifacts" / "stale.txt"
    stale.write_text("left over")

    second = run(acceptance_workflow(name="again"))

    assert second.succeeded, second.message
    assert second.run_dir == first.run_dir
    assert not stale.exists()
