"""The Kubernetes cluster an experiment uses, through the official `kubernetes` client.

`k8s_cluster(args)` loads the kubeconfig and asserts that the API answers and accepts the
credentials; the `KubernetesCluster` it returns answers the questions the checks ask
(namespace, RBAC, volume claim, ConfigMap, service account) and hands out service-account
tokens. The client is imported only here, and only when a cluster is actually used.
Every call carries `request_timeout`; failures become typed `AccessError`s with hints.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

from .credential_files import private_credential_dir
from .errors import (
    AccessError,
    ConfigurationError,
    ForbiddenError,
    MalformedAnswerError,
    NotFoundError,
    RequestTimeoutError,
    ServerError,
    TLSVerificationError,
    UnauthorizedError,
    UnreachableError,
)
from .http import DNS, PLAIN_HTTP, REFUSED, TIMEOUT, TLS, StatusRule, transport_failure
from .kubeconfig import KubeconfigSelection, kubeconfig_paths, select_context
from .settings import DEFAULT_TIMEOUT, Settings

T = TypeVar("T")
WORKFLOW_GROUP = "argoproj.io"


# What the client imports lazily on first use, for the classes this module uses and the
# objects their answers are read into.
_CLIENT_CLASSES = (
    "ApiClient", "AuthenticationV1TokenRequest", "AuthorizationV1Api", "Configuration",
    "CoreV1Api", "CustomObjectsApi", "V1ResourceAttributes", "V1SelfSubjectAccessReview",
    "V1SelfSubjectAccessReviewSpec", "V1TokenRequestSpec", "VersionApi", "VersionInfo",
    "V1Namespace", "V1PersistentVolumeClaim", "V1ConfigMap", "V1ServiceAccount", "V1Secret",
    "V1Status",
)


def import_client() -> None:
    """Import the parts of the official client this module uses (slow: done when needed).

    The client imports its classes lazily, on first use; two threads doing that at once
    may meet a half-initialised module, so callers about to start threads call this first.
    """
    import kubernetes.client
    import kubernetes.config
    import yaml  # noqa: F401  (the kubeconfig reader)

    for name in _CLIENT_CLASSES:
        getattr(kubernetes.client, name)


def k8s_cluster(args: Settings) -> KubernetesCluster:
    """Load the kubeconfig named by the settings and assert that the cluster answers."""
    cluster = KubernetesCluster.from_settings(args)
    cluster.verify_credentials()
    return cluster


class KubernetesCluster:
    """A Kubernetes cluster reached through a kubeconfig context, in one namespace."""

    def __init__(self, selection: KubeconfigSelection, namespace: str, timeout: float) -> None:
        self.selection = selection
        self.namespace = namespace
        self.timeout = timeout
        self._api_client: Any = None
        # What this cluster has confirmed (claim Bound, ConfigMap data): a command that
        # checks access and then builds its environment asks the API once for each.
        self._confirmed: dict[tuple[str, str], Any] = {}

    @classmethod
    def from_settings(cls, args: Settings) -> KubernetesCluster:
        """Read the kubeconfig (files, context, namespace) without touching the network."""
        args = Settings.from_namespace(args)
        paths = kubeconfig_paths(args.k8s_config_file)
        selection = select_context(paths, args.k8s_context)
        namespace = args.argo_namespace or selection.namespace or "default"
        timeout = float(args.request_timeout or DEFAULT_TIMEOUT)
        return cls(selection, namespace, timeout)

    @property
    def server(self) -> str:
        """The API server URL of the chosen context."""
        return self.selection.server

    @property
    def api_client(self) -> Any:
        """The official client's `ApiClient` for this context (created on first use)."""
        if self._api_client is None:
            self._api_client = self._new_api_client()
        return self._api_client

    def _new_api_client(self) -> Any:
        from kubernetes import client, config

        configuration = client.Configuration()
        try:
            self._load_kubeconfig(configuration)
        except config.ConfigException as error:
            raise ConfigurationError(
                f"kubeconfig context {self.selection.context!r} cannot be used: "
                f"{_first_line(str(error))}",
                hint="download a fresh kubeconfig from your cluster",
                setting="k8s_config_file",
            ) from error
        # One attempt per call: a retried refused port would multiply the wait.
        configuration.retries = False
        _register_credentials(configuration)
        return client.ApiClient(configuration)

    def _load_kubeconfig(self, configuration: Any) -> None:
        """Load the context into `configuration`, an exec credential plugin bounded in time.

        The client runs the plugin (e.g. `aws eks get-token`, `kubelogin`) while loading
        and waits for it without limit; here the wait is bounded by `request_timeout`.
        """
        import threading

        from kubernetes import config

        outcome: list[BaseException | None] = []

        def load() -> None:
            try:
                config.load_kube_config(  # type: ignore[no-untyped-call]
                    config_file=self.selection.config_file,
                    context=self.selection.context,
                    client_configuration=configuration,
                    persist_config=False,
                    temp_file_path=private_credential_dir(),
                )
                outcome.append(None)
            except BaseException as error:  # handed to the caller's thread
                outcome.append(error)

        command = self.selection.exec_command
        if command is None:
            load()
        else:
            loader = threading.Thread(target=load, name="kubeconfig-exec", daemon=True)
            loader.start()
            limit = self.timeout
            loader.join(limit)
            if not outcome:
                raise RequestTimeoutError(
                    f"the kubeconfig's exec credential plugin {command!r} gave no "
                    f"credentials within {limit:g}s",
                    hint=f"run {command!r} by hand to see what it waits for (a login, a "
                    "prompt, a network); or use a kubeconfig with a token",
                    setting="k8s_config_file",
                )
        if outcome and outcome[0] is not None:
            raise outcome[0]
        if command is not None and not (
            configuration.api_key.get("BearerToken") or configuration.cert_file
        ):
            raise UnauthorizedError(
                f"the kubeconfig's exec credential plugin {command!r} gave no credentials",
                hint=f"run {command!r} by hand: it must print an ExecCredential (log in first?)",
                setting="k8s_config_file",
            )

    # -- questions the checks ask -------------------------------------------------------

    def server_version(self) -> str:
        """The API server's version (`/version`); proves the API is reachable."""
        from kubernetes import client

        info = self.call("the Kubernetes API", client.VersionApi(self.api_client).get_code)
        return str(getattr(info, "git_version", "") or "unknown")

    def verify_credentials(self) -> str:
        """Assert the API answers and accepts our credentials; return the server version.

        `/version` is public on most clusters, so we also create a SelfSubjectAccessReview,
        which every authenticated user may do and which has no side effects.
        """
        version = self.server_version()
        self.can_i("get", "namespaces", group="", namespace=self.namespace)
        return version

    def can_i(
        self,
        verb: str,
        resource: str,
        *,
        group: str = "",
        namespace: str | None = None,
        subresource: str = "",
    ) -> tuple[bool, str]:
        """Ask the API (SelfSubjectAccessReview) whether we may `verb` `resource`."""
        from kubernetes import client

        review = client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(
                resource_attributes=client.V1ResourceAttributes(
                    verb=verb,
                    resource=resource,
                    group=group,
                    namespace=namespace or self.namespace,
                    subresource=subresource or None,
                )
            )
        )
        api = client.AuthorizationV1Api(self.api_client)
        answer = self.call("the Kubernetes API", api.create_self_subject_access_review, review)
        status = self.present(answer.status, "the access review's status")
        return bool(status.allowed), str(status.reason or "")

    def read_namespace(self) -> Any:
        """Read this namespace; `NotFoundError`/`ForbiddenError` when it cannot be used."""
        from kubernetes import client

        return self.call(
            f"namespace {self.namespace!r}",
            client.CoreV1Api(self.api_client).read_namespace,
            self.namespace,
            setting="argo_namespace",
        )

    def volume_claim_phase(self, name: str) -> str:
        """The phase (Bound, Pending, Lost) of the volume claim `name` in this namespace."""
        from kubernetes import client

        claim = self.call(
            f"volume claim {name!r}",
            client.CoreV1Api(self.api_client).read_namespaced_persistent_volume_claim,
            name,
            self.namespace,
            setting="k8s_volume_claim_name",
        )
        return str(getattr(claim.status, "phase", None) or "Unknown")

    def assert_volume_claim(self, name: str) -> str:
        """Assert the volume claim exists and is Bound; return its phase."""
        if ("claim", name) in self._confirmed:
            return str(self._confirmed["claim", name])
        phase = self.volume_claim_phase(name)
        if phase != "Bound":
            raise AccessError(
                f"volume claim {name!r} in namespace {self.namespace!r} is {phase}, not Bound",
                hint=f"kubectl describe pvc {name} -n {self.namespace} tells why; a claim whose "
                "storage class waits for a first consumer binds when a pod uses it",
                setting="k8s_volume_claim_name",
            )
        self._confirmed["claim", name] = phase
        return phase

    def assert_configmap(self, name: str) -> dict[str, str]:
        """Assert the ConfigMap exists; return its data."""
        from kubernetes import client

        if ("configmap", name) in self._confirmed:
            return dict(self._confirmed["configmap", name])
        configmap = self.call(
            f"ConfigMap {name!r}",
            client.CoreV1Api(self.api_client).read_namespaced_config_map,
            name,
            self.namespace,
            setting="k8s_configmap_name",
        )
        self._confirmed["configmap", name] = dict(configmap.data or {})
        return dict(configmap.data or {})

    def assert_service_account(self, name: str) -> Any:
        """Assert the service account exists; return it."""
        from kubernetes import client

        return self.call(
            f"service account {name!r}",
            client.CoreV1Api(self.api_client).read_namespaced_service_account,
            name,
            self.namespace,
            setting="argo_service_account",
        )

    # -- tokens ---------------------------------------------------------------------------

    def request_service_account_token(
        self, name: str, *, expiration_seconds: int = 3600
    ) -> tuple[str, dt.datetime | None]:
        """A short-lived token of service account `name` (TokenRequest API, Kubernetes 1.22+)."""
        from kubernetes import client

        body = client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=expiration_seconds)
        )
        try:
            answer = self.call(
                f"a token for service account {name!r}",
                client.CoreV1Api(self.api_client).create_namespaced_service_account_token,
                name,
                self.namespace,
                body,
                setting="argo_service_account",
            )
        except ForbiddenError as refused:
            # The token source is at fault, not the namespace: say what grants it.
            raise ForbiddenError(
                f"not allowed to request a token of service account {name!r} in namespace "
                f"{self.namespace!r} (TokenRequest: create serviceaccounts/token)",
                hint="ask your cluster admin for a Role allowing create on "
                "serviceaccounts/token for it, or set ARGO_TOKEN (from the Argo UI's User page)",
                setting="argo_auth_mode",
                status=403,
                url=self.server,
            ) from refused
        issued = self.present(answer.status, "the token request's status")
        return str(issued.token), issued.expiration_timestamp

    def read_legacy_service_account_token(self, name: str) -> str:
        """The token of the service account's legacy token Secret (clusters before 1.24).

        The Secret is the one the service account lists, or else one of type
        `kubernetes.io/service-account-token` annotated with the account's name (the form
        an administrator creates by hand on newer clusters).
        """
        from kubernetes import client

        core = client.CoreV1Api(self.api_client)
        account = self.assert_service_account(name)
        names = [ref.name for ref in (account.secrets or []) if getattr(ref, "name", None)]
        if not names:
            listed = self.call(
                "service-account token Secrets",
                core.list_namespaced_secret,
                self.namespace,
                field_selector="type=kubernetes.io/service-account-token",
                setting="argo_service_account",
            )
            names = [
                str(s.metadata.name)
                for s in listed.items or []
                if s.metadata is not None
                and (s.metadata.annotations or {}).get("kubernetes.io/service-account.name") == name
            ]
        for secret_name in names:
            secret = self.call(
                f"Secret {secret_name!r}",
                core.read_namespaced_secret,
                secret_name,
                self.namespace,
                setting="argo_service_account",
            )
            token = (secret.data or {}).get("token")
            if secret.type == "kubernetes.io/service-account-token" and token:
                return base64.b64decode(token).decode()
        raise NotFoundError(
            f"service account {name!r} in namespace {self.namespace!r} has no token Secret",
            hint="since Kubernetes 1.24 such Secrets are not created automatically: use "
            "argo_auth_mode=token-request, or ask your admin to create one",
            setting="argo_service_account",
        )

    # -- plumbing ---------------------------------------------------------------------------

    def present(self, value: T | None, what: str) -> T:
        """`value` of an answer, which the API always sends: its absence is a malformed answer."""
        if value is None:
            raise MalformedAnswerError(
                f"the Kubernetes API at {self.server} answered without {what}",
                hint="check that k8s_config_file's server is a Kubernetes API server",
                setting="k8s_config_file",
                url=self.server,
            )
        return value

    def call(
        self,
        what: str,
        method: Callable[..., T],
        *args: Any,
        setting: str = "k8s_config_file",
        **kwargs: Any,
    ) -> T:
        """Call the official client's `method` bounded by the timeout; failures become
        `AccessError`s naming `what` and the `setting` to change."""
        from kubernetes.client.exceptions import ApiException

        try:
            return method(*args, _request_timeout=(self.timeout, self.timeout), **kwargs)
        except ApiException as error:
            if not error.status:
                # The client reports transport failures (TLS, refused...) as status 0.
                raise self._transport_error(error) from error
            raise self._api_error(what, error, setting) from error
        except ConfigurationError:
            raise
        except Exception as error:  # urllib3 / ssl / socket failures come in many types
            raise self._transport_error(error) from error

    def _api_error(self, what: str, error: Any, setting: str) -> AccessError:
        status = int(error.status or 0)
        rule = KUBERNETES_STATUSES.get(status) or KUBERNETES_STATUSES[None]
        return rule.build(status, {
            "what": what,
            "url": self.server,
            "setting": setting,
            "namespace": self.namespace,
            "context": self.selection.context,
            "message": _status_message(error),
            "missing_hint": _missing_hint(setting, self.namespace),
        })

    def _transport_error(self, error: BaseException) -> AccessError:
        kind = transport_failure(error)
        url, setting = self.server, "k8s_config_file"
        if kind in (TLS, PLAIN_HTTP):
            return TLSVerificationError(
                f"the TLS certificate of the Kubernetes API at {url} could not be verified",
                hint="the kubeconfig's certificate-authority-data does not match this server: "
                "download the kubeconfig again",
                setting=setting,
                url=url,
            )
        if kind == TIMEOUT:
            return RequestTimeoutError(
                f"the Kubernetes API at {url} did not answer within {self.timeout:g} s",
                hint="check your network/VPN; raise HERA_UTILS_TIMEOUT if the API is just slow",
                setting=setting,
                url=url,
            )
        if kind == DNS:
            return UnreachableError(
                f"the host of the Kubernetes API ({url}) is unknown (DNS)",
                hint="check your VPN, or the server in your kubeconfig",
                setting=setting,
                url=url,
            )
        if kind == REFUSED:
            return UnreachableError(
                f"the Kubernetes API at {url} refused the connection",
                hint="check the server address in your kubeconfig and that the cluster is up",
                setting=setting,
                url=url,
            )
        return UnreachableError(
            f"the Kubernetes API at {url} could not be reached ({type(error).__name__})",
            hint="check your network and the server in your kubeconfig",
            setting=setting,
            url=url,
        )


