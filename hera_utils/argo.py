"""The Argo Server an experiment submits to: address, token, namespace, checks, Hera wiring.

`argo_server(cluster, args)` resolves the address and the token source and asserts that
the server answers and accepts the token in the namespace. `ArgoServer` then wires
Hera's `global_config` (`define_argo_server_part_of_environment`) and hands out
`WorkflowsService`s whose HTTP session bounds every call and verifies TLS.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

import requests

from .argo_endpoint import ArgoEndpoint, resolve_argo_endpoint
from .errors import AccessError, HeraUtilsWarning, MalformedAnswerError, UnauthorizedError
from .http import (
    BoundedSession,
    TokenAuth,
    ca_bundle_from_environment,
    hera_exception_error,
    parse_json,
    status_error,
    translate_request_error,
)
from .settings import DEFAULT_TIMEOUT, Settings
from .tokens import TokenSource, fallback_token_source, token_source

T = TypeVar("T")

if TYPE_CHECKING:
    from hera.workflows import WorkflowsService

    from .cluster import KubernetesCluster
    from .logs import LogLine


def argo_server(cluster: KubernetesCluster | None, args: Settings) -> ArgoServer:
    """Resolve the Argo Server of the settings and assert it answers and accepts the token."""
    server = ArgoServer.from_settings(cluster, args)
    server.version()
    server.prove_access(args, cluster=lambda: cluster)
    return server


class ArgoServer:
    """An Argo Server reached over HTTP(S) with a token source, for one namespace."""

    via = "argo-server"  # how workflows are submitted (see `k8s_workflows`)
    has_ui = True

    def __init__(
        self,
        endpoint: ArgoEndpoint,
        namespace: str,
        tokens: TokenSource,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        verify: bool | str = True,
        service_account: str | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.namespace = namespace
        self.tokens = tokens
        self.timeout = timeout
        self.verify = verify
        self.service_account = service_account
        self.session = BoundedSession(timeout=timeout, verify=verify)
        self.use_tokens(tokens)

    @classmethod
    def from_settings(
        cls, cluster: KubernetesCluster | None, args: Settings, tokens: TokenSource | None = None
    ) -> ArgoServer:
        """Build from the settings without touching the network (except to get a token).

        `tokens` overrides the token source the settings' auth mode would choose.
        """
        args = Settings.from_namespace(args)
        endpoint = resolve_argo_endpoint(
            args.argo_server or "",
            secure=bool(args.argo_secure),
            base_href=args.argo_base_href or "",
        )
        namespace = (
            args.argo_namespace
            or (cluster.namespace if cluster is not None else None)
            or "default"
        )
        verify: bool | str = True
        if args.argo_insecure_skip_verify:
            verify = False
            if endpoint.secure:
                warnings.warn(
                    "ARGO_INSECURE_SKIP_VERIFY is true: the Argo Server's certificate is not "
                    "verified, so the token could be sent to an impostor",
                    HeraUtilsWarning,
                    stacklevel=2,
                )
                # Said once above; urllib3 would otherwise repeat it on every request.
                import urllib3

                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        else:
            verify = ca_bundle_from_environment() or True
        if tokens is None:
            tokens = token_source(args, cluster)
        return cls(
            endpoint,
            namespace,
            tokens,
            timeout=float(args.request_timeout or DEFAULT_TIMEOUT),
            verify=verify,
            service_account=args.argo_service_account,
        )

    def prove_access(
        self, args: Settings, *, cluster: Callable[[], KubernetesCluster | None]
    ) -> None:
        """List the namespace's workflows with the token: proves token and namespace.

        In `auto` mode, an `argo_token` the server rejects (401) gives way to a token from
        the cluster (`argo_service_account`), and a warning says so; `cluster` is called
        only then.
        """
        try:
            self.tokens()
            self.list_workflows(limit=1)
            return
        except UnauthorizedError as rejected:
            fallback = fallback_token_source(args, rejected, cluster)
            if fallback is None:
                raise
        was, used = self.tokens.description, fallback.description
        fallback.description += f", in place of {was} that the Argo Server rejected (401)"
        self.use_tokens(fallback)
        self.list_workflows(limit=1)
        warnings.warn(
            f"the Argo Server rejected {was} (401); using {used} instead: renew ARGO_TOKEN, "
            "or unset it to always use the service account",
            HeraUtilsWarning,
            stacklevel=2,
        )

    def use_tokens(self, tokens: TokenSource) -> None:
        """Authenticate the next requests with `tokens`."""
        self.tokens = tokens
        self.session.auth = TokenAuth(tokens)
        if not self.endpoint.secure and tokens.mode != "none":
            warnings.warn(
                f"the Argo token ({tokens.description}) is sent over plain HTTP to "
                f"{self.endpoint.url}: anyone on the network path can read it; use https:// "
                "(ARGO_SECURE=true) unless the connection is a local port-forward",
                HeraUtilsWarning,
                stacklevel=2,
            )

    @property
    def url(self) -> str:
        """The server's base URL, ending with `/` (as Hera's `urljoin` needs)."""
        return self.endpoint.url

    def ui_url(self, workflow_name: str) -> str:
        """The Argo UI page of a workflow."""
        return f"{self.url}workflows/{self.namespace}/{workflow_name}"

    # -- requests ----------------------------------------------------------------------------

    def version(self) -> dict[str, Any]:
        """`GET /api/v1/version`: proves the server answers (the token is not checked there)."""
        return self._get("api/v1/version", setting="argo_server")

    def list_workflows(self, limit: int = 1) -> dict[str, Any]:
        """List workflows of the namespace: the request that proves the token and namespace.

        In the default `client` auth mode `/version` and `/info` answer anyone, so only a
        namespaced call tells a rejected token (401) from a forbidden namespace (403).
        """
        listed = self._get(
            f"api/v1/workflows/{self.namespace}",
            params={"listOptions.limit": str(limit)},
            setting="argo_token",
        )
        # A list answers `items` as a list (or null) and `metadata` as an object; anything
        # else is not the Argo Server's answer, and must not pass for a granted access.
        if not isinstance(listed.get("items") or [], list) or not isinstance(
            listed.get("metadata") or {}, dict
        ):
            raise MalformedAnswerError(
                f"the Argo Server at {self.url} answered the list of workflows with JSON that "
                "is not a workflow list",
                hint="check argo_server and argo_base_href: another service may answer there",
                setting="argo_server",
                url=self.url,
            )
        return listed

    def get_workflow(self, name: str) -> dict[str, Any]:
        """`GET` one workflow of the namespace, as the Argo Server's JSON."""
        return self._get(f"api/v1/workflows/{self.namespace}/{name}", setting="argo_namespace")

    def retry_workflow(self, name: str) -> dict[str, Any]:
        """`PUT .../retry`: re-run the failed part of a finished workflow (as `argo retry`)."""
        return self._get(
            f"api/v1/workflows/{self.namespace}/{name}/retry",
            setting="argo_namespace",
            method="PUT",
            body={"name": name, "namespace": self.namespace},
        )

    def get_streamed(
        self, url: str, *, params: dict[str, str], setting: str
    ) -> requests.Response:
        """A streamed `GET` (logs); the session's timeout bounds each wait for bytes."""
        try:
            response = self.session.get(url, params=params, stream=True)
        except requests.RequestException as error:
            raise self.unreachable(error) from error
        if response.status_code >= 400:
            try:
                raise status_error(
                    response, what="the Argo Server", url=self.url, setting=setting,
                    namespace=self.namespace,
                )
            finally:
                response.close()
        return response

    def _get(
        self,
        path: str,
        *,
        setting: str,
        params: dict[str, str] | None = None,
        method: str = "GET",
        body: Any = None,
    ) -> dict[str, Any]:
        url = self.url + path
        try:
            response = self.session.request(method, url, params=params, json=body)
        except requests.RequestException as error:
            raise self.unreachable(error) from error
        if response.status_code >= 400:
            raise self._explained(status_error(
                response,
                what="the Argo Server",
                url=self.url,
                setting="argo_server",
                namespace=self.namespace,
            ))
        body = parse_json(response, what="the Argo Server", url=self.url, setting="argo_server")
        if not isinstance(body, dict):
            raise AccessError(
                f"the Argo Server at {self.url} answered {path} with unexpected JSON",
                hint="check argo_server and argo_base_href",
                setting=setting,
            )
        return body

    def call(self, what: str, method: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Call a Hera `WorkflowsService` method, translating failures into `AccessError`s."""
        from hera.exceptions import HeraException

        try:
            return method(*args, **kwargs)
        except requests.RequestException as error:
            raise self.unreachable(error) from error
        except HeraException as error:
            raise self._explained(hera_exception_error(
                error, what=what, url=self.url, namespace=self.namespace
            )) from error

    def _explained(self, error: AccessError) -> AccessError:
        """A rejected token, explained for the source it came from, with that source's fix."""
        if not isinstance(error, UnauthorizedError):
            return error
        account = getattr(self.tokens, "service_account", self.service_account)
        if self.tokens.mode == "token-request":
            return UnauthorizedError(
                f"the Argo Server at {self.url} rejected the token Kubernetes issued for "
                f"service account {account!r} (401)",
                hint="the server may accept only its single sign-on (argo server --auth-mode "
                "sso): copy a token from the Argo UI's User page into ARGO_TOKEN, or ask its "
                "administrator to add --auth-mode client",
                setting="argo_auth_mode",
                status=401,
                url=self.url,
            )
        if self.tokens.mode == "sa-secret":
            return UnauthorizedError(
                f"the Argo Server at {self.url} rejected the token Secret of service account "
                f"{account!r} (401): the token was revoked, or the Secret re-created",
                hint="set argo_auth_mode=token-request (Kubernetes >= 1.22) to have a fresh "
                "token issued, or ask your cluster admin to re-create the token Secret",
                setting="argo_auth_mode",
                status=401,
                url=self.url,
            )
        if self.tokens.mode == "none":
            return UnauthorizedError(
                f"the Argo Server at {self.url} requires a token (401), and none is sent",
                hint="set ARGO_TOKEN (from the Argo UI's User page), or argo_service_account "
                "with argo_auth_mode=auto to have one requested from Kubernetes",
                setting="argo_auth_mode",
                status=401,
                url=self.url,
            )
        if self.tokens.description.startswith("an SSO token"):
            return UnauthorizedError(
                f"the Argo Server at {self.url} rejected the SSO token of argo_token (401): "
                "it has expired (an SSO token lasts as long as the Argo UI session that "
                "issued it)",
                hint="log in to the Argo UI again and copy the new token from its User page "
                "into ARGO_TOKEN; or set argo_service_account and argo_auth_mode=token-request "
                "to have tokens requested from Kubernetes",
                setting="argo_token",
                status=401,
                url=self.url,
            )
        return error

    def unreachable(self, error: requests.RequestException) -> AccessError:
        """A transport failure of a request to this server, as an `AccessError` with a hint."""
        return translate_request_error(
            error, url=self.url, what="the Argo Server", setting="argo_server", timeout=self.timeout
        )

    def task_log(
        self,
        workflow_name: str,
        pod: str | None = None,
        *,
        follow: bool = False,
        tail_lines: int | None = None,
    ) -> Iterator[LogLine]:
        """The main container's log lines of a workflow's pod (of every pod if None)."""
        from .logs import workflow_logs

        return workflow_logs(self, workflow_name, pod=pod, follow=follow, tail_lines=tail_lines)

    # -- Hera ------------------------------------------------------------------------------------

    def workflows_service(self) -> WorkflowsService:
        """A Hera `WorkflowsService` for this server, sharing our bounded, verifying session."""
        from hera.workflows import WorkflowsService

        return WorkflowsService(
            host=self.url,
            verify_ssl=self.verify is not False,
            token=self.tokens(),
            namespace=self.namespace,
            session=self.session,
        )

    def define_argo_server_part_of_environment(self) -> None:
        """Set Hera's `global_config` so that `Workflow.create()` submits here.

        The token is given as a callable, so a requested token is renewed when it expires,
        and workflows (and templates) built afterwards default to a `WorkflowsService`
        sharing our bounded, verifying session: Hera's own would wait forever.
        """
        from hera.shared import global_config
        from hera.workflows import (
            ClusterWorkflowTemplate,
            CronWorkflow,
            Workflow,
            WorkflowTemplate,
        )

        global_config.host = self.url
        global_config.token = self.tokens
        global_config.namespace = self.namespace
        # Hera hands this to requests' `verify=`, which accepts a CA bundle path too.
        global_config.verify_ssl = self.verify  # type: ignore[assignment]
        if self.service_account:
            global_config.service_account_name = self.service_account
        for kind in (Workflow, WorkflowTemplate, ClusterWorkflowTemplate, CronWorkflow):
            global_config.set_class_defaults(kind, workflows_service=self.workflows_service())
