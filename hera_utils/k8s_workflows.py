"""Submitting and following workflows without an Argo Server, through the Kubernetes API.

As the Argo CLI does when `ARGO_SERVER` is not set, a workflow is created as a
`workflows.argoproj.io/v1alpha1` custom resource with the kubeconfig's credentials, and
followed by reading its `status`, which the workflow controller writes. Task logs are the
pods' own logs. `KubernetesWorkflows` offers what `main.py submit`, `logs` and the
environment use of an `ArgoServer`, and `workflows_service()` the few calls of a Hera
`WorkflowsService` that `submission` makes, so both paths share the submission logic
(labels, lost replies, provenance, waiting through outages).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hera.workflows import models as m

    from .cluster import KubernetesCluster
    from .logs import LogLine
    from .settings import Settings

GROUP, VERSION, PLURAL = "argoproj.io", "v1alpha1", "workflows"


def submit_path(args: Settings) -> str:
    """`argo-server` or `kubernetes`: `auto` takes the Argo Server when one is set, as the
    Argo CLI does."""
    chosen = args.argo_submit_via or "auto"
    if chosen == "auto":
        return "argo-server" if args.argo_server else "kubernetes"
    return str(chosen)


class KubernetesWorkflows:
    """The workflows of one namespace, reached through the Kubernetes API."""

    via = "kubernetes"
    has_ui = False

    def __init__(self, cluster: KubernetesCluster, service_account: str | None = None) -> None:
        self.cluster = cluster
        self.namespace = cluster.namespace
        self.timeout = cluster.timeout
        self.service_account = service_account

    @property
    def url(self) -> str:
        """The Kubernetes API server's URL."""
        return self.cluster.server

    def ui_url(self, workflow_name: str) -> str:
        """How to look at the workflow without an Argo UI."""
        return f"kubectl -n {self.namespace} get workflow {workflow_name}"

    def define_argo_server_part_of_environment(self) -> None:
        """Set Hera's namespace (and service account) defaults; there is no server to name."""
        from hera.shared import global_config

        global_config.namespace = self.namespace
        if self.service_account:
            global_config.service_account_name = self.service_account

    def workflows_service(self) -> WorkflowsThroughKubernetes:
        """The subset of Hera's `WorkflowsService` that submitting and following use."""
        return WorkflowsThroughKubernetes(self.cluster)

    def get_workflow(self, name: str) -> dict[str, Any]:
        """The workflow custom resource `name`, as JSON."""
        return self.workflows_service().get_raw(name, self.namespace)

    def retry_workflow(self, name: str) -> dict[str, Any]:
        """Re-run the failed part of a finished workflow, as `argo retry` does without a server.

        The resource is replaced with its failed nodes removed, its phase Running and its
        `completed` label false; the controller then runs again what is missing. The
        replace carries the resource version read, so a concurrent change is refused
        (409) instead of lost.
        """
        service = self.workflows_service()
        workflow = service.get_raw(name, self.namespace)
        service.replace_raw(name, self.namespace, retried(workflow))
        return service.get_raw(name, self.namespace)

    def task_log(
        self,
        workflow_name: str,
        pod: str | None = None,
        *,
        follow: bool = False,
        tail_lines: int | None = None,
    ) -> Iterator[LogLine]:
        """The main container's log of `pod`, or of each task pod in turn (when following,
        the pods the controller starts meanwhile too)."""
        from .logs import task_pods

        if pod is not None:
            yield from self.pod_log(pod, follow=follow, tail_lines=tail_lines)
            return
        done: set[str] = set()
        while True:
            workflow = self.get_workflow(workflow_name)
            for task in task_pods(workflow):
                if task.phase != "Pending" and task.pod not in done:
                    done.add(task.pod)
                    yield from self.pod_log(task.pod, follow=follow, tail_lines=tail_lines)
            phase = (workflow.get("status") or {}).get("phase")
            if not follow or phase not in (None, "", "Pending", "Running"):
                return
            time.sleep(1.0)  # new pods are started by the controller: look again

    def pod_log(self, pod: str, *, follow: bool = False, tail_lines: int | None = None
                ) -> Iterator[LogLine]:
        """The main container's log of `pod`, line by line (bytes that are not UTF-8 shown
        as U+FFFD, as the Argo Server shows them)."""
        from kubernetes import client

        from .logs import MAIN_CONTAINER, LogLine

        core = client.CoreV1Api(self.cluster.api_client)
        options: dict[str, Any] = {"container": MAIN_CONTAINER, "follow": follow,
                                   "_preload_content": False}
        if tail_lines:
            options["tail_lines"] = tail_lines
        # Not preloaded, the client hands back the raw urllib3 response, to stream.
        response: Any = self.cluster.call(
            f"the log of pod {pod!r}", core.read_namespaced_pod_log,
                                     pod, self.namespace, setting="argo_namespace", **options)
        try:
            pending = b""
            for chunk in response.stream(65536):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    yield LogLine(pod, line.decode("utf-8", errors="replace"))
            if pending:
                yield LogLine(pod, pending.decode("utf-8", errors="replace"))
        finally:
            response.release_conn()


