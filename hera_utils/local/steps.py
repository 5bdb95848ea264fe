"""Steps templates (the controller's `steps.go`): groups run one after the other.

The steps of a group run side by side under a StepGroup node `<steps>[<index>]`; a group
fails when one of its steps fails (unless the step's `continueOn` allows it), and the
steps template with it. A step sees the `steps.*` variables of the earlier groups.
"""

from __future__ import annotations

import asyncio
from typing import Any

from .calls import continues_on, run_call_or_loop
from .concurrency import FAIL_FAST_MESSAGE, Slots, gather, semaphore_of
from .context import Operator
from .model import TemplateScope
from .nodes import FAILED, SUCCEEDED, Node, NodeType
from .scope import add_step_variables
from .templating import substitute

__all__ = ["run_steps"]


async def run_steps(op: Operator, node: Node, body: dict[str, Any],
                    scope: TemplateScope) -> None:
    """Run a steps template's groups as node `node`, then set its phase and outputs."""
    limit = semaphore_of(body.get("parallelism"), fail_fast=body.get("failFast"))
    node.start()
    # The `steps.*` variables grow group by group: a step sees the groups before its own.
    variables: dict[str, str] = {}
    group_node: Node | None = None
    try:
        for index, group in enumerate(body.get("steps") or []):
            group_node = op.new_node(f"{node.name}[{index}]", f"[{index}]",
                                     NodeType.STEP_GROUP, None, node)
            group_node.start()
            outcomes = await gather([
                _run_step(op, group_node, step, variables, scope, node, limit)
                for step in group or []])
            failures = []
            for step, outcome in zip(group or [], outcomes, strict=True):
                add_step_variables(variables, step["name"], outcome)
                for child in outcome if isinstance(outcome, list) else [outcome]:
                    if child.failed_or_error and not continues_on(step, child.phase):
                        failures.append(child)
            if failures:
                message = f"child '{failures[0].display_name}' {failures[0].phase.lower()}"
                if limit is not None and limit.halted:
                    message = FAIL_FAST_MESSAGE  # Argo's words, in the run's message too
                    op.run_notes.append(message)
                group_node.finish(FAILED, message)
                node.finish(FAILED, message)
                await op.daemons.stop(node)
                return
            group_node.finish(SUCCEEDED)
    except asyncio.CancelledError:
        await op.daemons.stop(node)
        if group_node is not None:
            op.stopped(group_node)
        op.stopped(node)
        raise
    op.group_succeeded(node, body, variables)
    # As the controller, once the steps' phase is set: its daemons are stopped and succeed.
    await op.daemons.stop(node)


async def _run_step(op: Operator, group_node: Node, step: dict[str, Any],
                    variables: dict[str, str], scope: TemplateScope, steps_node: Node,
                    limit: Slots | None) -> Node | list[Node]:
    lookup = op.lookup(variables)
    call = substitute(step, lookup)
    return await run_call_or_loop(op, f"{group_node.name}.{step['name']}", step["name"], call,
                                  scope, steps_node, limit, group_type=None, outer=lookup)
