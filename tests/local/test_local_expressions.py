"""`when` and `depends` expressions, `{{...}}` substitution and loop expansion."""

from __future__ import annotations

import pytest

from hera_utils.local.expressions import (
    ExpressionError,
    TaskResults,
    dependencies_as_depends,
    evaluate_when,
    parse_depends,
)
from hera_utils.local.loops import LoopError, expand_loop
from hera_utils.local.templating import UnresolvedTagError, substitute

# -------------------------------------------------------------------------- when


@pytest.mark.parametrize(("text", "expected"), [
    ("heads == heads", True),
    ("heads == tails", False),
    ("heads != tails", True),
    ("'a b' == 'a b'", True),
    ('"x" == x', True),
    ("5 > 3", True),
    ("5 < 3", False),
    ("2.5 >= 2.5", True),
    ("10 <= 9", False),
    ("1 == 1.0", True),
    ("1 == '1'", False),  # govaluate compares without coercion
    ("abc < abd", True),
    ("true", True),
    ("false || true", True),
    ("true && false", False),
    ("!false", True),
    ("(1 > 2 || 3 > 2) && !(a == b)", True),
    ("2 + 3 == 5", True),
    ("10 % 4 == 2", True),
    ("-1 < 0", True),
    ("Succeeded =~ '^Succ'", True),
    ("Failed !~ '^Succ'", True),
    ("[with space] == 'with space'", True),
    ("", True),
])
def test_when_expressions_evaluate_as_govaluate_does(text, expected):
    assert evaluate_when(text) is expected


