"""`{{=expression}}` tags, evaluated over the run's variables as Argo's controller does.

Argo (`util/template/expression_template.go`) evaluates the tag with expr-lang over the
variables of the substitution, expanded into nested maps (`inputs.parameters.x` is
`inputs["parameters"]["x"]`), and writes the result JSON-encoded (a string without its
quotes). Where unresolved tags are allowed, an expression that fails or gives nil is left
as it is, for a later pass; where they are not, it is an error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .expr_lang import ExprError, evaluate
from .go_values import go_json

# The variables' first names (Argo's variable namespaces); anything else is a function.
_ROOTS = frozenset({
    "inputs", "outputs", "steps", "tasks", "workflow", "item", "pod", "retries", "node",
    "lastRetry", "status", "cronworkflow", "exitCode",
})

_GROUPS = frozenset({"parameters", "artifacts"})

Lookup = Callable[[str], "str | None"]


class UnresolvedTagError(ValueError):
    """A `{{tag}}` that names a value of the run which does not exist (yet)."""

    def __init__(self, tag: str) -> None:
        super().__init__(f"failed to resolve {{{{{tag}}}}}")
        self.tag = tag


class ExpressionTagError(UnresolvedTagError):
    """A `{{=...}}` tag whose expression fails on values that all exist."""

    def __init__(self, expression: str, message: str) -> None:
        ValueError.__init__(self, message)
        self.tag = f"={expression}"


class Variables(dict):  # type: ignore[type-arg]  # a map, as the evaluator fetches from
    """The run's variables under `prefix`, as the nested maps an expression reads.

    Looked up as they are read (the run's lookup is a function, not a table); a name that
    is no variable is a deeper map, recorded in `missing` until something is read below it.
    """

    def __init__(self, lookup: Lookup, prefix: str = "", missing: set[str] | None = None
                 ) -> None:
        super().__init__()
        self._lookup, self._prefix = lookup, prefix
        self._missing = missing if missing is not None else set()

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        return bool(self._prefix) or key in _ROOTS or self._lookup(key) is not None

    def __getitem__(self, key: str) -> Any:
        path = f"{self._prefix}.{key}" if self._prefix else key
        self._missing.discard(self._prefix)
        # `inputs.parameters` (and the like) is also a JSON listing of its members; read in
        # an expression, it is the map of its members.
        value = None if key in _GROUPS else self._lookup(path)
        if value is not None:
            return value
        self._missing.add(path)
        return Variables(self._lookup, path, self._missing)

    def get(self, key: Any, default: Any = None) -> Any:
        return self[key] if isinstance(key, str) else default

    def __iter__(self) -> Iterator[str]:
        return iter(())  # not enumerable: only what is named is looked up

    def __len__(self) -> int:
        return 0

    def defaulted(self) -> None:
        """`??` took its default: this variable's having no value is no longer a miss."""
        self._missing.discard(self._prefix)

    @property
    def path(self) -> str:
        """The variable name this map stands for ('' at the top)."""
        return self._prefix


def evaluate_tag(expression: str, lookup: Lookup, *, strict: bool,
                 is_strict: Callable[[str], bool]) -> str | None:
    """The text that replaces `{{=expression}}`, or None to leave the tag as it is.

    With `strict`, a missing variable that `is_strict` (names something of the run) raises
    `UnresolvedTagError`, and a failing expression `ExpressionTagError`.
    """
    missing: set[str] = set()
    try:
        result = evaluate(expression, Variables(lookup, "", missing))
        failure = None
    except ExprError as error:
        result, failure = None, error
    if isinstance(result, Variables):
        missing.add(result.path)
        result = None
    if failure is None and result is not None and not missing:
        return as_text(result)
    if not strict:
        return None
    if any(is_strict(path) for path in missing):
        raise UnresolvedTagError(f"={expression.strip()}")
    if missing:
        return None
    raise ExpressionTagError(
        expression.strip(),
        f"failed to evaluate expression '{expression.strip()}': "
        + (str(failure) if failure is not None else "the result is nil")
    )


def evaluate_value(expression: str, lookup: Lookup) -> str:
    """A `valueFrom.expression`'s value as text; `ExprError` when it fails or names a
    variable that has no value."""
    missing: set[str] = set()
    result = evaluate(expression, Variables(lookup, "", missing))
    if isinstance(result, Variables):
        missing.add(result.path)
    if missing or result is None:
        named = ", ".join(sorted(missing)) or "nil"
        raise ExprError(f"'{expression.strip()}' has no value ({named})")
    return as_text(result)


def as_text(result: Any) -> str:
    """An expression's result as Argo substitutes it: json.Marshal, a string unquoted."""
    if isinstance(result, str):
        return result
    return go_json(result)
