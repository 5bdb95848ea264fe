"""Where the Argo token comes from: the three ways of the original hera_utils.

- `token`: the user pastes `ARGO_TOKEN` (e.g. from the Argo UI's User page);
- `token-request`: Kubernetes issues a short-lived token of `argo_service_account`
  (TokenRequest API), renewed here before it expires;
- `sa-secret`: the legacy token Secret of the service account (clusters before 1.24, or
  one an administrator made by hand).

A token source is a callable returning the `Authorization` header value (or None);
Hera's `global_config.token` accepts such a callable, and our HTTP session calls it on
each request, so renewal is transparent.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .errors import ConfigurationError, ForbiddenError, HeraUtilsError, NotFoundError
from .redaction import register_secret

if TYPE_CHECKING:
    from .cluster import KubernetesCluster
    from .settings import Settings

# Renew a requested token when less than this fraction of its life (or a minute) remains.
_RENEW_FRACTION = 0.2
_RENEW_MIN_SECONDS = 60.0


def as_authorization(token: str) -> str:
    """The header value for a token: a bare token gets `Bearer `, as Hera does.

    Every token passes here, so this is where it is made unprintable (`redaction`).
    """
    token = token.strip()
    register_secret(token)
    return token if " " in token else f"Bearer {token}"


class TokenSource:
    """Base of token sources: call it for the `Authorization` value."""

    mode = "none"
    description = "no token"

    def __call__(self) -> str | None:
        return None


class StaticToken(TokenSource):
    """The token given in the settings (`argo_token` / `ARGO_TOKEN`)."""

    mode = "token"

    def __init__(self, token: str) -> None:
        self._value = as_authorization(token)
        kind = "an SSO token" if self._value.startswith("Bearer v2:") else "a token"
        self.description = f"{kind} from argo_token"

    def __call__(self) -> str:
        return self._value


class RequestedToken(TokenSource):
    """A service-account token from the TokenRequest API, renewed before it expires."""

    mode = "token-request"

    def __init__(
        self,
        cluster: KubernetesCluster,
        service_account: str,
        expiration_seconds: int = 3600,
        clock: Any = time.time,
    ) -> None:
        self.cluster = cluster
        self.service_account = service_account
        self.expiration_seconds = expiration_seconds
        self.description = (
            f"a short-lived token of service account {service_account!r} (TokenRequest)"
        )
        self._clock = clock
        self._lock = threading.Lock()
        self._value: str | None = None
        self._renew_at = 0.0
        self.renewals = 0

    def __call__(self) -> str:
        with self._lock:
            if self._value is None or self._clock() >= self._renew_at:
                self._fetch()
            assert self._value is not None
            return self._value

    def _fetch(self) -> None:
        token, expires = self.cluster.request_service_account_token(
            self.service_account, expiration_seconds=self.expiration_seconds
        )
        now = self._clock()
        lifetime = (_epoch(expires) - now) if expires is not None else self.expiration_seconds
        lifetime = max(lifetime, 0.0)
        margin = max(lifetime * _RENEW_FRACTION, min(_RENEW_MIN_SECONDS, lifetime / 2))
        if self._value is not None:
            self.renewals += 1
        self._value = as_authorization(token)
        self._renew_at = now + lifetime - margin


class SecretToken(TokenSource):
    """The token of the service account's legacy token Secret (read once)."""

    mode = "sa-secret"

    def __init__(self, cluster: KubernetesCluster, service_account: str) -> None:
        self.cluster = cluster
        self.service_account = service_account
        self.description = f"the token Secret of service account {service_account!r}"
        self._value: str | None = None

    def __call__(self) -> str:
        if self._value is None:
            try:
                token = self.cluster.read_legacy_service_account_token(self.service_account)
            except ForbiddenError as refused:
                # The token source is at fault, not the namespace: say what grants it.
                raise ForbiddenError(
                    f"not allowed to read the token Secret of service account "
                    f"{self.service_account!r} in namespace {self.cluster.namespace!r} "
                    f"({refused.message})",
                    hint="ask your cluster admin for get on secrets there, or set "
                    "argo_auth_mode=token-request, or set ARGO_TOKEN (from the Argo UI)",
                    setting="argo_auth_mode",
                    status=403,
                    url=self.cluster.server,
                ) from refused
            self._value = as_authorization(token)
        return self._value


