"""WorkflowTemplates on the Argo Server: replace one of the same name, or clear it.

An experiment that ships reusable WorkflowTemplates wants "make the server's copy this
one" rather than create-or-fail; Hera's `update()` does that (creating when absent),
and these helpers add our timeouts and typed errors around it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import NotFoundError

if TYPE_CHECKING:
    from .argo import ArgoServer


def create_or_update_workflow_template(template: Any, argo: ArgoServer) -> Any:
    """Create the Hera `WorkflowTemplate` on `argo`, replacing a template of the same name."""
    template.workflows_service = argo.workflows_service()
    template.namespace = template.namespace or argo.namespace
    return argo.call(f"WorkflowTemplate {template.name!r}", template.update)


def clear_workflow_template(name: str, argo: ArgoServer) -> bool:
    """Delete the WorkflowTemplate `name` if it exists; return whether one was deleted."""
    service = argo.workflows_service()
    try:
        argo.call(
            f"WorkflowTemplate {name!r}",
            service.delete_workflow_template,
            name,
            namespace=argo.namespace,
        )
    except NotFoundError:
        return False
    return True
