"""Call expansion: a DAG task or a step becomes nodes (loops, `when`, arguments).

A call with a loop (`withItems`, `withParam`, `withSequence`) runs once per item: in a DAG
under a TaskGroup node, in steps as a list of nodes. Each call is checked against its
`when` condition, and its arguments are resolved before the template runs
(`executeTemplate` with the call's arguments).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from .concurrency import FAIL_FAST_MESSAGE, Slots, gather, limited
from .context import Operator
from .expressions import ExpressionError, evaluate_when
from .hooks import HookSet, hooks_of, run_hooked
from .loops import Item, LoopError, expand_loop, has_loop
from .model import TemplateScope
from .nodes import ERROR, FAILED, SKIPPED, Node, group_phase
from .templating import UnresolvedTagError, substitute
from .values import format_value

__all__ = ["continues_on", "run_call_or_loop"]

_LOOP_FIELDS = ("withItems", "withParam", "withSequence")


async def run_call_or_loop(op: Operator, node_name: str, display: str, call: dict[str, Any],
                           scope: TemplateScope, boundary: Node,
                           limit: Slots | None, *,
                           group_type: str | None,
                           outer: Callable[[str], str | None] | None = None
                           ) -> Node | list[Node]:
    """Run a task or step, expanding its loop: a DAG gets a `group_type` node, steps a list.

    `outer` gives the caller's variables to a `{{=...}}` tag that also reads `item`.
    """
    template = _template_name(call)
    # A hook's expression names the call as `tasks.<name>` in a DAG, `steps.<name>` in steps.
    prefix = ("tasks." if group_type is not None else "steps.") + str(call.get("name"))
    if not has_loop(call):
        return await _run_call(op, node_name, display, call, scope, boundary, limit, None,
                               outer, prefix)
    try:
        items = expand_loop(call)
    except LoopError as error:
        return op.error_node(node_name, display, template, boundary, str(error))
    if not items:
        return op.skipped_node(node_name, display, template, boundary, SKIPPED,
                               "Skipped, empty params")
    group = None
    if group_type is not None:
        group = op.new_node(node_name, display, group_type, template, boundary)
        group.start()
    try:
        children = await gather([
            _run_call(op, node_name + item.node_suffix(), display + item.node_suffix(),
                      call, scope, boundary, limit, item, outer, prefix) for item in items])
    except asyncio.CancelledError:
        if group is not None:
            op.stopped(group)
        raise
    if group is None:
        return children
    group.children = list(children)
    group.finish(group_phase(children))  # Argo's task group: a failed child's phase
    return group


def _template_name(call: dict[str, Any]) -> str | None:
    return call.get("template") or (call.get("templateRef") or {}).get("template")


async def _run_call(op: Operator, node_name: str, display: str, call: dict[str, Any],
                    scope: TemplateScope, boundary: Node, limit: Slots | None,
                    item: Item | None, outer: Callable[[str], str | None] | None = None,
                    prefix: str = "") -> Node:
    template = _template_name(call)
    try:
        if item is not None:
            loop_free = {k: v for k, v in call.items() if k not in _LOOP_FIELDS}
            variables = item.variables
            lookup = variables.get if outer is None else (
                lambda tag: variables.get(tag) if tag in variables else outer(tag))
            call = substitute(loop_free, lookup, strict=True, strict_prefixes=("item",))
        skip = _when_says_skip(call)
    except (UnresolvedTagError, ExpressionError) as error:
        return op.error_node(node_name, display, template, boundary, str(error))
    if skip:
        return op.skipped_node(node_name, display, template, boundary, SKIPPED, skip)
    parameters = (call.get("arguments") or {}).get("parameters") or []
    arguments = {p["name"]: format_value(p["value"]) for p in parameters if "value" in p}
    try:
        substitute(arguments, {}, strict=True)
    except UnresolvedTagError as error:
        return op.error_node(node_name, display, template, boundary, str(error))
    async with limited(limit):
        if isinstance(limit, Slots) and limit.halted:
            return op.skipped_node(node_name, display, template, boundary, SKIPPED,
                                   f"not started: {FAIL_FAST_MESSAGE}")
        hooks = hooks_of(call)
        if hooks:
            # An expanded call runs its hooks once per item (docs/lifecyclehook.md).
            hook_set = HookSet(op, hooks, node_name=node_name, display=display, scope=scope,
                               boundary=boundary, lookup=outer or op.lookup({}))
            node = await run_hooked(op, hook_set, node_name, prefix, lambda: op.execute(
                node_name, display, call, scope, arguments, boundary))
        else:
            node = await op.execute(node_name, display, call, scope, arguments, boundary)
    if isinstance(limit, Slots) and limit.fail_fast and node.failed_or_error \
            and not continues_on(call, node.phase):
        limit.halted = True
    return node


def _when_says_skip(call: dict[str, Any]) -> str:
    """'' if the call runs, else why it is skipped; raises for an invalid `when`."""
    when = call.get("when")
    if not when:
        return ""
    try:
        substitute(str(when), {}, strict=True)
        go = evaluate_when(str(when))
    except (UnresolvedTagError, ExpressionError) as error:
        raise ExpressionError(f"invalid 'when' expression: {error}") from None
    return "" if go else f"when '{when}' evaluated false"


def continues_on(call: Mapping[str, Any], phase: str) -> bool:
    """Whether a task's or step's `continueOn` lets its `phase` not fail the caller."""
    settings = call.get("continueOn") or {}
    return bool((phase == FAILED and settings.get("failed"))
                or (phase == ERROR and settings.get("error")))