@pytest.mark.parametrize(("text", "fragment"), [
    ("heads", "expected a boolean"),
    ("1 +", "unexpected end of expression"),
    ("(true", "missing ')'"),
    ("a < 1", "compares two numbers or two strings"),
    ("1 && true", "needs booleans"),
    ("{{tasks.a.outputs.result}} == 1", "invalid token"),
    ("1 / 0 == 1", "division by zero"),
])
def test_malformed_when_expressions_raise(text, fragment):
    with pytest.raises(ExpressionError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        evaluate_when(text)


def test_when_never_evaluates_python():
    with pytest.raises(ExpressionError):
        evaluate_when("__import__('os').system('true') == 0")


# -------------------------------------------------------------------------- depends


def _results(**phases: str) -> dict[str, TaskResults]:
    return {name: TaskResults(succeeded=p == "Succeeded", failed=p == "Failed",
                              errored=p == "Error", skipped=p == "Skipped",
                              omitted=p == "Omitted") for name, p in phases.items()}


def test_a_bare_task_name_means_succeeded_or_skipped():
    expression = parse_depends("A")

    assert expression.evaluate(_results(A="Succeeded"))
    assert expression.evaluate(_results(A="Skipped"))
    assert not expression.evaluate(_results(A="Failed"))
    assert not expression.evaluate(_results(A="Omitted"))


def test_depends_combines_results_with_and_or_not_and_parentheses():
    expression = parse_depends("(task-2.Succeeded || task-2.Skipped) && !task-3.Failed")

    assert expression.tasks == ["task-2", "task-3"]
    assert expression.evaluate(_results(**{"task-2": "Skipped", "task-3": "Succeeded"}))
    assert not expression.evaluate(_results(**{"task-2": "Succeeded", "task-3": "Failed"}))


def test_depends_accepts_expr_lang_words():
    assert parse_depends("A.Failed or not B").evaluate(_results(A="Succeeded", B="Failed"))


def test_any_succeeded_and_all_failed_read_loop_results():
    expression = parse_depends("A.AnySucceeded && B.AllFailed")

    assert expression.evaluate({"A": TaskResults(failed=True, any_succeeded=True),
                                "B": TaskResults(failed=True, all_failed=True)})
    assert not expression.evaluate({"A": TaskResults(failed=True),
                                    "B": TaskResults(failed=True, all_failed=True)})


def test_depends_knows_which_failures_it_handles():
    expression = parse_depends("A.Failed || B || !C.Succeeded")

    assert expression.names_failure_of("A") and expression.names_failure_of("C")
    assert not expression.names_failure_of("B")


def test_dependencies_become_depends_with_continue_on():
    text = dependencies_as_depends(["A", "B"], {"A": {"failed": True}})

    assert text == ("(A.Succeeded || A.Skipped || A.Daemoned || A.Failed) && "
                    "(B.Succeeded || B.Skipped || B.Daemoned)")
    assert parse_depends(text).evaluate(_results(A="Failed", B="Succeeded"))


@pytest.mark.parametrize("text", ["A &&", "A.Unknown", "(A", "A B", "&& A"])
def test_malformed_depends_raise(text):
    with pytest.raises(ExpressionError):
        parse_depends(text)


# -------------------------------------------------------------------------- substitution


def test_substitution_replaces_tags_in_every_string():
    template = {"args": ["{{inputs.parameters.x}}", "{{ inputs.parameters.y }}!"],
                "n": 3, "nested": {"v": "a-{{workflow.name}}"}}
    values = {"inputs.parameters.x": "1", "inputs.parameters.y": "2", "workflow.name": "wf"}

    assert substitute(template, values) == {"args": ["1", "2!"], "n": 3, "nested": {"v": "a-wf"}}


def test_unknown_tags_stay_and_known_ones_must_resolve_when_strict():
    assert substitute("{{unknown.thing}} {{pod.nothing}}", {}, strict=True) == \
        "{{unknown.thing}} {{pod.nothing}}"
    with pytest.raises(UnresolvedTagError, match=r"failed to resolve \{\{tasks.a.outputs"):
        substitute("{{tasks.a.outputs.result}}", {}, strict=True)
    assert substitute("{{tasks.a.outputs.result}}", {}) == "{{tasks.a.outputs.result}}"


def test_substitution_does_not_rescan_inserted_values():
    assert substitute("{{inputs.parameters.x}}", {"inputs.parameters.x": "{{item}}"},
                      strict=True) == "{{item}}"


# -------------------------------------------------------------------------- loops


def test_items_of_every_json_type_are_named_as_argo_names_them():
    items = expand_loop({"withItems": ["paris", 7, 2.5, True, {"b": 1, "a": "x"}, [1, 2]]})

    assert [item.node_suffix() for item in items] == [
        "(0:paris)", "(1:7)", "(2:2.5)", "(3:true)", "(4:a:x,b:1)", "(5:[1,2])"]
    assert items[4].variables == {"item": '{"a":"x","b":1}', "item.b": "1", "item.a": "x"}


def test_with_param_needs_a_json_list():
    assert [i.value for i in expand_loop({"withParam": '["a", {"k": 1}]'})] == ["a", {"k": 1}]
    with pytest.raises(LoopError, match="could not be parsed as a JSON list"):
        expand_loop({"withParam": "not json"})
    with pytest.raises(LoopError, match="is not a JSON list"):
        expand_loop({"withParam": '{"a": 1}'})


@pytest.mark.parametrize(("sequence", "values"), [
    ({"count": "3"}, ["0", "1", "2"]),
    ({"start": "5", "count": "2"}, ["5", "6"]),
    ({"start": "3", "end": "1"}, ["3", "2", "1"]),
    ({"start": "1", "end": "3", "format": "file-%03d.csv"}, ["file-001.csv", "file-002.csv",
                                                             "file-003.csv"]),
    ({"count": "0"}, []),
])
def test_with_sequence_counts_as_argo_does(sequence, values):
    assert [item.value for item in expand_loop({"withSequence": sequence})] == values


def test_with_sequence_rejects_end_and_count_together():
    with pytest.raises(LoopError, match="either end or count"):
        expand_loop({"withSequence": {"count": "2", "end": "3"}})