def token_needs_cluster(args: Settings) -> bool:
    """Whether the settings' auth mode obtains the token from the Kubernetes cluster."""
    mode = args.argo_auth_mode or "auto"
    if mode in ("token-request", "sa-secret"):
        return True
    return (
        mode == "auto"
        and not args.argo_token
        and bool(args.argo_service_account)
    )


def token_source(args: Settings, cluster: KubernetesCluster | None) -> TokenSource:
    """Choose the token source per `argo_auth_mode` (see the module docstring).

    `auto` takes the token when one is set, else asks Kubernetes for one (TokenRequest,
    falling back to the legacy Secret on clusters that refuse or lack it), else none.
    """
    mode = args.argo_auth_mode or "auto"
    token = args.argo_token or ""
    account = args.argo_service_account or ""
    if mode == "none":
        return TokenSource()
    if mode == "token" or (mode == "auto" and token):
        if not token:
            raise ConfigurationError(
                "argo_auth_mode is 'token' but no token is set",
                hint="set ARGO_TOKEN (copy it from the Argo UI's User page)",
                setting="argo_token",
            )
        return StaticToken(token)
    if mode in ("token-request", "sa-secret") or (mode == "auto" and account and cluster):
        if not account:
            raise ConfigurationError(
                f"argo_auth_mode is {mode!r} but no service account is set",
                hint="set ARGO_SERVICE_ACCOUNT (or argo_service_account)",
                setting="argo_service_account",
            )
        if cluster is None:
            raise ConfigurationError(
                f"argo_auth_mode {mode!r} needs the Kubernetes cluster to obtain a token",
                hint="set KUBECONFIG, or set ARGO_TOKEN and argo_auth_mode=token",
                setting="k8s_config_file",
            )
        if mode == "sa-secret":
            return SecretToken(cluster, account)
        if mode == "token-request":
            return RequestedToken(cluster, account)
        return _first_working(RequestedToken(cluster, account), SecretToken(cluster, account))
    return TokenSource()


def fallback_token_source(
    args: Settings, rejected: HeraUtilsError, cluster: Callable[[], KubernetesCluster | None]
) -> TokenSource | None:
    """In `auto` mode, the cluster's token to use when the server rejected an SSO token.

    An SSO token (`Bearer v2:`) expires with the UI session that issued it, so its
    rejection is expected and the service account's token stands in; any other rejected
    token is a mistake to fix, and stands. None when the settings allow no other source
    (another mode, no service account, no usable cluster); when the cluster refuses both
    of its ways, `rejected` stands.
    """
    mode = args.argo_auth_mode or "auto"
    account = args.argo_service_account or ""
    token = args.argo_token or ""
    if mode != "auto" or not account or not as_authorization(token).startswith("Bearer v2:"):
        return None
    reachable = cluster()
    if reachable is None:
        return None
    try:
        return _first_working(RequestedToken(reachable, account), SecretToken(reachable, account))
    except HeraUtilsError as refused:
        raise rejected from refused


def _first_working(preferred: TokenSource, fallback: TokenSource) -> TokenSource:
    try:
        preferred()
        return preferred
    except (ForbiddenError, NotFoundError) as refused:
        try:
            fallback()
        except (ForbiddenError, NotFoundError) as error:
            raise refused from error
        # Said in doctor's detail: the source used is not the one asked for first.
        fallback.description += f" (TokenRequest refused: {refused.message})"
        return fallback


def _epoch(moment: dt.datetime | str) -> float:
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.timestamp()