class WorkflowsThroughKubernetes:
    """`create_workflow`, `get_workflow` and `list_workflows` as custom-resource calls."""

    def __init__(self, cluster: KubernetesCluster) -> None:
        self.cluster = cluster
        self.host = cluster.server

    def _api(self) -> Any:
        from kubernetes import client

        return client.CustomObjectsApi(self.cluster.api_client)

    def create_workflow(
        self, req: m.WorkflowCreateRequest, namespace: str | None = None
    ) -> m.Workflow:
        """Create the request's workflow as a custom resource; return what was stored."""
        from hera.workflows import models as m

        assert req.workflow is not None
        namespace = namespace or self.cluster.namespace
        body = req.workflow.model_dump(by_alias=True, exclude_none=True, mode="json")
        body.setdefault("apiVersion", f"{GROUP}/{VERSION}")
        body.setdefault("kind", "Workflow")
        created = self.cluster.call(
            "the Workflow resource", self._api().create_namespaced_custom_object,
            GROUP, VERSION, namespace, PLURAL, body, setting="argo_namespace",
        )
        return m.Workflow.model_validate(created)

    def get_raw(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        """The workflow resource `name` as the API returns it."""
        found = self.cluster.call(
            f"workflow {name!r}", self._api().get_namespaced_custom_object,
            GROUP, VERSION, namespace or self.cluster.namespace, PLURAL, name,
            setting="argo_namespace",
        )
        return dict(found)

    def replace_raw(self, name: str, namespace: str | None, body: dict[str, Any]
                    ) -> dict[str, Any]:
        """Replace the workflow resource `name` with `body` (which holds its version)."""
        replaced = self.cluster.call(
            f"workflow {name!r}", self._api().replace_namespaced_custom_object,
            GROUP, VERSION, namespace or self.cluster.namespace, PLURAL, name, body,
            setting="argo_namespace",
        )
        return dict(replaced)

    def get_workflow(self, name: str, namespace: str | None = None) -> m.Workflow:
        """The workflow resource `name`, as Hera's model."""
        from hera.workflows import models as m

        return m.Workflow.model_validate(self.get_raw(name, namespace))

    def list_workflows(
        self, namespace: str | None = None, label_selector: str | None = None
    ) -> m.WorkflowList:
        """The workflow resources of `namespace` carrying `label_selector`."""
        from hera.workflows import models as m

        listed = self.cluster.call(
            "workflows", self._api().list_namespaced_custom_object,
            GROUP, VERSION, namespace or self.cluster.namespace, PLURAL,
            label_selector=label_selector or "",
            setting="argo_namespace",
        )
        return m.WorkflowList.model_validate(listed)


# Nodes a retry keeps: what ended well is not run again.
_KEPT_PHASES = frozenset({"Succeeded", "Skipped", "Omitted"})


def retried(workflow: dict[str, Any]) -> dict[str, Any]:
    """`workflow` as `argo retry` rewrites it: failed nodes dropped, Running, not completed."""
    metadata = dict(workflow.get("metadata") or {})
    metadata["labels"] = {**(metadata.get("labels") or {}),
                          "workflows.argoproj.io/completed": "false"}
    status = dict(workflow.get("status") or {})
    root = metadata.get("name")
    nodes = status.get("nodes") or {}
    status["nodes"] = {
        key: node for key, node in nodes.items()
        if isinstance(node, dict) and node.get("phase") in _KEPT_PHASES and key != root
    }
    status.update(phase="Running", message="")
    status.pop("finishedAt", None)
    return {**workflow, "metadata": metadata, "status": status}
