"""Lifecycle hooks and exit handlers (the controller's `hooks.go` and `exit_handler.go`).

A task's or step's `hooks` (and the workflow's `spec.hooks`) run a template when their
`expression` holds, at most once each: the expression is evaluated when the node starts
running and again when it ends (Argo evaluates it at every pass of the controller; a
local run knows no other moments at which a node's status changes). Expressions are
expr-lang's, over the caller's variables plus the node's own (`tasks.A.status`,
`steps["A"].status`, `workflow.status`). A hook named `exit`, or a task's `onExit`, is
its exit handler: it runs once the node and its started hooks have ended, and sees the
node's outputs. What depends on the node waits for all of its hooks.

Hook nodes are named as Argo names them, `<node>.hooks.<name>` and `<node>.onExit`. A
hook that runs and fails does not change its node's phase or its scope's: Argo's
`assessDAGPhase` reads the target tasks and a step group its steps, not their hooks. A
hook whose expression is missing or cannot be evaluated is an error (hooks.go) that ends
the hook's node and the node it hooks into in Error. Argo's later docs also fail the DAG
or steps for a hook node that itself ends in Error; the v4.1 controller's hooks.go, which
is followed here, returns an error for the expression only.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any

from .context import Operator
from .expr_lang import ExprError, evaluate
from .expr_tags import Variables
from .model import TemplateScope
from .nodes import ERROR, Node
from .scope import node_variables
from .templating import UnresolvedTagError, substitute
from .values import format_value

__all__ = ["EXIT_HOOK", "HookSet", "hook_templates", "hooks_of", "run_hooked"]

EXIT_HOOK = "exit"

Lookup = Callable[[str], "str | None"]


def hooks_of(holder: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The hooks of a task, step or workflow spec; `onExit` is the older `hooks.exit`."""
    hooks = {str(name): hook for name, hook in (holder.get("hooks") or {}).items()
             if isinstance(hook, dict)}
    if holder.get("onExit") and EXIT_HOOK not in hooks:
        hooks[EXIT_HOOK] = {"template": holder["onExit"]}
    return hooks


def hook_templates(holder: Mapping[str, Any]) -> list[dict[str, Any]]:
    """What each hook of `holder` calls (`template` or `templateRef`), for validation."""
    return [_reference(hook) for hook in hooks_of(holder).values()]


def _reference(hook: Mapping[str, Any]) -> dict[str, Any]:
    return {key: hook[key] for key in ("template", "templateRef", "inline") if key in hook}


class HookSet:
    """The hooks of one node: each starts at most once, the exit hook last."""

    def __init__(self, op: Operator, hooks: Mapping[str, dict[str, Any]], *, node_name: str,
                 display: str, scope: TemplateScope, boundary: Node | None,
                 lookup: Lookup, with_exit: bool = True) -> None:
        self.op = op
        self.hooks = {name: hook for name, hook in hooks.items()
                      if with_exit or name != EXIT_HOOK}
        self.node_name = node_name
        self.display = display
        self.scope = scope
        self.boundary = boundary
        self.lookup = lookup
        self.started: dict[str, asyncio.Future[Node]] = {}
        self.problem = ""  # why a hook could not be evaluated: its node ends in Error

    def evaluate(self, variables: Mapping[str, str]) -> None:
        """Start each lifecycle hook not started yet whose expression holds now."""
        for name, hook in self.hooks.items():
            if name == EXIT_HOOK or name in self.started:
                continue
            hook_node = f"{self.node_name}.hooks.{name}"
            expression = str(hook.get("expression") or "").strip()
            if not expression:
                self._error(name, hook, f"Expression required for hook {hook_node}")
                continue
            try:
                holds = evaluate(expression, Variables(self._with(variables)))
                if not isinstance(holds, bool):  # Argo's argoexpr.EvalBool refuses it too
                    raise ExprError(f"it gives {holds!r}, not a boolean")
            except ExprError as error:
                self._error(name, hook, f"hook {hook_node}: expression '{expression}' "
                                        f"failed: {error}")
                continue
            if holds is True:
                self.started[name] = asyncio.ensure_future(
                    self._run(hook_node, f"{self.display}.hooks.{name}", hook, variables))

    async def finish(self, variables: Mapping[str, str]) -> None:
        """Evaluate the hooks once more (the node has ended), wait for those started,
        then run the exit hook."""
        self.evaluate(variables)
        try:
            if self.started:
                await asyncio.wait(set(self.started.values()))
            exit_hook = self.hooks.get(EXIT_HOOK)
            if exit_hook is not None:
                self.started[EXIT_HOOK] = asyncio.ensure_future(self._run(
                    f"{self.node_name}.onExit", f"{self.display}.onExit", exit_hook,
                    variables))
                await asyncio.wait({self.started[EXIT_HOOK]})
        except asyncio.CancelledError:
            await self.cancel()
            raise

    async def cancel(self) -> None:
        """Stop the hooks still running (the run is being stopped)."""
        running = [future for future in self.started.values() if not future.done()]
        for future in running:
            future.cancel()
        if running:
            await asyncio.wait(running)

    def _with(self, variables: Mapping[str, str]) -> Lookup:
        def find(tag: str) -> str | None:
            value = variables.get(tag)
            return value if value is not None else self.lookup(tag)
        return find

    def _error(self, name: str, hook: Mapping[str, Any], message: str) -> None:
        # As hooks.go's errorHookNode: the hook gets a node of its own, in Error.
        template = hook.get("template") or (hook.get("templateRef") or {}).get("template")
        future: asyncio.Future[Node] = asyncio.get_running_loop().create_future()
        future.set_result(self.op.error_node(f"{self.node_name}.hooks.{name}",
                                             f"{self.display}.hooks.{name}", template,
                                             self.boundary, message))
        self.started[name] = future
        self.problem = self.problem or message

    async def _run(self, node_name: str, display: str, hook: Mapping[str, Any],
                   variables: Mapping[str, str]) -> Node:
        # A hook's arguments may name the node's own outputs (exit_handler.go,
        # resolveExitTmplArgument): they are resolved now, with the node's variables.
        arguments: dict[str, str] = {}
        lookup = self._with(variables)
        given = hook.get("arguments") or {}
        holder = _reference(hook)
        try:
            for parameter in given.get("parameters") or []:
                if isinstance(parameter, dict) and "value" in parameter:
                    arguments[str(parameter["name"])] = str(substitute(
                        format_value(parameter["value"]), lookup, strict=True))
            if given.get("artifacts"):
                holder["arguments"] = {"artifacts": substitute(given["artifacts"], lookup,
                                                               strict=True)}
        except UnresolvedTagError as error:
            template = hook.get("template")
            return self.op.error_node(node_name, display, template, self.boundary, str(error))
        return await self.op.execute(node_name, display, holder, self.scope, arguments,
                                     self.boundary)


async def run_hooked(op: Operator, hooks: HookSet, node_name: str, prefix: str,
                     run: Callable[[], Any]) -> Node:
    """Run a task or step (`run()` executes it) with its hooks; return its node.

    `prefix` names the node in expressions (`tasks.A`, `steps.A`).
    """
    def running(node: Node) -> None:
        hooks.evaluate(node_variables(prefix, node))

    op.watch_start(node_name, running)
    try:
        node: Node = await run()
    except asyncio.CancelledError:
        await hooks.cancel()
        raise
    finally:
        op.watch_start(node_name, None)
    await hooks.finish(node_variables(prefix, node))
    if hooks.problem and not node.failed_or_error:
        # hooks.go returns the error; the DAG or steps marks the hooked node in Error.
        node.finish(ERROR, hooks.problem)
    return node
