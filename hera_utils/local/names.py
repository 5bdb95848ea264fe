"""The names a workflow gives its templates, tasks, steps, parameters and artifacts.

They become file and directory names of the run (logs, outputs), so they are held to
Argo's own rules before anything runs: a parameter or artifact name is made of letters,
digits, `_` and `-` (Argo's `paramOrArtifactNameRegex`), and no name carries a control
character or runs past what a file name can hold.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["name_problems", "node_name_problem", "shown_name"]

_PARAMETER_NAME = re.compile(r"^[-a-zA-Z0-9_]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Argo's limit for the names of templates, tasks and steps.
_MAX_FIELD_NAME = 128


def name_problems(template: Mapping[str, Any], where: str) -> list[str]:
    """The problems of the names one template declares (itself, its inputs and outputs)."""
    problems = []
    problem = node_name_problem(template.get("name"))
    if problem:
        problems.append(f"{where}: template name {problem}")
    for section in ("inputs", "outputs"):
        for kind in ("parameters", "artifacts"):
            for item in (template.get(section) or {}).get(kind) or []:
                name = str(item.get("name", "")) if isinstance(item, Mapping) else ""
                if not _PARAMETER_NAME.match(name):
                    problems.append(
                        f"{where}: {section} {kind[:-1]} name {_shown(name)} must consist of "
                        "letters, digits, '_' or '-'")
    for call in _calls(template):
        problem = node_name_problem(call.get("name"))
        if problem:
            problems.append(f"{where}: task or step name {problem}")
    return problems


def node_name_problem(name: Any) -> str:
    """What is wrong with a template, task or step name ('' when nothing is)."""
    if name is None:
        return ""
    text = str(name)
    if _CONTROL.search(text):
        return f"{_shown(text)} holds a control character"
    if len(text) > _MAX_FIELD_NAME:
        return f"{_shown(text)} is longer than {_MAX_FIELD_NAME} characters"
    return ""


def shown_name(name: Any) -> str:
    """A name quoted for a message: control characters escaped, long names shortened."""
    return _shown(str(name))


def _calls(template: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    dag = template.get("dag")
    if isinstance(dag, Mapping):
        yield from (task for task in dag.get("tasks") or [] if isinstance(task, Mapping))
    for group in template.get("steps") or []:
        yield from (step for step in group or [] if isinstance(step, Mapping))


def _shown(name: str) -> str:
    text = name if len(name) <= 60 else name[:57] + "..."
    if _CONTROL.search(text) or "'" in text:
        return repr(text)
    return f"'{text}'"
