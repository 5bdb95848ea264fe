"""An emulated Kubernetes API server: the few endpoints hera_utils uses, in real JSON.

Every request needs a valid bearer token (401 otherwise); what a user may do is decided
by `allowed_verbs` (403 with the API server's own message); errors are v1 `Status`
objects, so the official `kubernetes` client raises and parses them as it would against
a real cluster.

Pods move from Pending to Running when read (unless their volume claim is missing or
`pods_never_start` says why not), end Failed past their `activeDeadlineSeconds`, have
logs (`/log`, with `follow`) and an exec subresource over WebSocket (`_exec`). Workflow
custom resources (`/apis/argoproj.io/v1alpha1/...`) are kept by `workflow_controller`, an
Argo emulator (shared with the Argo Server emulator in an `EmulatedCluster`), so they are
validated and run as submitted workflows are; their pods have logs here too.
"""

from __future__ import annotations

import base64
import copy
import re
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from hera_utils.testing._exec import ExecOverride, serve_exec
from hera_utils.testing._objects import (
    ResourceVersions,
    SelectorError,
    generated_name,
    invalid_name_reason,
    new_uid,
    parse_selector,
    rfc3339,
    selector_matches,
)
from hera_utils.testing._server import BadRequestBody, Emulator, Request, Response
from hera_utils.testing._websocket import V4_CHANNEL_PROTOCOL, accept_key, offered_protocols
from hera_utils.testing.kubeconfig import kubeconfig_document, write_kubeconfig_file
from hera_utils.testing.tokens import (
    Identity,
    TokenRegistry,
    jwt_shaped_token,
    service_account_user,
)

SERVICE_ACCOUNT_TOKEN_TYPE = "kubernetes.io/service-account-token"
SERVICE_ACCOUNT_NAME_ANNOTATION = "kubernetes.io/service-account.name"
SERVICE_ACCOUNT_UID_ANNOTATION = "kubernetes.io/service-account.uid"
DEFAULT_AUDIENCE = "https://kubernetes.default.svc.cluster.local"
MIN_TOKEN_REQUEST_SECONDS = 600  # the API server refuses shorter TokenRequests
DEFAULT_TOKEN_REQUEST_SECONDS = 3600

# (user, namespace) -> verbs ("get", "create", "*", or "verb:resource" such as
# "create:workflows"); or a callable (user, namespace, verb, resource, group) -> bool.
AccessRules = (
    Mapping[tuple[str, str], Iterable[str]] | Callable[[str, str, str, str, str], bool] | None
)

# Namespaced resources of the core group this emulator stores, by plural name.
_KINDS = {
    "persistentvolumeclaims": "PersistentVolumeClaim",
    "configmaps": "ConfigMap",
    "serviceaccounts": "ServiceAccount",
    "secrets": "Secret",
    "pods": "Pod",
}
_FIELD_LABELS = {
    "metadata.name": lambda obj: obj["metadata"]["name"],
    "metadata.namespace": lambda obj: obj["metadata"]["namespace"],
    "type": lambda obj: obj.get("type"),
    "status.phase": lambda obj: obj.get("status", {}).get("phase"),
}

_NAMESPACE_PATH = re.compile(r"/api/v1/namespaces/(?P<ns>[^/]+)")
_COLLECTION_PATH = re.compile(r"/api/v1/namespaces/(?P<ns>[^/]+)/(?P<resource>[a-z]+)")
_OBJECT_PATH = re.compile(r"/api/v1/namespaces/(?P<ns>[^/]+)/(?P<resource>[a-z]+)/(?P<name>[^/]+)")
_TOKEN_PATH = re.compile(r"/api/v1/namespaces/(?P<ns>[^/]+)/serviceaccounts/(?P<name>[^/]+)/token")
_POD_SUBRESOURCE_PATH = re.compile(
    r"/api/v1/namespaces/(?P<ns>[^/]+)/pods/(?P<name>[^/]+)/(?P<sub>log|exec)"
)
_WORKFLOWS_PATH = re.compile(r"/apis/argoproj.io/v1alpha1/namespaces/(?P<ns>[^/]+)/workflows")
_WORKFLOW_PATH = re.compile(
    r"/apis/argoproj.io/v1alpha1/namespaces/(?P<ns>[^/]+)/workflows/(?P<name>[^/]+)"
)
_ACCESS_REVIEW_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
WORKFLOW_GROUP = "argoproj.io"
FOLLOW_STEP_S = 0.02  # how often a followed log looks for more
_SELF_REVIEW_PATH = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


