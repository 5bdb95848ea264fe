"""An emulated Argo Server (v4.1 API): workflows, workflow templates, version, info.

It behaves as a real server in `client` auth mode: the caller's Kubernetes bearer token
is checked on every endpoint except `/api/v1/version` and `/api/v1/info`; errors are
grpc-gateway JSON (`{"code": 16, "message": ...}`); submitted workflows are validated
against the Argo schema and then run through a deterministic lifecycle (see
`_workflow_lifecycle`). Behind a `base_href` it serves only below that prefix, as an
ingress would.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

from hera_utils.testing._fields import select_fields
from hera_utils.testing._objects import (
    ResourceVersions,
    SelectorError,
    generated_name,
    new_uid,
    parse_selector,
    rfc3339,
    selector_matches,
)
from hera_utils.testing._server import BadRequestBody, Emulator, Request, Response
from hera_utils.testing._workflow_lifecycle import (
    COMPLETED_LABEL,
    FINAL_PHASES,
    OUTCOMES,
    PHASE_LABEL,
    SUCCEEDED,
    LogSource,
    WorkflowRun,
)
from hera_utils.testing._workflow_validation import (
    entrypoint_template,
    workflow_problem,
    workflow_template_problem,
)
from hera_utils.testing.tokens import Identity, TokenRegistry

# grpc status codes, as grpc-gateway writes them in error bodies, with their HTTP status.
INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, PERMISSION_DENIED = 3, 5, 6, 7
UNKNOWN, ABORTED, UNIMPLEMENTED, INTERNAL, UNAUTHENTICATED = 2, 10, 12, 13, 16
_HTTP_STATUS = {
    UNKNOWN: 500,
    INVALID_ARGUMENT: 400,
    NOT_FOUND: 404,
    ALREADY_EXISTS: 409,
    PERMISSION_DENIED: 403,
    ABORTED: 409,
    UNIMPLEMENTED: 405,
    INTERNAL: 500,
    UNAUTHENTICATED: 401,
}
TOKEN_NOT_VALID = "token not valid. see https://argo-workflows.readthedocs.io/en/latest/faq/"
GROUP = "argoproj.io"
MAX_GENERATE_NAME_PREFIX = 58  # the API server cuts generateName so the name fits in 63
DEFAULT_MAX_OBJECT_BYTES = 1_572_864  # etcd's default request limit (1.5 MiB)

# (identity, verb, namespace, resource, group) -> allowed?
Authorizer = Callable[..., bool]
Outcome = str | Callable[[dict[str, Any]], str]

_WORKFLOWS = re.compile(r"/api/v1/workflows/(?P<ns>[^/]+)")
_WORKFLOW = re.compile(r"/api/v1/workflows/(?P<ns>[^/]+)/(?P<name>[^/]+)")
_WORKFLOW_LINT = re.compile(r"/api/v1/workflows/(?P<ns>[^/]+)/lint")
_WORKFLOW_LOG = re.compile(r"/api/v1/workflows/(?P<ns>[^/]+)/(?P<name>[^/]+)/log")
_POD_LOG = re.compile(r"/api/v1/workflows/(?P<ns>[^/]+)/(?P<name>[^/]+)/(?P<pod>[^/]+)/log")
_WORKFLOW_RETRY = re.compile(r"/api/v1/workflows/(?P<ns>[^/]+)/(?P<name>[^/]+)/retry")
MAIN_CONTAINER = "main"
FOLLOW_STEP_S = 0.02  # while a client follows logs, the workflow moves on this often
_TEMPLATES = re.compile(r"/api/v1/workflow-templates/(?P<ns>[^/]+)")
_TEMPLATE = re.compile(r"/api/v1/workflow-templates/(?P<ns>[^/]+)/(?P<name>[^/]+)")
_TEMPLATE_LINT = re.compile(r"/api/v1/workflow-templates/(?P<ns>[^/]+)/lint")

_NGINX_NOT_FOUND = (
    b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
    b"<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


class ArgoError(Exception):
    """An error answer of the Argo Server: a grpc code and its message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ArgoServerEmulator(Emulator):
    """An Argo Server on 127.0.0.1 storing workflows and workflow templates in memory."""

    def __init__(
        self, *, tokens: TokenRegistry | None = None, tls: Any = None, base_href: str = ""
    ) -> None:
        super().__init__(tokens=tokens, tls=tls)
        self.base_href = _normalize_base_href(base_href)
        self.workflows: dict[tuple[str, str], dict[str, Any]] = {}
        self.workflow_templates: dict[tuple[str, str], dict[str, Any]] = {}
        self._outcome: Outcome = SUCCEEDED
        self.running_polls = 1  # reads a workflow stays Running before it finishes
        # Delete a workflow once it has been read this many times (someone ran `argo
        # delete`, or a TTL removed it, while a client was following it); None: never.
        self.delete_after_reads: int | None = None
        self._reads: dict[tuple[str, str], int] = {}
        self.authorizer: Authorizer | None = None  # default: the token's namespaces
        self.max_object_bytes = DEFAULT_MAX_OBJECT_BYTES
        self.managed_namespace: str | None = None
        # `argo server --auth-mode`: `client` accepts Kubernetes bearer tokens, `sso` the
        # `v2:` tokens of the server's single sign-on.
        self.auth_modes: frozenset[str] = frozenset({"client", "sso"})
        self.version: dict[str, str] = {
            "version": "v4.1.2",
            "buildDate": "2025-06-02T14:10:21Z",
            "gitCommit": "b7e8e9ab5fd8ce2be0ee1b5e2c0e3dd3f0cb4b53",
            "gitTag": "v4.1.2",
            "gitTreeState": "clean",
            "goVersion": "go1.24.3",
            "compiler": "gc",
            "platform": "linux/amd64",
        }
        # Task name -> how many first attempts fail (a failing task fails its workflow).
        self.failing_tasks: dict[str, int] = {}
        # Task name -> its log (bytes, or a callable (task, attempt, phase) -> bytes).
        self.task_logs: dict[str, LogSource] = {}
        self._versions = ResourceVersions(start=5000)
        self._runs: dict[tuple[str, str], WorkflowRun] = {}

    @property
    def outcome(self) -> Outcome:
        """Final phase of the workflows submitted from now on, or a callable choosing it.

        "Succeeded", "Failed" or "Error"; "Running" or "Pending" keep workflows there for
        ever. A callable receives the submitted workflow (a dict) and returns one of these.
        """
        return self._outcome

    @outcome.setter
    def outcome(self, outcome: Outcome) -> None:
        if not callable(outcome) and outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {sorted(OUTCOMES)}")
        self._outcome = outcome

    @property
    def url(self) -> str:
        """`https://127.0.0.1:PORT`, followed by the base href when there is one."""
        return self.root_url + (self.base_href if self.base_href != "/" else "")

    # -- driving workflows from tests ---------------------------------------------------

    def advance(self, namespace: str, name: str, steps: int = 1) -> dict[str, Any]:
        """Move a workflow `steps` steps on, as if read that many times; returns it."""
        with self._lock:
            self._runs[(namespace, name)].advance(steps)
            return self._refresh(namespace, name)

    def finish(self, namespace: str, name: str) -> dict[str, Any]:
        """Move a workflow to its final phase at once (if it has one); returns it."""
        run = self._runs[(namespace, name)]
        return self.advance(namespace, name, run.running_polls + 1)

    def run_of(self, namespace: str, name: str) -> WorkflowRun:
        """The progress of a submitted workflow (attempts per task, retries...)."""
        with self._lock:
            return self._runs[(namespace, name)]

    # -- the workflow store, shared with the Kubernetes emulator's custom resources -----

    def store_workflow(
        self, namespace: str, workflow: dict[str, Any], *, dry_run: bool = False
    ) -> dict[str, Any]:
        """Validate, name and start `workflow` (placed in `namespace`); ArgoError if invalid."""
        with self._lock:
            problem = workflow_problem(workflow, lambda name: self._template(namespace, name))
            if problem:
                raise ArgoError(INVALID_ARGUMENT, problem)
            self._check_size(workflow)
            self._name_and_stamp(workflow, "workflows", self.workflows, namespace)
            if dry_run:
                return workflow
            entry, templates = entrypoint_template(
                workflow, lambda name: self._template(namespace, name)
            )
            chosen = self._outcome
            outcome = chosen(copy.deepcopy(workflow)) if callable(chosen) else chosen
            name = workflow["metadata"]["name"]
            self._runs[(namespace, name)] = WorkflowRun(
                name,
                entry,
                templates,
                outcome=outcome,
                running_polls=self.running_polls,
                failing=self.failing_tasks,
                logs=self.task_logs,
            )
            self.workflows[(namespace, name)] = workflow
            return self._refresh(namespace, name)

    def read_workflow(self, namespace: str, name: str) -> dict[str, Any]:
        """A stored workflow, one step further on (as the controller moves while we look)."""
        with self._lock:
            if (namespace, name) not in self.workflows:
                raise ArgoError(NOT_FOUND, f'workflows.argoproj.io "{name}" not found')
            run = self._runs.get((namespace, name))
            if run is not None:
                run.advance()
            return self._refresh(namespace, name)

    def retry_workflow(self, namespace: str, name: str) -> dict[str, Any]:
        """Re-run what failed in a finished workflow, keeping what succeeded."""
        with self._lock:
            if (namespace, name) not in self.workflows:
                raise ArgoError(NOT_FOUND, f'workflows.argoproj.io "{name}" not found')
            run = self._runs.get((namespace, name))
            if run is None or not run.finished or run.phase == SUCCEEDED:
                raise ArgoError(INVALID_ARGUMENT, "workflow must be Failed/Error to retry")
            run.retry()
            workflow = self._refresh(namespace, name)
            workflow["metadata"]["resourceVersion"] = self._versions.next()
            return workflow

    def workflow_pods(self, namespace: str) -> dict[str, tuple[str, str, str]]:
        """The pods of the workflows in `namespace`: pod -> (workflow, task, phase)."""
        with self._lock:
            return {
                pod: (name, task, phase)
                for (ns, name), run in self._runs.items()
                if ns == namespace
                for pod, (task, phase) in run.pods().items()
            }

    def pod_log(self, namespace: str, pod: str) -> bytes | None:
        """What the main container of a workflow pod wrote (None: no such pod)."""
        with self._lock:
            found = self.workflow_pods(namespace).get(pod)
            if found is None:
                return None
            workflow, task, phase = found
            return self._runs[(namespace, workflow)].log_of(task, phase)

    # -- serving ------------------------------------------------------------------------

    def _api_path(self, raw_path: str) -> str | None:
        path = super()._api_path(raw_path) or "/"
        if self.base_href == "/":
            return path
        if path == self.base_href.rstrip("/"):
            return "/"
        if not path.startswith(self.base_href):
            return None
        return "/" + path[len(self.base_href) :]

    def _internal_error(self, message: str) -> Response:
        return _error(INTERNAL, message)

    def _missing_endpoint(self) -> Response:
        return _error(NOT_FOUND, "Not Found")

    def _dispatch(self, request: Request) -> Response:
        if request.path is None:
            return Response(404, _NGINX_NOT_FOUND, "text/html")
        path = request.path
        if not path.startswith("/api/"):
            return Response(200, self._ui_page(), "text/html; charset=utf-8")
        try:
            with self._lock:
                return self._route(request, path.rstrip("/"))
        except ArgoError as exc:
            return _error(exc.code, exc.message)
        except BadRequestBody as exc:
            return _error(INVALID_ARGUMENT, str(exc))

    def _route(self, request: Request, path: str) -> Response:
        method = request.method
        if path in ("/api/v1/version", "/api/v1/info"):
            # Client auth mode: these never look at the token (a bogus one gets 200 here).
            _require_method(method, "GET")
            return Response.json(200, self.version if path.endswith("version") else self._info())
        identity = self._authenticate(request)
        if path == "/api/v1/userinfo":
            _require_method(method, "GET")
            return Response.json(200, _user_info(identity))
        if match := _WORKFLOW_LINT.fullmatch(path):
            _require_method(method, "POST")
            return self._lint_workflow(request, match["ns"])
        if match := _WORKFLOW_LOG.fullmatch(path) or _POD_LOG.fullmatch(path):
            _require_method(method, "GET")
            pod = match.groupdict().get("pod") or request.param("podName") or ""
            return self._logs(request, identity, match["ns"], match["name"], pod)
        if match := _WORKFLOW_RETRY.fullmatch(path):
            _require_method(method, "PUT")
            self._authorize(identity, "update", match["ns"], "workflows", match["name"])
            request.json_object()  # a WorkflowRetryRequest; its options change nothing here
            return Response.json(200, self.retry_workflow(match["ns"], match["name"]))
        if match := _WORKFLOWS.fullmatch(path):
            if method == "GET":
                return self._list(request, identity, match["ns"], "workflows", self.workflows)
            _require_method(method, "POST")
            return self._create_workflow(request, identity, match["ns"])
        if match := _WORKFLOW.fullmatch(path):
            if method == "GET":
                return self._get_workflow(request, identity, match["ns"], match["name"])
            _require_method(method, "DELETE")
            return self._delete(identity, match["ns"], match["name"], "workflows", self.workflows)
        if match := _TEMPLATE_LINT.fullmatch(path):
            _require_method(method, "POST")
            return self._lint_template(request, match["ns"])
        if match := _TEMPLATES.fullmatch(path):
            if method == "GET":
                return self._list(
                    request, identity, match["ns"], "workflowtemplates", self.workflow_templates
                )
            _require_method(method, "POST")
            return self._create_template(request, identity, match["ns"])
        if match := _TEMPLATE.fullmatch(path):
            namespace, name = match["ns"], match["name"]
            if method == "GET":
                return self._get_template(identity, namespace, name)
            if method == "PUT":
                return self._update_template(request, identity, namespace, name)
            _require_method(method, "DELETE")
            return self._delete(
                identity, namespace, name, "workflowtemplates", self.workflow_templates
            )
        raise ArgoError(NOT_FOUND, "Not Found")

    # -- workflows ----------------------------------------------------------------------

    def _create_workflow(self, request: Request, identity: Identity, namespace: str) -> Response:
        self._authorize(identity, "create", namespace, "workflows")
        body = request.json_object()
        workflow = _object_in(body, "workflow", namespace)
        return Response.json(200, self.store_workflow(namespace, workflow, dry_run=_dry_run(body)))

    def _get_workflow(
        self, request: Request, identity: Identity, namespace: str, name: str
    ) -> Response:
        self._authorize(identity, "get", namespace, "workflows", name)
        key = (namespace, name)
        reads = self._reads[key] = self._reads.get(key, 0) + 1
        if self.delete_after_reads is not None and reads > self.delete_after_reads:
            self.workflows.pop(key, None)
            self._runs.pop(key, None)
        workflow = self.read_workflow(namespace, name)
        return Response.json(200, select_fields(workflow, request.param("fields")))

    def _logs(
        self, request: Request, identity: Identity, namespace: str, name: str, pod: str
    ) -> Response:
        """The log endpoint: one `{"result": {"content", "podName"}}` JSON object a line."""
        self._authorize(identity, "get", namespace, "pods/log", name)
        if (namespace, name) not in self.workflows:
            raise ArgoError(NOT_FOUND, f'workflows.argoproj.io "{name}" not found')
        container = request.param("logOptions.container") or MAIN_CONTAINER
        follow = (request.param("logOptions.follow") or "").lower() == "true"
        grep = request.param("grep") or ""
        tail = _int_param(request.param("logOptions.tailLines"), 0)
        return Response(
            200,
            content_type="application/json",
            stream=self._log_lines(namespace, name, pod, container, follow, grep, tail),
        )

    def _log_lines(
        self,
        namespace: str,
        name: str,
        only_pod: str,
        container: str,
        follow: bool,
        grep: str,
        tail: int,
    ) -> Any:
        sent: dict[str, int] = {}  # pod -> lines sent
        while True:
            with self._lock:
                run = self._runs.get((namespace, name))
                if run is None:
                    return
                pods = run.pods()
                batch: list[tuple[str, bytes]] = []
                for pod, (task, phase) in pods.items():
                    if only_pod and pod != only_pod:
                        continue
                    content = run.log_of(task, phase) if container == MAIN_CONTAINER else b""
                    lines = content.splitlines()
                    start = sent.get(pod, 0)
                    if tail and not follow and start == 0:
                        start = max(0, len(lines) - tail)
                    batch.extend((pod, line) for line in lines[start:])
                    sent[pod] = len(lines)
                finished = run.finished
            for pod, line in batch:
                # Go's JSON encoder replaces bytes that are not UTF-8 with U+FFFD.
                text = line.decode("utf-8", errors="replace")
                if grep and grep not in text:
                    continue
                entry = {"result": {"content": text, "podName": pod}}
                yield json.dumps(entry).encode() + b"\n"
            if not follow or finished:
                return
            if self._stopping.wait(FOLLOW_STEP_S):
                return
            with self._lock:
                run.advance()
                self._refresh(namespace, name)

    def _lint_workflow(self, request: Request, namespace: str) -> Response:
        workflow = _object_in(request.json_object(), "workflow", namespace)
        problem = workflow_problem(workflow, lambda name: self._template(namespace, name))
        if problem:
            raise ArgoError(INVALID_ARGUMENT, problem)
        return Response.json(200, workflow)

    def _refresh(self, namespace: str, name: str) -> dict[str, Any]:
        """Write the run's current status (and phase labels) into the stored workflow."""
        workflow = self.workflows[(namespace, name)]
        run = self._runs.get((namespace, name))
        if run is None:
            return workflow
        workflow["status"] = run.status()
        labels = workflow["metadata"].setdefault("labels", {})
        if run.phase != "Pending":
            labels[PHASE_LABEL] = run.phase
        if run.phase in FINAL_PHASES:
            labels[COMPLETED_LABEL] = "true"
        else:
            labels.pop(COMPLETED_LABEL, None)  # a retried workflow runs again
        return workflow

    # -- workflow templates -------------------------------------------------------------

    def _create_template(self, request: Request, identity: Identity, namespace: str) -> Response:
        self._authorize(identity, "create", namespace, "workflowtemplates")
        body = request.json_object()
        template = _object_in(body, "template", namespace)
        problem = workflow_template_problem(template)
        if problem:
            raise ArgoError(INVALID_ARGUMENT, problem)
        self._check_size(template)
        self._name_and_stamp(template, "workflowtemplates", self.workflow_templates, namespace)
        if not _dry_run(body):
            self.workflow_templates[(namespace, template["metadata"]["name"])] = template
        return Response.json(200, template)

    def _get_template(self, identity: Identity, namespace: str, name: str) -> Response:
        self._authorize(identity, "get", namespace, "workflowtemplates", name)
        template = self._template(namespace, name)
        if template is None:
            raise ArgoError(NOT_FOUND, f'workflowtemplates.argoproj.io "{name}" not found')
        return Response.json(200, template)

    def _update_template(
        self, request: Request, identity: Identity, namespace: str, name: str
    ) -> Response:
        self._authorize(identity, "update", namespace, "workflowtemplates", name)
        template = _object_in(request.json_object(), "template", namespace)
        # As the real server: the name in the body counts, the one in the path is ignored.
        name = template.get("metadata", {}).get("name") or name
        current = self._template(namespace, name)
        if current is None:
            raise ArgoError(NOT_FOUND, f'workflowtemplates.argoproj.io "{name}" not found')
        problem = workflow_template_problem(template)
        if problem:
            raise ArgoError(INVALID_ARGUMENT, problem)
        metadata = template["metadata"]
        version = metadata.get("resourceVersion")
        if not version:
            raise ArgoError(
                INVALID_ARGUMENT,
                f'WorkflowTemplate.argoproj.io "{name}" is invalid: metadata.resourceVersion: '
                "Invalid value: 0x0: must be specified for an update",
            )
        if version != current["metadata"]["resourceVersion"]:
            raise ArgoError(
                ABORTED,
                f'Operation cannot be fulfilled on workflowtemplates.argoproj.io "{name}": the '
                "object has been modified; please apply your changes to the latest version "
                "and try again",
            )
        metadata.update(
            uid=current["metadata"]["uid"],
            creationTimestamp=current["metadata"]["creationTimestamp"],
            resourceVersion=self._versions.next(),
            generation=int(current["metadata"].get("generation", 1)) + 1,
        )
        self.workflow_templates[(namespace, name)] = template
        return Response.json(200, template)

    def _lint_template(self, request: Request, namespace: str) -> Response:
        template = _object_in(request.json_object(), "template", namespace)
        problem = workflow_template_problem(template)
        if problem:
            raise ArgoError(INVALID_ARGUMENT, problem)
        return Response.json(200, template)

    def _template(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.workflow_templates.get((namespace, name))

    # -- shared by both kinds -----------------------------------------------------------

    def _list(
        self,
        request: Request,
        identity: Identity,
        namespace: str,
        resource: str,
        store: dict[tuple[str, str], dict[str, Any]],
    ) -> Response:
        self._authorize(identity, "list", namespace, resource)
        try:
            labels = parse_selector(request.param("listOptions.labelSelector"))
            fields = parse_selector(request.param("listOptions.fieldSelector"))
        except SelectorError as exc:
            raise ArgoError(INVALID_ARGUMENT, str(exc)) from exc
        field_values = {"metadata.name": "name", "metadata.namespace": "namespace"}
        for key, _, _ in fields:
            if key not in field_values:
                raise ArgoError(INVALID_ARGUMENT, f"field label not supported: {key}")
        items = [
            obj
            for (ns, _), obj in store.items()
            if ns == namespace
            and selector_matches(labels, _labels(obj).get)
            and selector_matches(fields, _metadata_lookup(obj, field_values))
        ]
        # Newest first, as the Argo Server lists them.
        items.sort(
            key=lambda obj: (
                obj["metadata"]["creationTimestamp"],
                int(obj["metadata"]["resourceVersion"]),
            ),
            reverse=True,
        )
        start = _int_param(request.param("listOptions.continue"), 0)
        limit = _int_param(request.param("listOptions.limit"), 0)
        page = items[start : start + limit] if limit > 0 else items[start:]
        metadata: dict[str, Any] = {"resourceVersion": self._versions.next()}
        if limit > 0 and start + limit < len(items):
            metadata["continue"] = str(start + limit)
        # Real Argo answers `"items": null` (not []) when nothing matches.
        answer = {"metadata": metadata, "items": page or None}
        return Response.json(200, select_fields(answer, request.param("fields")))

    def _delete(
        self,
        identity: Identity,
        namespace: str,
        name: str,
        resource: str,
        store: dict[tuple[str, str], dict[str, Any]],
    ) -> Response:
        self._authorize(identity, "delete", namespace, resource, name)
        if store.pop((namespace, name), None) is None:
            raise ArgoError(NOT_FOUND, f'{resource}.argoproj.io "{name}" not found')
        self._runs.pop((namespace, name), None)
        return Response.json(200, {})

    def _name_and_stamp(
        self,
        obj: dict[str, Any],
        resource: str,
        store: dict[tuple[str, str], dict[str, Any]],
        namespace: str,
    ) -> None:
        """Give the object its name (from generateName), uid, resourceVersion, timestamp."""
        metadata = obj["metadata"]
        name = metadata.get("name")
        if not name:
            prefix = metadata["generateName"][:MAX_GENERATE_NAME_PREFIX]
            name = generated_name(prefix)
            while (namespace, name) in store:
                name = generated_name(prefix)
            metadata["name"] = name
        elif (namespace, name) in store:
            raise ArgoError(ALREADY_EXISTS, f'{resource}.argoproj.io "{name}" already exists')
        metadata.update(
            uid=new_uid(),
            resourceVersion=self._versions.next(),
            generation=1,
            creationTimestamp=rfc3339(),
        )

    def _check_size(self, obj: dict[str, Any]) -> None:
        if len(json.dumps(obj)) > self.max_object_bytes:
            raise ArgoError(UNKNOWN, "etcdserver: request is too large")

    def _authenticate(self, request: Request) -> Identity:
        identity = self._identify(request)
        mode = "sso" if (request.bearer_token() or "").startswith("v2:") else "client"
        if identity is None or mode not in self.auth_modes:
            raise ArgoError(UNAUTHENTICATED, TOKEN_NOT_VALID)
        return identity

    def _authorize(
        self, identity: Identity, verb: str, namespace: str, resource: str, name: str = ""
    ) -> None:
        if self.authorizer is not None:
            allowed = self.authorizer(
                identity, verb, namespace=namespace, resource=resource, group=GROUP
            )
        else:
            allowed = identity.allows(namespace)
        if not allowed:
            subject = f'{resource}.{GROUP} "{name}"' if name else f"{resource}.{GROUP}"
            raise ArgoError(
                PERMISSION_DENIED,
                f'{subject} is forbidden: User "{identity.user}" cannot {verb} resource '
                f'"{resource}" in API group "{GROUP}" in the namespace "{namespace}"',
            )

    def _info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "links": [],
            "columns": [],
            "navColor": "",
            "modals": {"feedback": False, "firstTimeUser": False, "newVersion": False},
        }
        if self.managed_namespace:
            info["managedNamespace"] = self.managed_namespace
        return info

    def _ui_page(self) -> bytes:
        return (
            '<!doctype html><html><head><meta charset="utf-8">'
            f'<base href="{self.base_href}"><title>Argo</title></head>'
            '<body><div id="app"></div></body></html>'
        ).encode()


