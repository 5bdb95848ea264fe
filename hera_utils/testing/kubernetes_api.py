"""An emulated Kubernetes API server: the few endpoints hera_utils uses, in real JSON.

Every request needs a valid bearer token (401 otherwise); what a user may do is decided
by `allowed_verbs` (403 with the API server's own message); errors are v1 `Status`
objects, so the official `kubernetes` client raises and parses them as it would against
a real cluster.
"""

from __future__ import annotations

import base64
import copy
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

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
_ACCESS_REVIEW_PATH = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
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
        with self._lock:
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
            and selector_matches(fields, lambda key, obj=obj: _FIELD_LABELS[key](obj))
            and selector_matches(labels, lambda key, obj=obj: _labels(obj).get(key))
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
            allowed = self.authorize(
                identity,
                attributes.get("verb", ""),
                namespace=attributes.get("namespace", ""),
                resource=attributes.get("resource", ""),
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
) -> Response:
    full_resource = f"{resource}/{subresource}" if subresource else resource
    subject = f'{resource} "{name}"' if name else resource
    message = (
        f'{subject} is forbidden: User "{identity.user}" cannot {verb} resource '
        f'"{full_resource}" in API group "" in the namespace "{namespace}"'
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


def _labels(obj: Mapping[str, Any]) -> dict[str, str]:
    return obj.get("metadata", {}).get("labels") or {}


def _b64(value: str | bytes) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return base64.b64encode(raw).decode("ascii")
