"""Hera's "runner" scripts: `python -m hera.workflows.runner -e module:function`, locally."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
from localrun_helpers import phases

MODULE = '''
from typing import Annotated

from hera.workflows import DAG, Parameter, Workflow, script


@script(constructor="runner")
def add(a: int, b: int = 10) -> int:
    return a + b


@script(constructor="runner")
def describe(total: int) -> Annotated[str, Parameter(name="parity")]:
    return "even" if total % 2 == 0 else "odd"


def build() -> Workflow:
    with Workflow(generate_name="runner-", entrypoint="main") as workflow, DAG(name="main"):
        first = add(arguments={"a": 1})
        second = add(name="add-again", arguments={"a": first.result, "b": 5})
        parity = describe(arguments={"total": second.result})
        first >> second >> parity
    return workflow
'''


@pytest.fixture
def experiment_module(tmp_path: Path):
    """A module in the work directory, imported as a user's workflow module would be."""
    (tmp_path / "local_runner_experiment.py").write_text(MODULE)
    sys.path.insert(0, str(tmp_path))
    try:
        yield importlib.import_module("local_runner_experiment")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("local_runner_experiment", None)


def test_runner_scripts_import_the_function_from_the_work_directory(run, experiment_module):
    result = run(experiment_module.build(), parallelism=2)

    assert result.succeeded, result.message
    assert phases(result) == {"add": "Succeeded", "add-again": "Succeeded",
                              "describe": "Succeeded"}
    assert result.task("add").result == "11"
    assert result.task("add-again").result == "16"
    # An annotated output: Hera's runner writes it under hera__outputs_directory, which
    # each local attempt gets for itself.
    assert result.task("describe").parameters == {"parity": "even"}
