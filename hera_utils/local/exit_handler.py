"""The workflow's end (the controller's `exit_handler.go`): its hooks, then its exit handler.

The workflow's lifecycle hooks (`spec.hooks` other than `exit`) are evaluated when the run
starts, with `workflow.status` Running, and once more when the entrypoint has ended, with
its final status; the workflow ends once the hooks started have ended (hooks.go,
`executeWfLifeCycleHook`). Then the exit handler (`onExit` or `hooks.exit`) runs, seeing
`workflow.status` and `workflow.failures` (docs/variables.md, "Exit Handler").
"""

from __future__ import annotations

import json

from .context import Operator
from .hooks import HookSet, hooks_of
from .nodes import ERROR, FAILED, FAILED_OR_ERROR, SUCCEEDED, timestamp
from .parameters import hook_arguments

__all__ = ["finish_workflow_hooks", "run_exit_handler", "workflow_hooks"]


def workflow_hooks(op: Operator) -> HookSet:
    """The workflow's lifecycle hooks (its exit hook is the exit handler, not one of them)."""
    return HookSet(op, hooks_of(op.model.spec), node_name=op.name, display=op.name,
                   scope=op.model.scope, boundary=None, lookup=op.lookup({}),
                   with_exit=False)


async def finish_workflow_hooks(op: Operator, hooks: HookSet, phase: str, message: str
                                ) -> tuple[str, str]:
    """Evaluate the workflow's hooks with its final `phase`, wait for those started; return
    the workflow's (phase, message).

    A hook whose expression cannot be evaluated errs the workflow (hooks.go marks the
    workflow's node in Error); one that runs and fails does not change its phase.
    """
    if op.stop_message:
        await hooks.cancel()
        return phase, message
    op.global_scope["workflow.status"] = phase
    finishing = await op.stoppable(hooks.finish({"workflow.status": phase}))
    if finishing.cancelled():  # stopped (Ctrl-C, deadline) while the hooks ran
        await hooks.cancel()
        return FAILED, op.stop_message
    if hooks.problem:
        if op.root is not None:
            op.root.finish(ERROR, hooks.problem)
        return ERROR, hooks.problem
    return phase, message


async def run_exit_handler(op: Operator, phase: str, message: str) -> tuple[str, str]:
    """Run the exit handler; return the workflow's (phase, message).

    If it fails after a successful run, the workflow fails (the controller's operate():
    "the exit node was unsuccessful").
    """
    failures = [
        {"displayName": node.display_name, "message": node.message,
         "templateName": node.template_name or "", "phase": node.phase,
         "podName": op.pod_name(node),
         "finishedAt": timestamp(node.finished_at) if node.finished_at else ""}
        for node in op.nodes if node.phase in FAILED_OR_ERROR and node.attempt_of is None
    ]
    op.global_scope["workflow.status"] = phase
    op.global_scope["workflow.failures"] = json.dumps(failures, separators=(",", ":"))
    arguments = hook_arguments(op.model.parameters, op.model.exit_arguments, op.lookup({}))
    handler = await op.stoppable(op.run_root(f"{op.name}.onExit", op.model.on_exit or "",
                                             arguments))
    if handler.cancelled():
        return FAILED, op.stop_message or "exit handler stopped"
    exit_node = handler.result()
    if phase == SUCCEEDED and exit_node.failed_or_error:
        return exit_node.phase, exit_node.message or "the exit handler failed"
    return phase, message
