"""The two paths a workflow takes to the cluster, as the types the commands work with.

`ArgoServer` (the Argo Server's API, with Hera's `WorkflowsService`) and
`k8s_workflows.KubernetesWorkflows` (the Workflow custom resource through the Kubernetes
API) both satisfy `WorkflowsPath`; their services both satisfy `WorkflowsClient`. The
commands (`submit`, `logs`, `retry`) are written once against these.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from hera.workflows import models as m

    from .logs import LogLine


class WorkflowsClient(Protocol):
    """What submitting and following need of a workflows service."""

    @property
    def host(self) -> str | None: ...

    def create_workflow(
        self, req: m.WorkflowCreateRequest, namespace: str | None = None
    ) -> m.Workflow: ...

    def get_workflow(self, name: str, namespace: str | None = None) -> m.Workflow: ...

    def list_workflows(
        self, namespace: str | None = None, label_selector: str | None = None
    ) -> m.WorkflowList: ...


class WorkflowsPath(Protocol):
    """A way to the cluster's workflows: submit, read, retry, and read task logs."""

    via: str  # "argo-server" or "kubernetes", as provenance records it
    has_ui: bool
    namespace: str
    timeout: float

    @property
    def url(self) -> str: ...

    def ui_url(self, workflow_name: str) -> str: ...

    def workflows_service(self) -> WorkflowsClient: ...

    def define_argo_server_part_of_environment(self) -> None: ...

    def get_workflow(self, name: str) -> dict[str, Any]: ...

    def retry_workflow(self, name: str) -> dict[str, Any]: ...

    def task_log(
        self,
        workflow_name: str,
        pod: str | None = None,
        *,
        follow: bool = False,
        tail_lines: int | None = None,
    ) -> Iterator[LogLine]:
        """The main container's log lines of a workflow's pod (of every pod if None)."""
        ...
