"""The `{{=...}}` expression language, modelled on expr-lang/expr as Argo uses it."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest

from hera_utils.local.expr_lang import ExprError, evaluate, render
from hera_utils.local.go_values import go_float_text, go_json

CONFIG = json.dumps({"employees": [{"name": "Baris", "age": 43}, {"name": "Mo", "age": 42},
                                   {"name": "Jai", "age": 44}]})
ENV: dict[str, Any] = {
    "inputs": {"parameters": {"foo": "3", "should-print": "true", "list": '["a","b"]',
                              "ratio": "2.5"}},
    "workflow": {"parameters": {"json": '[{"value": "true"}]', "config": CONFIG, "data": ""},
                 "status": "Failed"},
    "tasks": {"producer": {"status": "Skipped"}, "flip": {"outputs": {"result": "heads"}}},
    "item": {"name": "first", "type": ""},
}


def value(text: str, env: dict[str, Any] | None = None) -> Any:
    return evaluate(text, ENV if env is None else env)


def shown(text: str) -> str:
    return render(value(text))


@pytest.mark.parametrize(("text", "expected"), [
    ("7 + 2", 9), ("7 - 9", -2), ("3 * 4", 12), ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9),
    ("7 % 3", 1), ("-7 % 3", -1), ("7 % -3", 1),  # Go's % keeps the dividend's sign
    ("-2 ** 2", -4.0), ("2 ^ 3 ^ 2", 512.0),  # power binds tighter than unary minus, right
    ("1.5 + 1", 2.5), ("0x10 + 1_000", 1016),
])
def test_arithmetic_keeps_integers_except_division_and_power(text: str, expected: Any) -> None:
    result = value(text)
    assert result == expected and type(result) is type(expected)


def test_division_always_gives_a_float() -> None:
    assert value("10 / 5") == 2.0 and isinstance(value("10 / 5"), float)
    assert shown("10 / 5") == "2" and shown("1 / 4") == "0.25"
    assert shown("1 / 0") == "+Inf"


def test_integer_remainder_by_zero_and_of_floats_are_errors() -> None:
    with pytest.raises(ExprError, match="integer divide by zero"):
        value("5 % 0")
    with pytest.raises(ExprError, match="mismatched types float64 and int"):
        value("5.5 % 2")


@pytest.mark.parametrize(("text", "expected"), [
    ("1 == 1.0", True), ("'1' == 1", False), ("nil == nil", True), ("nil == ''", False),
    ("'abc' < 'abd'", True), ("'b' > 'abc'", True), ("2 >= 2.0", True),
    ("[1, 2] == [1, 2.0]", True), ("true != false", True),
    ("'x' in ['x', 'y']", True), ("'k' in {k: 1}", True), ("3 not in [1, 2]", True),
    ("'report.txt' endsWith '.txt'", True), ("'abc' startsWith 'ab'", True),
    ("'abc' contains 'bc'", True), ("'a1' matches '^[a-z][0-9]$'", True),
])
def test_comparisons_follow_expr(text: str, expected: bool) -> None:
    assert value(text) is expected


def test_ordering_of_mismatched_types_is_an_error() -> None:
    with pytest.raises(ExprError, match=r"invalid operation: < \(mismatched types string and int"):
        value("'a' < 1")
    with pytest.raises(ExprError, match="mismatched types string and int"):
        value("'a' + 1")


def test_logic_takes_booleans_only_and_short_circuits() -> None:
    assert value("true || undefined_name") is True
    assert value("false and undefined_name") is False
    assert value("not (1 > 2) && !false") is True
    with pytest.raises(ExprError, match="and needs a bool, got int"):
        value("1 and true")
    with pytest.raises(ExprError, match=r"\?: needs a bool, got string"):
        value("'yes' ? 1 : 2")


def test_ternary_nests_to_the_right() -> None:
    text = "asInt(inputs.parameters.foo) == 1 ? 'one' : asInt(inputs.parameters.foo) == 3 " \
           "? 'three' : 'other'"
    assert value(text) == "three"
    assert value("workflow.status == 'Succeeded' ? 'Succeeded' : 'Failed'") == "Failed"


def test_member_and_index_access() -> None:
    assert value("inputs.parameters['should-print'] == 'true'") is True
    assert value('inputs.parameters["foo"]') == "3"
    assert value("tasks.flip.outputs.result") == "heads"
    assert value("[10, 20, 30][-1]") == 30 and value("[10, 20, 30][1:]") == [20, 30]
    assert value("'hello'[1:3]") == "el"
    assert value("{a: {b: 2}}.a.b") == 2


def test_a_missing_key_is_nil_and_nil_coalescing_covers_a_missing_path() -> None:
    assert value("inputs.parameters.absent") is None
    assert value("tasks.producer.outputs.parameters.msg ?? 'fallback'") == "fallback"
    assert value("inputs.parameters.foo ?? 'unused'") == "3"
    assert value("inputs.parameters?.absent?.deeper") is None
    with pytest.raises(ExprError, match="cannot fetch parameters from nil"):
        value("tasks.producer.outputs.parameters")
    with pytest.raises(ExprError, match="index out of range: 5"):
        value("[1][5]")


def test_unknown_names_are_errors_naming_them() -> None:
    with pytest.raises(ExprError, match=r"unknown name nope \(in 'nope \+ 1'\)"):
        value("nope + 1")


def test_argo_conversions_and_string() -> None:
    assert value("asInt(inputs.parameters.foo) * 10") == 30
    assert value("asFloat(inputs.parameters.ratio) * 2") == 5.0
    assert value("int('42') + float('0.5')") == 42.5
    assert value("string(1 / 2) + '!'") == "0.5!"
    with pytest.raises(ExprError, match="asInt: cannot read 'x' as a number"):
        value("asInt('x')")


def test_jsonpath_as_argo_reads_it() -> None:
    assert value("jsonpath(workflow.parameters.json, '$[0].value') == 'true'") is True
    config = "workflow.parameters.config"
    assert shown(f"jsonpath({config}, '$.employees[?(@.name==\"Baris\")].age')") == "[43]"
    assert shown(f"jsonpath({config}, '$.employees[?(@.age>42 && @.age<44)].age')") == "[43]"
    assert shown(f"jsonpath({config}, '$.employees[*].name')") == "[Baris Mo Jai]"
    # the Go library includes both ends of a range
    assert shown(f"jsonpath({config}, '$.employees[0:1]')") == \
        "[map[age:43 name:Baris] map[age:42 name:Mo]]"
    assert value(f"jsonpath({config}, '$.employees[2].age')") == 44.0
    with pytest.raises(ExprError, match="key error: nobody not found"):
        value(f"jsonpath({config}, '$.nobody')")
    with pytest.raises(ExprError, match="invalid JSON"):
        value("jsonpath('not json', '$.a')")


def test_predicates_filter_map_and_friends() -> None:
    assert value("toJson(filter([1, 3], {# > 1}))") == "[3]"
    assert value("map([1, 2], {# * 10})") == [10, 20]
    assert value("all([2, 4], {# % 2 == 0}) && any([1, 2], {# == 2})") is True
    assert value("none([1], {# > 5}) && one([1, 2], {# > 1})") is True
    assert value("count([1, 2, 3], {# >= 2})") == 2
    assert value("find([{n: 1}, {n: 2}], {.n == 2}).n") == 2
    assert value("filter(['a.log', 'b.txt'], {# endsWith '.txt'})") == ["b.txt"]
    with pytest.raises(ExprError, match="predicate of filter must be a bool"):
        value("filter([1], {# + 1})")


def test_pipes_and_builtins_of_the_e2e_tests() -> None:
    assert value("inputs.parameters.list | fromJSON() | join('\",\"')") == 'a","b'
    assert value("get(item, 'type') ?? 'always'") == ""
    assert value("get(item, 'missing') ?? 'always'") == "always"
    assert value("concat(['always'], true ? ['test'] : []) | toJSON()") == \
        '[\n  "always",\n  "test"\n]'
    assert value("len('héllo') + len([1]) + len({a: 1})") == 7
    assert value("upper('a') + lower('B') + trim('  c ')") == "Abc"
    assert value("split('a,b', ',')") == ["a", "b"]


def test_sprig_functions_used_by_argo_examples() -> None:
    encoded = base64.b64encode(b'{"temps": [34, 27, 15, 57, 46]}').decode()
    env = {"weather": encoded}
    text = """map([jsonpath(sprig.b64dec(weather), '$.temps')], {
        toJson({avg: sprig.add(#[0], #[1], #[2], #[3], #[4]) / 5,
                min: sprig.min(#[0], #[1], #[2], #[3], #[4]),
                max: sprig.max(#[0], #[1], #[2], #[3], #[4])})
    })[0]"""
    assert value(text, env) == '{"avg":35.8,"max":57,"min":15}'
    assert value('sprig.replace("bar", "baz", "foobar")', env) == "foobaz"
    assert value("sprig.upper('x') + sprig.trim(' y ')", env) == "Xy"
    assert value("sprig.date('2006', 'a timestamp as text')", env) == time.strftime("%Y")


def test_time_functions_are_refused_with_the_alternative() -> None:
    with pytest.raises(ExprError, match=r"now\(\) works on Go time values.*as a parameter"):
        value("now()")


@pytest.mark.parametrize(("result", "text"), [
    (30, "30"), (2.0, "2"), (0.5, "0.5"), (1e6, "1e+06"), (123456.0, "123456"),
    (1234567.0, "1.234567e+06"), (0.0001, "0.0001"), (0.00001, "1e-05"), (True, "true"),
    (None, "<nil>"), ("text", "text"), ([1, "a", 2.5], "[1 a 2.5]"),
    ({"b": 1, "a": [True]}, "map[a:[true] b:1]"),
])
def test_results_are_printed_as_go_prints_them(result: Any, text: str) -> None:
    assert render(result) == text


def test_to_json_writes_go_json() -> None:
    assert go_json({"b": 2.0, "a": "<&>"}) == '{"a":"\\u003c\\u0026\\u003e","b":2}'
    assert go_json(1e21) == "1e+21" and go_json(1e20) == "100000000000000000000"
    assert go_json([]) == "[]" and go_json({}, indent="  ") == "{}"
    assert go_float_text(-0.0) == "-0"


@pytest.mark.parametrize("text", [
    "1 +", "(1", "[1, 2", "{a 1}", "a ? b", "", "1 @ 2", "foo(", "x | 1",
])
def test_malformed_expressions_are_refused_naming_them(text: str) -> None:
    with pytest.raises(ExprError) as caught:
        value(text)
    assert str(caught.value)
    if text.strip():
        assert text in str(caught.value)


def test_no_python_evaluation_reaches_the_machine() -> None:
    for text in ("__import__('os').system('true')", "().__class__", "open('/etc/passwd')"):
        with pytest.raises(ExprError):
            value(text)