_MISSING_HINTS = {
    "k8s_volume_claim_name": "create it (kubectl get pvc -n {ns} lists the existing ones) or set "
    "KUBEVOLUMECLAIMNAME / k8s_volume_claim_name to an existing claim",
    "k8s_configmap_name": "create it (kubectl get configmap -n {ns}) or set KUBECONFIGMAPNAME / "
    "k8s_configmap_name to an existing one",
    "argo_service_account": "set ARGO_SERVICE_ACCOUNT to an existing account "
    "(kubectl get sa -n {ns}) or ask your admin to create it",
    "argo_namespace": "set ARGO_NAMESPACE to an existing namespace you were granted",
}


KUBERNETES_STATUSES: dict[int | None, StatusRule] = {
    401: StatusRule(
        UnauthorizedError,
        "the Kubernetes API rejected the credentials of context {context!r} (401)",
        "your kubeconfig's token or certificate has expired: download a fresh kubeconfig "
        "from your cluster's UI",
        setting="k8s_config_file",
    ),
    403: StatusRule(
        ForbiddenError,
        "not allowed to read {what} in namespace {namespace!r} (403: {message})",
        "ask your cluster admin for a role in namespace {namespace!r}, or set ARGO_NAMESPACE "
        "to a namespace you were granted",
        setting="argo_namespace",
    ),
    404: StatusRule(NotFoundError, "{what} does not exist in namespace {namespace!r}",
                    "{missing_hint}"),
    None: StatusRule(
        ServerError,
        "the Kubernetes API failed on {what} (HTTP {status}: {message})",
        "retry later, or ask your cluster admin",
    ),
}


def _missing_hint(setting: str, namespace: str) -> str:
    return _MISSING_HINTS.get(setting, "check the name").format(ns=namespace)


def _status_message(error: Any) -> str:
    import json

    try:
        return str(json.loads(error.body or "{}").get("message") or error.reason)
    except (ValueError, AttributeError):
        return str(error.reason or "")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _register_credentials(configuration: Any) -> None:
    """Make the credentials the client loaded (exec plugins' tokens too) unprintable."""
    from .redaction import register_secret

    for value in (getattr(configuration, "api_key", None) or {}).values():
        register_secret(str(value))
    register_secret(getattr(configuration, "password", None))