class KubernetesEmulator(Emulator):
    """A Kubernetes API server on 127.0.0.1 holding namespaces, volume claims, ConfigMaps,
    service accounts and Secrets, answering TokenRequests and SelfSubjectAccessReviews.
    """

    def __init__(self, *, tokens: TokenRegistry | None = None, tls: Any = None) -> None:
        super().__init__(tokens=tokens, tls=tls)
        self.token_ttl_seconds: float = DEFAULT_TOKEN_REQUEST_SECONDS
        self.issued_tokens: list[str] = []
        self.allowed_verbs: AccessRules = None
        self.version: dict[str, str] = {
            "major": "1",
            "minor": "30",
            "gitVersion": "v1.30.4",
            "gitCommit": "a51b3b711150f57ffc1f526a640ec058514f2ac5",
            "gitTreeState": "clean",
            "buildDate": "2024-08-14T19:04:05Z",
            "goVersion": "go1.22.5",
            "compiler": "gc",
            "platform": "linux/amd64",
        }
        self._versions = ResourceVersions()
        self._namespaces: dict[str, dict[str, Any]] = {}
        self._objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        # Pods: reads before a pod runs; why pods never start (e.g. "ImagePullBackOff").
        self.pod_start_reads = 1
        self.pods_never_start: str | None = None
        self.pod_logs: dict[tuple[str, str], bytes] = {}
        self.clock: Callable[[], float] = time.time  # drives activeDeadlineSeconds
        self.exec_override: ExecOverride | None = None
        self.deleted_pods: list[str] = []
        self._pod_reads: dict[tuple[str, str], int] = {}
        self._pod_created: dict[tuple[str, str], float] = {}
        self._volume_contents: dict[tuple[str, str], Path] = {}
        self._workflow_controller: Any = None

    # -- building the world -------------------------------------------------------------

    def add_namespace(self, name: str) -> dict[str, Any]:
        """Create namespace `name` (no-op if it exists); returns the stored object."""
        with self._lock:
            if name not in self._namespaces:
                self._namespaces[name] = {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {
                        **self._new_metadata(name),
                        "labels": {"kubernetes.io/metadata.name": name},
                    },
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                }
            return self._namespaces[name]

    def add_volume_claim(
        self,
        namespace: str,
        name: str,
        *,
        phase: str = "Bound",
        storage: str = "1Gi",
        access_modes: Iterable[str] = ("ReadWriteMany",),
        storage_class: str = "standard",
    ) -> dict[str, Any]:
        """Create PersistentVolumeClaim `name` in `namespace`, in `phase` (Bound, Pending...)."""
        metadata = self._new_metadata(name, namespace)
        spec: dict[str, Any] = {
            "accessModes": list(access_modes),
            "resources": {"requests": {"storage": storage}},
            "storageClassName": storage_class,
            "volumeMode": "Filesystem",
        }
        status: dict[str, Any] = {"phase": phase}
        if phase == "Bound":
            spec["volumeName"] = f"pvc-{metadata['uid']}"
            status.update(accessModes=list(access_modes), capacity={"storage": storage})
        claim = {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": metadata,
            "spec": spec,
            "status": status,
        }
        return self._store("persistentvolumeclaims", claim)

    def add_configmap(
        self, namespace: str, name: str, *, data: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """Create ConfigMap `name` in `namespace` holding `data`."""
        configmap = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": self._new_metadata(name, namespace),
            "data": dict(data or {}),
        }
        return self._store("configmaps", configmap)

    def add_secret(
        self,
        namespace: str,
        name: str,
        *,
        data: Mapping[str, str | bytes] | None = None,
        type: str = "Opaque",
        annotations: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Create Secret `name` in `namespace`; `data` values are base64-encoded for you."""
        metadata = self._new_metadata(name, namespace)
        if annotations:
            metadata["annotations"] = dict(annotations)
        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": metadata,
            "type": type,
            "data": {key: _b64(value) for key, value in (data or {}).items()},
        }
        return self._store("secrets", secret)

    def add_service_account(
        self, namespace: str, name: str, *, token_secret: bool = False
    ) -> dict[str, Any]:
        """Create ServiceAccount `name` in `namespace`.

        With `token_secret`, also create the legacy token Secret that clusters before
        Kubernetes 1.24 made automatically, list it in the account's `.secrets`, and
        register its token (no expiry) for `system:serviceaccount:<namespace>:<name>`.
        """
        account: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": self._new_metadata(name, namespace),
        }
        if token_secret:
            user = service_account_user(namespace, name)
            token = jwt_shaped_token(
                {
                    "iss": "kubernetes/serviceaccount",
                    "sub": user,
                    "kubernetes.io/serviceaccount/namespace": namespace,
                    "kubernetes.io/serviceaccount/service-account.name": name,
                }
            )
            secret_name = generated_name(f"{name}-token-")
            ca = self.tls.ca_pem if self.tls is not None else b""
            self.add_secret(
                namespace,
                secret_name,
                type=SERVICE_ACCOUNT_TOKEN_TYPE,
                data={"token": token, "namespace": namespace, "ca.crt": ca},
                annotations={
                    SERVICE_ACCOUNT_NAME_ANNOTATION: name,
                    SERVICE_ACCOUNT_UID_ANNOTATION: account["metadata"]["uid"],
                },
            )
            account["secrets"] = [{"name": secret_name}]
            self.tokens.add(token, user=user, namespaces={namespace})
        return self._store("serviceaccounts", account)

    def set_volume_contents(self, namespace: str, claim: str, directory: str | Path) -> None:
        """Let `directory` of this machine stand for what volume claim `claim` holds."""
        with self._lock:
            self._volume_contents[(namespace, claim)] = Path(directory).resolve()

    def pods(self, namespace: str) -> list[dict[str, Any]]:
        """The pods created through the API in `namespace` (workflow pods not included)."""
        with self._lock:
            return [
                obj
                for (kind, ns, _), obj in sorted(self._objects.items())
                if kind == "pods" and ns == namespace
            ]

    @property
    def workflow_controller(self) -> Any:
        """The Argo emulator keeping Workflow resources (a private, unserved one by default)."""
        if self._workflow_controller is None:
            from hera_utils.testing.argo_server import ArgoServerEmulator

            self._workflow_controller = ArgoServerEmulator(tokens=self.tokens)
        return self._workflow_controller

    @workflow_controller.setter
    def workflow_controller(self, controller: Any) -> None:
        self._workflow_controller = controller

    def remove(self, resource: str, namespace: str, name: str) -> None:
        """Delete an object (`resource`: plural name, e.g. "persistentvolumeclaims")."""
        with self._lock:
            self._objects.pop((resource, namespace, name), None)

    def remove_namespace(self, name: str) -> None:
        """Delete namespace `name` and everything in it."""
        with self._lock:
            self._namespaces.pop(name, None)
            for key in [key for key in self._objects if key[1] == name]:
                del self._objects[key]

    def get_object(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The stored object (live: edits show in answers), or None."""
        with self._lock:
            return self._objects.get((resource, namespace, name))

    def write_kubeconfig(
        self,
        path: str | Path,
        *,
        token: str,
        namespace: str | None = None,
        context: str = "emulated",
        ca: bool = True,
        extra_contexts: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> str:
        """Write a kubeconfig reaching this emulator with `token`; returns its path.

        `ca=False` leaves the CA out (clients then fail TLS verification against the
        system store). See `kubeconfig.kubeconfig_document` for `extra_contexts`.
        """
        ca_pem = self.tls.ca_pem if (ca and self.tls is not None) else None
        document = kubeconfig_document(
            server=self.url,
            token=token,
            ca_pem=ca_pem,
            namespace=namespace,
            context=context,
            extra_contexts=extra_contexts,
        )
        return write_kubeconfig_file(path, document)

    # -- authorization ------------------------------------------------------------------

    def authorize(
        self,
        identity: Identity,
        verb: str,
        *,
        namespace: str,
        resource: str,
        group: str = "",
    ) -> bool:
        """Whether `identity` may `verb` `resource` (of API `group`) in `namespace`.

        `allowed_verbs` decides when it names this user and namespace (or user and "*");
        otherwise a user may do everything in the namespaces its token allows.
        """
        rules = self.allowed_verbs
        if callable(rules):
            return bool(rules(identity.user, namespace, verb, resource, group))
        if rules is not None:
            for key in ((identity.user, namespace), (identity.user, "*")):
                if key in rules:
                    granted = set(rules[key])
                    wanted = {"*", verb, f"{verb}:{resource}", f"*:{resource}"}
                    return bool(granted & wanted)
        return identity.allows(namespace) if namespace else identity.allows("*")

    # -- serving ------------------------------------------------------------------------

    def _internal_error(self, message: str) -> Response:
        return _status(500, "InternalError", f"Internal error occurred: {message}")

    def _missing_endpoint(self) -> Response:
        return _page_not_found()

    def _dispatch(self, request: Request) -> Response:
        identity = self._identify(request)
        if identity is None:
            return _status(401, "Unauthorized", "Unauthorized")
        path = (request.path or "/").rstrip("/") or "/"
        if match := _POD_SUBRESOURCE_PATH.fullmatch(path):
            if request.method not in ("GET", "POST"):
                return _method_not_allowed()
            namespace, name = match["ns"], match["name"]
            if match["sub"] == "log":
                return self._pod_log(request, identity, namespace, name)
            return self._pod_exec(request, identity, namespace, name)
        if _WORKFLOWS_PATH.fullmatch(path) or _WORKFLOW_PATH.fullmatch(path):
            return self._dispatch_workflows(request, path, identity)
        with self._lock:
            if request.method == "DELETE" and (match := _OBJECT_PATH.fullmatch(path)):
                if match["resource"] == "pods":
                    return self._delete_pod(identity, match["ns"], match["name"])
                return _method_not_allowed()
            if request.method == "POST":
                return self._dispatch_post(request, path, identity)
            if request.method != "GET":
                return _method_not_allowed()
            return self._dispatch_get(request, path, identity)

    def _dispatch_get(self, request: Request, path: str, identity: Identity) -> Response:
        if path == "/version":
            return Response.json(200, self.version)
        if path == "/api":
            return Response.json(200, self._api_versions())
        if path == "/apis":
            return Response.json(200, _API_GROUPS)
        if path == "/api/v1/namespaces":
            return self._list_namespaces(identity)
        if match := _NAMESPACE_PATH.fullmatch(path):
            return self._get_namespace(identity, match["ns"])
        if (match := _COLLECTION_PATH.fullmatch(path)) and match["resource"] in _KINDS:
            return self._list_objects(request, identity, match["ns"], match["resource"])
        if (match := _OBJECT_PATH.fullmatch(path)) and match["resource"] == "pods":
            if not self.authorize(identity, "get", namespace=match["ns"], resource="pods"):
                return _forbidden(identity, "get", "pods", match["ns"], match["name"])
            pod = self._advance_pod(match["ns"], match["name"])
            return Response.json(200, pod) if pod else _not_found("pods", match["name"])
        if (match := _OBJECT_PATH.fullmatch(path)) and match["resource"] in _KINDS:
            return self._get_object(identity, match["ns"], match["resource"], match["name"])
        if _TOKEN_PATH.fullmatch(path) or path in (_ACCESS_REVIEW_PATH, _SELF_REVIEW_PATH):
            return _method_not_allowed()
        return _page_not_found()

    def _dispatch_post(self, request: Request, path: str, identity: Identity) -> Response:
        try:
            if match := _TOKEN_PATH.fullmatch(path):
                return self._request_token(request, identity, match["ns"], match["name"])
            if path == _ACCESS_REVIEW_PATH:
                return self._review_access(request, identity)
            if path == _SELF_REVIEW_PATH:
                return self._review_self(identity)
            match = _COLLECTION_PATH.fullmatch(path)
            if match and match["resource"] == "pods":
                return self._create_pod(request, identity, match["ns"])
        except BadRequestBody as exc:
            return _status(400, "BadRequest", str(exc))
        if _NAMESPACE_PATH.fullmatch(path) or _OBJECT_PATH.fullmatch(path):
            return _method_not_allowed()
        return _page_not_found()

    def _list_namespaces(self, identity: Identity) -> Response:
        visible = [
            namespace
            for name, namespace in sorted(self._namespaces.items())
            if self.authorize(identity, "get", namespace=name, resource="namespaces")
        ]
        return Response.json(200, self._list("NamespaceList", visible))

    def _get_namespace(self, identity: Identity, name: str) -> Response:
        if not self.authorize(identity, "get", namespace=name, resource="namespaces"):
            return _forbidden(identity, "get", "namespaces", name, name)
        if name not in self._namespaces:
            return _not_found("namespaces", name)
        return Response.json(200, self._namespaces[name])

    def _get_object(self, identity: Identity, namespace: str, resource: str, name: str) -> Response:
        if not self.authorize(identity, "get", namespace=namespace, resource=resource):
            return _forbidden(identity, "get", resource, namespace, name)
        found = self._objects.get((resource, namespace, name))
        if found is None:
            return _not_found(resource, name)
        return Response.json(200, found)

    def _list_objects(
        self, request: Request, identity: Identity, namespace: str, resource: str
    ) -> Response:
        if not self.authorize(identity, "list", namespace=namespace, resource=resource):
            return _forbidden(identity, "list", resource, namespace)
        try:
            fields = parse_selector(request.param("fieldSelector"))
            labels = parse_selector(request.param("labelSelector"))
        except SelectorError as exc:
            return _status(400, "BadRequest", str(exc))
        unsupported = [key for key, _, _ in fields if key not in _FIELD_LABELS]
        if unsupported:
            return _status(400, "BadRequest", f"field label not supported: {unsupported[0]}")
        items = [
            obj
            for (kind, ns, _), obj in sorted(self._objects.items())
            if kind == resource
            and ns == namespace
            and selector_matches(fields, _field_lookup(obj))
            and selector_matches(labels, _label_lookup(obj))
        ]
        return Response.json(200, self._list(f"{_KINDS[resource]}List", items))

    def _request_token(
        self, request: Request, identity: Identity, namespace: str, name: str
    ) -> Response:
        if not self.authorize(identity, "create", namespace=namespace, resource="serviceaccounts"):
            return _forbidden(identity, "create", "serviceaccounts", namespace, name, "token")
        account = self._objects.get(("serviceaccounts", namespace, name))
        if account is None:
            return _not_found("serviceaccounts", name)
        spec = request.json_object().get("spec") or {}
        requested = spec.get("expirationSeconds") or DEFAULT_TOKEN_REQUEST_SECONDS
        if not isinstance(requested, int) or requested < MIN_TOKEN_REQUEST_SECONDS:
            return _invalid(
                "TokenRequest.authentication.k8s.io",
                name,
                f"spec.expirationSeconds: Invalid value: {requested}: "
                "may not specify a duration less than 10 minutes",
            )
        lifetime = min(float(requested), float(self.token_ttl_seconds))
        audiences = spec.get("audiences") or [DEFAULT_AUDIENCE]
        now = self.tokens.clock()
        expires_at = now + lifetime
        user = service_account_user(namespace, name)
        token = jwt_shaped_token(
            {
                "aud": audiences,
                "exp": int(expires_at),
                "iat": int(now),
                "iss": DEFAULT_AUDIENCE,
                "sub": user,
                "kubernetes.io": {
                    "namespace": namespace,
                    "serviceaccount": {"name": name, "uid": account["metadata"]["uid"]},
                },
            }
        )
        self.tokens.add(token, user=user, namespaces={namespace}, expires_at=expires_at)
        self.issued_tokens.append(token)
        review = {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"name": name, "namespace": namespace, "creationTimestamp": None},
            "spec": {
                "audiences": audiences,
                "expirationSeconds": int(lifetime),
                "boundObjectRef": spec.get("boundObjectRef"),
            },
            "status": {"token": token, "expirationTimestamp": rfc3339(expires_at)},
        }
        return Response.json(201, review)

    def _review_access(self, request: Request, identity: Identity) -> Response:
        review = request.json_object()
        spec = review.get("spec") or {}
        attributes = spec.get("resourceAttributes")
        if attributes:
            # A subresource is asked as resource + subresource ("pods" + "exec"), and
            # authorized as the API authorizes its requests ("pods/exec").
            resource = attributes.get("resource", "")
            if attributes.get("subresource"):
                resource = f"{resource}/{attributes['subresource']}"
            allowed = self.authorize(
                identity,
                attributes.get("verb", ""),
                namespace=attributes.get("namespace", ""),
                resource=resource,
                group=attributes.get("group", ""),
            )
        elif spec.get("nonResourceAttributes"):
            allowed = True  # /healthz, /version...: every authenticated user may read them
        else:
            return _invalid(
                "SelfSubjectAccessReview.authorization.k8s.io",
                "",
                'spec.resourceAttributes: Invalid value: "null": exactly one of '
                "nonResourceAttributes or resourceAttributes must be specified",
            )
        status: dict[str, Any] = {"allowed": allowed}
        if allowed:
            status["reason"] = (
                f'RBAC: allowed by RoleBinding "{identity.user}" of ClusterRole "edit" '
                f'to User "{identity.user}"'
            )
        answer = {
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": spec,
            "status": status,
        }
        return Response.json(201, answer)

    def _review_self(self, identity: Identity) -> Response:
        groups = ["system:authenticated"]
        if identity.user.startswith("system:serviceaccount:"):
            namespace = identity.user.split(":")[2]
            groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}", *groups]
        answer = {
            "kind": "SelfSubjectReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "status": {"userInfo": {"username": identity.user, "groups": groups}},
        }
        return Response.json(201, answer)

    # -- pods ---------------------------------------------------------------------------

    def _create_pod(self, request: Request, identity: Identity, namespace: str) -> Response:
        if not self.authorize(identity, "create", namespace=namespace, resource="pods"):
            return _forbidden(identity, "create", "pods", namespace)
        pod = request.json_object()
        metadata = pod.setdefault("metadata", {})
        name = metadata.get("name") or ""
        if not name and metadata.get("generateName"):
            name = generated_name(str(metadata["generateName"]))
        if not name or invalid_name_reason(name):
            reason = invalid_name_reason(name) if name else "name or generateName is required"
            return _invalid("Pod", name, f"metadata.name: Invalid value: {name!r}: {reason}")
        containers = (pod.get("spec") or {}).get("containers") or []
        if not containers or not all(c.get("name") and c.get("image") for c in containers):
            return _invalid(
                "Pod", name, "spec.containers: Required value: a name and an image each"
            )
        if ("pods", namespace, name) in self._objects:
            return _status(
                409,
                "AlreadyExists",
                f'pods "{name}" already exists',
                {"name": name, "kind": "pods"},
            )
        metadata.update(
            {k: v for k, v in self._new_metadata(name, namespace).items() if k != "name"},
            name=name,
        )
        pod.update(apiVersion="v1", kind="Pod")
        pod["status"] = {"phase": "Pending", "qosClass": "BestEffort"}
        self._store("pods", pod)
        self._pod_reads[(namespace, name)] = 0
        self._pod_created[(namespace, name)] = self.clock()
        return Response.json(201, pod)

    def _advance_pod(self, namespace: str, name: str) -> dict[str, Any] | None:
        """Read a pod, one step further in its life; None when there is none."""
        pod = self._objects.get(("pods", namespace, name))
        if pod is None:
            return None
        status = pod["status"]
        reads = self._pod_reads.get((namespace, name), 0) + 1
        self._pod_reads[(namespace, name)] = reads
        now = self.clock()
        if status["phase"] == "Pending":
            missing = [
                c
                for c in _claims_of(pod)
                if ("persistentvolumeclaims", namespace, c) not in self._objects
            ]
            if missing:
                status["conditions"] = [
                    {
                        "type": "PodScheduled",
                        "status": "False",
                        "reason": "Unschedulable",
                        "message": f'0/1 nodes are available: persistentvolumeclaim "{missing[0]}" '
                        "not found. preemption: 0/1 nodes are available.",
                    }
                ]
            elif self.pods_never_start:
                status["containerStatuses"] = [
                    {
                        "name": c["name"],
                        "image": c["image"],
                        "imageID": "",
                        "ready": False,
                        "restartCount": 0,
                        "state": {
                            "waiting": {
                                "reason": self.pods_never_start,
                                "message": f'Back-off pulling image "{c["image"]}"',
                            }
                        },
                    }
                    for c in pod["spec"]["containers"]
                ]
            elif reads >= self.pod_start_reads:
                status.update(
                    phase="Running",
                    startTime=rfc3339(now),
                    hostIP="10.0.0.7",
                    podIP="10.244.0.9",
                    conditions=[{"type": "Ready", "status": "True"}],
                    containerStatuses=[
                        {
                            "name": c["name"],
                            "image": c["image"],
                            "imageID": f"docker.io/library/{c['image']}@sha256:{'0' * 64}",
                            "containerID": f"containerd://{new_uid().replace('-', '')}",
                            "ready": True,
                            "restartCount": 0,
                            "started": True,
                            "state": {"running": {"startedAt": rfc3339(now)}},
                        }
                        for c in pod["spec"]["containers"]
                    ],
                )
        deadline = (pod.get("spec") or {}).get("activeDeadlineSeconds")
        started = self._pod_created.get((namespace, name), now)
        if deadline and status["phase"] in ("Pending", "Running") and now - started > deadline:
            status.update(
                phase="Failed",
                reason="DeadlineExceeded",
                message="Pod was active on the node longer than the specified deadline",
            )
        pod["metadata"]["resourceVersion"] = self._versions.next()
        return pod

    def _delete_pod(self, identity: Identity, namespace: str, name: str) -> Response:
        if not self.authorize(identity, "delete", namespace=namespace, resource="pods"):
            return _forbidden(identity, "delete", "pods", namespace, name)
        pod = self._objects.pop(("pods", namespace, name), None)
        if pod is None:
            return _not_found("pods", name)
        self.deleted_pods.append(name)
        pod["metadata"]["deletionTimestamp"] = rfc3339()
        pod["metadata"]["deletionGracePeriodSeconds"] = 0
        return Response.json(200, pod)

    def _pod_log(self, request: Request, identity: Identity, namespace: str, name: str) -> Response:
        if not self.authorize(identity, "get", namespace=namespace, resource="pods/log"):
            return _forbidden(identity, "get", "pods", namespace, name, "log")
        with self._lock:
            own = self._objects.get(("pods", namespace, name))
        controller = self.workflow_controller
        if own is None and controller.pod_log(namespace, name) is None:
            return _not_found("pods", name)
        follow = (request.param("follow") or "").lower() == "true"
        tail = request.param("tailLines")

        def content() -> bytes:
            if own is not None:
                return self.pod_logs.get((namespace, name), b"")
            return controller.pod_log(namespace, name) or b""

        def finished() -> bool:
            if own is not None:
                return own["status"]["phase"] not in ("Pending", "Running") or name not in [
                    p["metadata"]["name"] for p in self.pods(namespace)
                ]
            phase = controller.workflow_pods(namespace).get(name, ("", "", "Running"))[2]
            return phase not in ("Pending", "Running")

        def chunks() -> Any:
            data = content()
            if tail and tail.isdigit() and not follow:
                data = b"".join(data.splitlines(keepends=True)[-int(tail) :])
            sent = len(data)
            yield data
            while follow and not finished():
                if self._stopping.wait(FOLLOW_STEP_S):
                    return
                for workflow in {w for w, _, _ in controller.workflow_pods(namespace).values()}:
                    controller.read_workflow(namespace, workflow)
                data = content()
                yield data[sent:]
                sent = len(data)

        return Response(200, content_type="text/plain", stream=chunks())

    def _pod_exec(
        self, request: Request, identity: Identity, namespace: str, name: str
    ) -> Response:
        if not self.authorize(identity, "create", namespace=namespace, resource="pods/exec"):
            return _forbidden(identity, "create", "pods", namespace, name, "exec")
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return _status(400, "BadRequest", "Upgrade request required")
        protocols = offered_protocols(request.headers.get("Sec-WebSocket-Protocol"))
        if V4_CHANNEL_PROTOCOL not in protocols:
            return _status(400, "BadRequest", "no supported subprotocol offered")
        with self._lock:
            pod = self._objects.get(("pods", namespace, name))
            if pod is None:
                return _not_found("pods", name)
            phase = pod["status"]["phase"]
            if phase == "Pending":
                return _status(400, "BadRequest", f"pod {name} does not have a host assigned")
            if phase != "Running":
                return _status(
                    400,
                    "BadRequest",
                    f"cannot exec into a container in a completed pod; current phase is {phase}",
                )
            mounts = self._mounts_of(pod, namespace)
        command = request.query.get("command") or []
        stopping, override = self._stopping, self.exec_override
        return Response(
            101,
            headers={
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Accept": accept_key(request.headers.get("Sec-WebSocket-Key", "")),
                "Sec-WebSocket-Protocol": V4_CHANNEL_PROTOCOL,
            },
            upgrade=lambda reader, writer: serve_exec(
                command, mounts, reader, writer, stopping=stopping, override=override
            ),
        )

    def _mounts_of(self, pod: dict[str, Any], namespace: str) -> dict[str, Path]:
        """Mount path -> local directory, for the claims of the pod that have contents."""
        volumes = {
            v.get("name"): (v.get("persistentVolumeClaim") or {}).get("claimName")
            for v in pod["spec"].get("volumes") or []
        }
        mounts: dict[str, Path] = {}
        for container in pod["spec"]["containers"]:
            for mount in container.get("volumeMounts") or []:
                claim = volumes.get(mount.get("name"))
                directory = self._volume_contents.get((namespace, claim or ""))
                if directory is not None:
                    sub = mount.get("subPath") or ""
                    mounts[mount["mountPath"]] = directory / sub if sub else directory
        return mounts

    # -- Workflow custom resources ---------------------------------------------------------

    def _dispatch_workflows(self, request: Request, path: str, identity: Identity) -> Response:
        from hera_utils.testing.argo_server import ArgoError

        controller = self.workflow_controller
        collection = _WORKFLOWS_PATH.fullmatch(path)
        match = collection or _WORKFLOW_PATH.fullmatch(path)
        assert match is not None
        namespace = match["ns"]
        name = "" if collection else match["name"]
        verb = {"GET": "list" if collection else "get", "POST": "create", "PUT": "update"}.get(
            request.method, "delete"
        )
        allowed = ("GET", "POST") if collection else ("GET", "PUT", "DELETE")
        if request.method not in allowed:
            return _method_not_allowed()
        if not self.authorize(
            identity, verb, namespace=namespace, resource="workflows", group=WORKFLOW_GROUP
        ):
            return _forbidden(identity, verb, "workflows", namespace, name, group=WORKFLOW_GROUP)
        try:
            if request.method == "POST":
                return self._create_workflow(request, namespace)
            if request.method == "GET" and collection:
                return self._list_workflows(request, namespace)
            if request.method == "GET":
                return Response.json(200, controller.read_workflow(namespace, name))
            if request.method == "PUT":
                return self._update_workflow(request, namespace, name)
            with controller._lock:
                if (namespace, name) not in controller.workflows:
                    return _not_found("workflows.argoproj.io", name)
                controller.workflows.pop((namespace, name))
                controller._runs.pop((namespace, name), None)
            return _status_success("workflows", name)
        except BadRequestBody as exc:
            return _status(400, "BadRequest", str(exc))
        except ArgoError as exc:
            if exc.code == 5:
                return _not_found("workflows.argoproj.io", name)
            if exc.code == 6:
                details = {"name": name, "kind": "workflows"}
                return _status(409, "AlreadyExists", exc.message, details)
            return _invalid("Workflow.argoproj.io", name, exc.message)

    def _create_workflow(self, request: Request, namespace: str) -> Response:
        workflow = request.json_object()
        if (
            workflow.get("apiVersion") != f"{WORKFLOW_GROUP}/v1alpha1"
            or workflow.get("kind") != "Workflow"
        ):
            return _status(
                400,
                "BadRequest",
                f"the API version in the data ({workflow.get('apiVersion')}) does not match "
                f"the expected API version ({WORKFLOW_GROUP}/v1alpha1)",
            )
        metadata = workflow.setdefault("metadata", {})
        if metadata.get("namespace") not in (None, namespace):
            return _status(
                400,
                "BadRequest",
                "the namespace of the provided object does not match the namespace sent on "
                "the request",
            )
        metadata["namespace"] = namespace
        dry_run = request.param("dryRun") == "All"
        stored = self.workflow_controller.store_workflow(namespace, workflow, dry_run=dry_run)
        return Response.json(201, stored)

    def _list_workflows(self, request: Request, namespace: str) -> Response:
        controller = self.workflow_controller
        try:
            labels = parse_selector(request.param("labelSelector"))
        except SelectorError as exc:
            return _status(400, "BadRequest", str(exc))
        with controller._lock:
            items = [
                obj
                for (ns, _), obj in sorted(controller.workflows.items())
                if ns == namespace and selector_matches(labels, _labels(obj).get)
            ]
            answer = {
                "apiVersion": f"{WORKFLOW_GROUP}/v1alpha1",
                "kind": "WorkflowList",
                "metadata": {"resourceVersion": self._versions.next()},
                "items": copy.deepcopy(items),
            }
        return Response.json(200, answer)

    def _update_workflow(self, request: Request, namespace: str, name: str) -> Response:
        """A replace; one that sets a finished workflow Running again is a retry."""
        controller = self.workflow_controller
        body = request.json_object()
        with controller._lock:
            current = controller.workflows.get((namespace, name))
            if current is None:
                return _not_found("workflows.argoproj.io", name)
            version = (body.get("metadata") or {}).get("resourceVersion")
            if version and version != current["metadata"]["resourceVersion"]:
                return _status(
                    409,
                    "Conflict",
                    f'Operation cannot be fulfilled on workflows.argoproj.io "{name}": the '
                    "object has been modified; please apply your changes to the latest "
                    "version and try again",
                    {"name": name, "group": WORKFLOW_GROUP, "kind": "workflows"},
                )
            labels = (body.get("metadata") or {}).get("labels") or {}
            wants_run = (body.get("status") or {}).get("phase") in ("Running", "", None)
            run = controller._runs.get((namespace, name))
            completed = labels.get("workflows.argoproj.io/completed") == "true"
            if wants_run and not completed and run and run.finished and run.phase != "Succeeded":
                return Response.json(200, controller.retry_workflow(namespace, name))
            current["metadata"]["labels"] = {**_labels(current), **labels}
            current["metadata"]["resourceVersion"] = self._versions.next()
            return Response.json(200, current)

    # -- helpers ------------------------------------------------------------------------

    def _new_metadata(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        metadata: dict[str, Any] = {"name": name}
        if namespace is not None:
            metadata["namespace"] = namespace
        metadata.update(
            uid=new_uid(),
            resourceVersion=self._versions.next(),
            creationTimestamp=rfc3339(),
        )
        return metadata

    def _store(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        namespace = obj["metadata"]["namespace"]
        with self._lock:
            self.add_namespace(namespace)  # as if it had been created first
            self._objects[(resource, namespace, obj["metadata"]["name"])] = obj
        return obj

    def _list(self, kind: str, items: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "kind": kind,
            "apiVersion": "v1",
            "metadata": {"resourceVersion": self._versions.next()},
            "items": copy.deepcopy(items),
        }

    def _api_versions(self) -> dict[str, Any]:
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": self.host_port}
            ],
        }


