"""Retries (`retryStrategy`): a Retry node whose children are the attempts.

Argo names the attempts `name(0)`, `name(1)`...; a missing `limit` retries without end
(docs/retries.md); `retryPolicy` defaults to OnFailure; OnTransientError never retries
here, as no local error is transient; `backoff` spaces the attempts, within `maxDuration`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from .context import Operator
from .expr_lang import ExprError, evaluate
from .expr_tags import Variables
from .model import TemplateScope
from .nodes import ERROR, FAILED, Node, NodeType
from .templating import substitute
from .values import duration_seconds, parse_integer

__all__ = ["backoff_delay", "execute_with_retries", "policy_retries"]


async def execute_with_retries(op: Operator, name: str, display: str, template: dict[str, Any],
                               scope: TemplateScope, kind: str, inputs: dict[str, str],
                               boundary: Node | None, retry: Mapping[str, Any]) -> Node:
    """Run attempts of `template` until one succeeds or the strategy gives up."""
    node = op.new_node(name, display, NodeType.RETRY, template.get("name"), boundary)
    node.inputs = inputs
    node.start()
    lookup = op.lookup({"inputs.parameters." + k: v for k, v in inputs.items()})
    limit_text = substitute(retry.get("limit"), lookup) if "limit" in retry else None
    limit = parse_integer(limit_text) if limit_text is not None else None
    policy = retry.get("retryPolicy") or "OnFailure"
    backoff = retry.get("backoff") or {}
    max_duration = duration_seconds(backoff.get("maxDuration"))
    base = op.log_base(name)
    first_start = time.monotonic()
    attempt = 0
    try:
        while True:
            child = await op.execute_once(
                f"{name}({attempt})", f"{display}({attempt})", template, scope, kind,
                inputs, boundary, attempt=attempt,
                log_base=f"{base}.attempt-{attempt + 1}", retry_node=node)
            node.children.append(child)
            if not child.failed_or_error or not policy_retries(policy, child.phase):
                break
            if retry.get("expression") and not _expression_retries(
                    str(retry["expression"]), child, lookup):
                break
            if limit is not None and attempt >= limit:
                break
            delay = backoff_delay(backoff, attempt)
            if max_duration is not None and \
                    time.monotonic() - first_start + delay > max_duration:
                break
            op.progress.task_retrying(child, delay)
            if delay:
                await asyncio.sleep(delay)
            attempt += 1
    except asyncio.CancelledError:
        op.stopped(node)
        raise
    _take_last_attempt(node, child, gave_up=limit is not None and attempt >= limit)
    return node


def _take_last_attempt(node: Node, child: Node, *, gave_up: bool) -> None:
    node.result, node.parameters = child.result, dict(child.parameters)
    node.artifacts = dict(child.artifacts)
    node.exit_code = child.exit_code
    message = child.message
    # Argo says so whenever the limit ends the retries, `limit: 0` (one attempt) too.
    if child.failed_or_error and (gave_up or len(node.children) > 1):
        message = f"No more retries left: {child.message}" if child.message else \
            "No more retries left"
    node.finish(child.phase, message)


def _expression_retries(expression: str, child: Node, lookup: Callable[[str], str | None]
                        ) -> bool:
    """Whether `retryStrategy.expression` lets the attempt after `child` run.

    It reads `lastRetry.exitCode`, `.status`, `.duration` (seconds) and `.message`, as
    strings (Argo's local scope), plus the template's variables; `{{...}}` tags in it are
    substituted first. What does not evaluate to true ends the retries.
    """
    took = (child.finished_at - child.started_at).total_seconds() \
        if child.started_at and child.finished_at else 0.0
    last = {"lastRetry.exitCode": str(child.exit_code if child.exit_code is not None else -1),
            "lastRetry.status": child.phase, "lastRetry.duration": str(int(took)),
            "lastRetry.message": child.message}

    def scope(tag: str) -> str | None:
        return last.get(tag) if tag in last else lookup(tag)

    try:
        text = str(substitute(expression, scope))
        return evaluate(text, Variables(scope)) is True
    except (ExprError, ValueError):
        return False


def policy_retries(policy: str, phase: str) -> bool:
    """Whether `retryPolicy` retries an attempt that ended in `phase`."""
    if policy == "Always":
        return True
    if policy == "OnError":
        return phase == ERROR
    if policy == "OnTransientError":
        return False
    return phase == FAILED  # OnFailure, the default


def backoff_delay(backoff: Mapping[str, Any], attempt: int) -> float:
    """Seconds to wait before the attempt after `attempt` (`duration * factor**attempt`)."""
    base = duration_seconds(backoff.get("duration"))
    if not base:
        return 0.0
    factor = float(parse_integer(backoff.get("factor")) or 1) if backoff.get("factor") else 1.0
    delay = base * factor ** attempt
    cap = duration_seconds(backoff.get("cap"))
    return min(delay, cap) if cap else delay
