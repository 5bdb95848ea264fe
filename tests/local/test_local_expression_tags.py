"""`{{=expression}}` tags in local runs, evaluated over the run's variables as Argo does."""

from __future__ import annotations

import functools

from localrun_helpers import script, workflow

wf = functools.partial(workflow, "exprs")


ECHO = script("echo", "print('{{inputs.parameters.x}}')",
              inputs={"parameters": [{"name": "x"}]})


def task(name: str, value: str, **extra) -> dict:
    return {"name": name, "template": "echo",
            "arguments": {"parameters": [{"name": "x", "value": value}]}, **extra}


def test_expressions_read_parameters_task_results_and_items(run) -> None:
    dag = {"name": "main", "inputs": {"parameters": [{"name": "n", "value": "4"}]}, "dag": {
        "tasks": [
            {"name": "seven", "template": "seven"},
            task("double", "{{=asInt(tasks.seven.outputs.result) * 2}}", depends="seven"),
            task("upper", "{{=sprig.upper(inputs.parameters.n + 'x')}}"),
            task("each", "{{=asInt(item) + asInt(tasks.seven.outputs.result)}}",
                 withItems=[1, 2], depends="seven"),
            task("json", "{{=toJson({'n': asInt(inputs.parameters.n)})}}"),
        ]}}
    result = run(wf([dag, ECHO, script("seven", "print(7)")]))
    assert result.succeeded, result.message
    assert result.task("double").result == "14"
    assert result.task("upper").result == "4X"
    assert sorted(result.task(f"each({i}:{i + 1})").result for i in (0, 1)) == ["8", "9"]
    assert result.task("json").result == '{"n":4}'


def test_an_expression_in_when_decides_whether_a_task_runs(run) -> None:
    dag = {"name": "main", "dag": {"tasks": [
        {"name": "seven", "template": "seven"},
        task("big", "yes", depends="seven",
             when="{{=asInt(tasks.seven.outputs.result) > 5}}"),
        task("small", "no", depends="seven",
             when="{{=asInt(tasks.seven.outputs.result) < 5}}"),
    ]}}
    result = run(wf([dag, ECHO, script("seven", "print(7)")]))
    assert result.succeeded, result.message
    assert result.task("big").phase == "Succeeded"
    assert result.task("small").phase == "Skipped"


def test_a_failing_expression_ends_its_task_in_error_with_argos_words(run) -> None:
    dag = {"name": "main", "dag": {"tasks": [task("bad", "{{=asInt('seven')}}")]}}
    result = run(wf([dag, ECHO]))
    assert result.phase in ("Failed", "Error")
    assert "failed to evaluate expression 'asInt('seven')'" in result.task("bad").message


def test_an_expression_naming_an_unknown_task_output_does_not_resolve(run) -> None:
    dag = {"name": "main", "dag": {"tasks": [
        task("a", "1"), task("b", "{{=tasks.nope.outputs.result}}", depends="a")]}}
    result = run(wf([dag, ECHO]))
    assert result.phase in ("Failed", "Error")
    assert "failed to resolve {{=tasks.nope.outputs.result}}" in result.task("b").message


def test_an_output_parameter_from_an_expression_picks_the_branch_that_ran(run) -> None:
    # dag-conditional-parameters.yaml, with the coin fixed.
    dag = {"name": "coin", "dag": {"tasks": [
        {"name": "flip-coin", "template": "tails"},
        {"name": "heads", "template": "heads", "depends": "flip-coin",
         "when": "{{tasks.flip-coin.outputs.result}} == heads"},
        {"name": "tails", "template": "tails", "depends": "flip-coin",
         "when": "{{tasks.flip-coin.outputs.result}} == tails"}]},
        "outputs": {"parameters": [{"name": "stepresult", "valueFrom": {"expression": (
            "tasks['flip-coin'].outputs.result == 'heads' ? tasks.heads.outputs.result"
            " : tasks.tails.outputs.result")}}]}}
    main = {"name": "main", "steps": [[{"name": "coin", "template": "coin"}], [
        {"name": "show", "template": "echo", "arguments": {"parameters": [
            {"name": "x", "value": "{{steps.coin.outputs.parameters.stepresult}}"}]}}]]}
    result = run(wf([main, dag, ECHO, script("heads", "print('heads')"),
                     script("tails", "print('tails')")]))
    assert result.succeeded, result.message
    assert result.task("show").result == "tails"


def test_a_missing_value_takes_the_default_of_the_nil_coalescing_operator(run) -> None:
    # skipped-output-defaults/expression-fallback.yaml: `??` over an absent output.
    dag = {"name": "coin", "dag": {"tasks": [
        {"name": "producer", "template": "echo", "when": "false == true",
         "arguments": {"parameters": [{"name": "x", "value": "1"}]}}]},
        "outputs": {"parameters": [{"name": "result", "valueFrom": {
            "expression": "tasks.producer.outputs.result ?? 'fallback'"}}]}}
    main = {"name": "main", "steps": [[{"name": "coin", "template": "coin"}], [
        {"name": "show", "template": "echo", "arguments": {"parameters": [
            {"name": "x", "value": "{{steps.coin.outputs.parameters.result}}"}]}}]]}
    result = run(wf([main, dag, ECHO]))
    assert result.succeeded, result.message
    assert result.task("show").result == "fallback"