_API_GROUPS = {
    "kind": "APIGroupList",
    "apiVersion": "v1",
    "groups": [
        {
            "name": group,
            "versions": [{"groupVersion": f"{group}/{version}", "version": version}],
            "preferredVersion": {"groupVersion": f"{group}/{version}", "version": version},
        }
        for group, version in (
            ("authentication.k8s.io", "v1"),
            ("authorization.k8s.io", "v1"),
            ("argoproj.io", "v1alpha1"),
        )
    ],
}


def _status(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> Response:
    status: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        status["details"] = details
    status["code"] = code
    return Response.json(code, status)


def _forbidden(
    identity: Identity,
    verb: str,
    resource: str,
    namespace: str,
    name: str = "",
    subresource: str = "",
    group: str = "",
) -> Response:
    full_resource = f"{resource}/{subresource}" if subresource else resource
    qualified = f"{resource}.{group}" if group else resource
    subject = f'{qualified} "{name}"' if name else qualified
    message = (
        f'{subject} is forbidden: User "{identity.user}" cannot {verb} resource '
        f'"{full_resource}" in API group "{group}" in the namespace "{namespace}"'
    )
    details: dict[str, Any] = {"kind": resource}
    if name:
        details = {"name": name, "kind": resource}
    return _status(403, "Forbidden", message, details)


def _not_found(resource: str, name: str) -> Response:
    return _status(
        404, "NotFound", f'{resource} "{name}" not found', {"name": name, "kind": resource}
    )


def _invalid(kind: str, name: str, cause: str) -> Response:
    subject = f'{kind} "{name}"' if name else kind
    return _status(422, "Invalid", f"{subject} is invalid: {cause}", {"name": name, "kind": kind})


def _page_not_found() -> Response:
    return _status(404, "NotFound", "the server could not find the requested resource", {})


def _method_not_allowed() -> Response:
    return _status(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
    )


def _status_success(resource: str, name: str) -> Response:
    return Response.json(
        200,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {"name": name, "group": WORKFLOW_GROUP, "kind": resource},
        },
    )


def _claims_of(pod: Mapping[str, Any]) -> list[str]:
    return [
        claim
        for volume in (pod.get("spec") or {}).get("volumes") or []
        if (claim := (volume.get("persistentVolumeClaim") or {}).get("claimName"))
    ]


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = obj.get("metadata", {}).get("labels") or {}
    return labels


def _label_lookup(obj: Mapping[str, Any]) -> Callable[[str], str | None]:
    return _labels(obj).get


def _field_lookup(obj: Mapping[str, Any]) -> Callable[[str], str | None]:
    return lambda key: _FIELD_LABELS[key](obj)


def _b64(value: str | bytes) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return base64.b64encode(raw).decode("ascii")
