"""One parameter resolver for the workflow's arguments and every template's inputs.

Argo's rule (`ProcessArgs`, `SubstituteParams`): the value the caller supplies wins, else
the parameter's own `value`, else its `default`; a parameter left without one is an error,
and a value outside the parameter's `enum` is refused. Values are strings, printed from
YAML/JSON scalars as Argo prints them (`values.format_value`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .values import format_value

__all__ = ["ParameterProblem", "resolve_parameters"]


class ParameterProblem(ValueError):
    """A declared parameter without a value (`missing`) or outside its enum (`not_in_enum`)."""

    def __init__(self, parameter: Mapping[str, Any], *, value: str | None = None) -> None:
        self.parameter = parameter
        self.name = str(parameter.get("name"))
        self.value = value
        self.missing = value is None
        super().__init__(f"parameter {self.name!r}: " + (
            "no value" if value is None else f"{value!r} is not in {parameter.get('enum')}"))


def resolve_parameters(declared: Iterable[Mapping[str, Any]],
                       supplied: Mapping[str, Any]) -> dict[str, str]:
    """Name -> value of each declared parameter; raises `ParameterProblem` for the first bad one."""
    values: dict[str, str] = {}
    for parameter in declared:
        name = parameter["name"]
        if name in supplied:
            value: Any = supplied[name]
        elif "value" in parameter:
            value = parameter["value"]
        elif "default" in parameter:
            value = parameter["default"]
        else:
            raise ParameterProblem(parameter)
        text = format_value(value)
        enum = parameter.get("enum")
        if enum and text not in [format_value(choice) for choice in enum]:
            raise ParameterProblem(parameter, value=text)
        values[name] = text
    return values


def hook_arguments(workflow_arguments: Mapping[str, str],
                   hook_parameters: Iterable[Mapping[str, Any]],
                   lookup: Any) -> dict[str, str]:
    """The arguments of a lifecycle hook: the workflow's, and over them the hook's own,
    resolved when the hook runs (they may quote `workflow.status`, `workflow.failures`)."""
    from .templating import UnresolvedTagError, substitute

    arguments = dict(workflow_arguments)
    for parameter in hook_parameters:
        value = str(parameter.get("value", ""))
        try:
            arguments[str(parameter["name"])] = str(substitute(value, lookup))
        except (UnresolvedTagError, ValueError):
            arguments[str(parameter["name"])] = value
    return arguments