def _error(code: int, message: str) -> Response:
    return Response.json(
        _HTTP_STATUS.get(code, 500), {"code": code, "message": message, "details": []}
    )


def _require_method(method: str, *allowed: str) -> None:
    if method not in allowed:
        raise ArgoError(UNIMPLEMENTED, "Method Not Allowed")


def _object_in(body: dict[str, Any], key: str, namespace: str) -> dict[str, Any]:
    """The object under `key` of a create/lint/update request, placed in `namespace`."""
    obj = body.get(key)
    if not isinstance(obj, dict):
        raise ArgoError(INVALID_ARGUMENT, f"{key} body not specified")
    obj = copy.deepcopy(obj)
    metadata = obj.setdefault("metadata", {})
    if not isinstance(metadata, dict):
        raise ArgoError(INVALID_ARGUMENT, "metadata must be an object")
    declared = metadata.get("namespace")
    if declared and declared != namespace:
        raise ArgoError(
            INVALID_ARGUMENT,
            "the namespace of the provided object does not match the namespace sent on the request",
        )
    metadata["namespace"] = namespace
    return obj


def _dry_run(body: dict[str, Any]) -> bool:
    options = body.get("createOptions") or {}
    return bool(body.get("serverDryRun")) or "All" in (options.get("dryRun") or [])


def _user_info(identity: Identity) -> dict[str, Any]:
    info: dict[str, Any] = {"subject": identity.user, "name": identity.user}
    parts = identity.user.split(":")
    if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
        info.update(serviceAccountNamespace=parts[2], serviceAccountName=parts[3])
    return info


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = obj.get("metadata", {}).get("labels") or {}
    return labels


def _metadata_lookup(obj: dict[str, Any], fields: dict[str, str]) -> Callable[[str], str | None]:
    """A field selector's lookup: `metadata.name` -> the object's metadata `name`."""
    return lambda key: obj["metadata"].get(fields[key])


def _int_param(value: str | None, default: int) -> int:
    if value in (None, ""):
        return default
    try:
        return max(0, int(value))
    except ValueError as exc:
        raise ArgoError(INVALID_ARGUMENT, f"invalid integer: {value!r}") from exc


def _normalize_base_href(base_href: str) -> str:
    """`"argo"`, `"/argo"` and `"/argo/"` all mean `"/argo/"`; `""` means `"/"`."""
    stripped = base_href.strip().strip("/")
    return f"/{stripped}/" if stripped else "/"
