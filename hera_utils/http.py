"""HTTP to the Argo Server: a bounded, verifying session and the translation of failures.

Hera's `WorkflowsService` sends no timeout and passes `verify=` on every request, so a
plain `requests.Session` could wait forever and ignores `SSL_CERT_FILE`. `BoundedSession`
fixes both for every request made through it, and `TokenAuth` sets a fresh
`Authorization` header on each request so that a short-lived token is renewed in flight.
"""

from __future__ import annotations

import json
import os
import re
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from requests.auth import AuthBase

from .errors import (
    AccessError,
    ConfigurationError,
    ForbiddenError,
    NotFoundError,
    RequestTimeoutError,
    ServerError,
    TLSVerificationError,
    UnauthorizedError,
    UnreachableError,
)


def ca_bundle_from_environment() -> str | None:
    """The CA bundle named by REQUESTS_CA_BUNDLE, SSL_CERT_FILE or CURL_CA_BUNDLE, if any.

    A name that does not exist is a configuration error here, before any request: requests
    would otherwise fail deep inside with an OSError on the first call.
    """
    for variable in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"):
        path = os.environ.get(variable)
        if not path:
            continue
        if not os.path.exists(path):  # a file, or a directory of certificates (c_rehash)
            raise ConfigurationError(
                f"{variable}={path!r} names no file: the Argo Server's certificate cannot "
                "be verified against it",
                hint=f"point {variable} at your CA bundle (a PEM file), or unset it",
                setting=variable,
            )
        return path
    return None


class TokenAuth(AuthBase):
    """Sets `Authorization` from a token source at each request (None: no header)."""

    def __init__(self, token_source: Callable[[], str | None]) -> None:
        self.token_source = token_source

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        token = self.token_source()
        if token:
            request.headers["Authorization"] = token
        else:
            request.headers.pop("Authorization", None)
        return request


class BoundedSession(requests.Session):
    """A session whose every request has a timeout and the configured TLS verification."""

    def __init__(self, timeout: float, verify: bool | str = True) -> None:
        super().__init__()
        self.timeout = timeout
        self.verify = verify

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        """`requests.Session.request` with our timeout and verification as defaults."""
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        # Hera passes verify=True/False from global_config: True means "verify", which we
        # sharpen to our CA bundle; False (the user's explicit choice) is kept.
        if kwargs.get("verify", True) is True:
            kwargs["verify"] = self.verify
        return super().request(method, url, *args, **kwargs)


# What went wrong on the way to a server, whichever client library saw it.
PLAIN_HTTP, TLS, TIMEOUT, DNS, REFUSED, CUT_SHORT, CLOSED, OTHER = (
    "plain-http", "tls", "timeout", "dns", "refused", "cut-short", "closed", "other"
)
_DNS_WORDS = (
    "name or service not known",
    "nodename nor servname",
    "name resolution",
    "getaddrinfo failed",
    "no address associated",
    "temporary failure in name",
)


def transport_failure(error: BaseException) -> str:
    """Classify a transport failure (requests, urllib3, ssl, socket) by its whole chain.

    One of PLAIN_HTTP (a TLS client met a plain-HTTP server), TLS, TIMEOUT, DNS, REFUSED,
    CUT_SHORT (the answer ended mid-way), CLOSED (no answer) or OTHER.
    """
    chain = exception_chain(error)
    names = {type(e).__name__ for e in chain}
    text = " ".join(str(e) for e in chain).lower()
    if any(isinstance(e, ssl.SSLError) for e in chain) or names & {"SSLError"}:
        return PLAIN_HTTP if "wrong version number" in text else TLS
    if "certificate verify failed" in text:
        return TLS
    if any(
        isinstance(e, (requests.exceptions.ChunkedEncodingError,
                       requests.exceptions.ContentDecodingError))
        for e in chain
    ) or ("IncompleteRead" in names or "incompleteread" in text):
        return CUT_SHORT
    if any(isinstance(e, (requests.Timeout, TimeoutError)) for e in chain) or (
        names & {"ReadTimeoutError", "ConnectTimeoutError", "timeout"} or "timed out" in text
    ):
        return TIMEOUT
    if "NameResolutionError" in names or any(word in text for word in _DNS_WORDS):
        return DNS
    if "refused" in text:
        return REFUSED
    if any(isinstance(e, (requests.ConnectionError, ConnectionError)) for e in chain) or (
        names & {"ProtocolError", "RemoteDisconnected", "MaxRetryError"}
    ):
        return CLOSED
    return OTHER


def exception_chain(error: BaseException) -> list[BaseException]:
    """`error` and every exception it carries: causes, contexts, `reason`s and `args`."""
    chain: list[BaseException] = []
    stack: list[BaseException] = [error]
    while stack and len(chain) < 20:
        current = stack.pop()
        if any(current is seen for seen in chain):
            continue
        chain.append(current)
        for nested in (
            current.__cause__,
            current.__context__,
            getattr(current, "reason", None),
            *[a for a in getattr(current, "args", ()) if isinstance(a, BaseException)],
        ):
            if isinstance(nested, BaseException):
                stack.append(nested)
    return chain


# Each transport failure of a request: the error, its message and its hint, as templates
# over `what`, `url`, `setting`, `timeout` and `reason`.
_TRANSPORT_ERRORS: dict[str, tuple[type[AccessError], str, str]] = {
    PLAIN_HTTP: (TLSVerificationError, "{what} at {url} does not speak TLS",
                 "use http:// (or set ARGO_SECURE=false) if {what} serves plain HTTP"),
    TLS: (TLSVerificationError, "TLS certificate of {what} at {url} could not be verified",
          "point REQUESTS_CA_BUNDLE (or SSL_CERT_FILE) at the CA that signed it; "
          "ARGO_INSECURE_SKIP_VERIFY=true skips the check (unsafe)"),
    TIMEOUT: (RequestTimeoutError, "{what} at {url} did not answer within {timeout:g} s",
              "check that the address is right and the server is up; raise "
              "HERA_UTILS_TIMEOUT if it is just slow"),
    DNS: (UnreachableError, "the host of {what} ({url}) is unknown (DNS lookup failed)",
          "check the spelling of {setting}, or your VPN/network"),
    REFUSED: (UnreachableError, "{what} at {url} refused the connection",
              "check the port in {setting} and that the server (or port-forward) runs"),
    CUT_SHORT: (UnreachableError,
                "{what} at {url} cut its answer short (the connection ended mid-answer)",
                "retry; if it persists, a proxy or ingress in front of {setting} drops "
                "long answers"),
    CLOSED: (UnreachableError, "{what} at {url} closed the connection without answering",
             "check {setting}: a proxy, an ingress or a wrong port may be in the way"),
    OTHER: (UnreachableError, "request to {what} at {url} failed ({reason})", "check {setting}"),
}


def translate_request_error(
    error: requests.RequestException, *, url: str, what: str, setting: str, timeout: float
) -> AccessError:
    """Turn a `requests` failure into an `AccessError` whose hint says what to check."""
    kind, message, hint = _TRANSPORT_ERRORS[transport_failure(error)]
    fields = {"what": what, "url": url, "setting": setting, "timeout": timeout,
              "reason": _plain_reason(error)}
    return kind(message.format(**fields), hint=hint.format(**fields), setting=setting, url=url)


def _plain_reason(error: requests.RequestException) -> str:
    # requests' class names (InvalidURL, TooManyRedirects...) mean little to a user.
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", type(error).__name__).lower()
    return words.removesuffix(" error") or "unknown error"


def error_message_of(response: requests.Response) -> str:
    """The `message` of a grpc-gateway / Kubernetes Status body, or a short text excerpt."""
    try:
        body = response.json()
    except ValueError:
        text = " ".join(response.text.split())
        return text[:200] if text else response.reason or ""
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or "")[:500]
    return ""


def parse_json(response: requests.Response, *, what: str, url: str, setting: str) -> Any:
    """The JSON body of a successful response, or a `ServerError` saying it was not JSON."""
    try:
        return response.json()
    except (ValueError, json.JSONDecodeError):
        return _raise(
            ServerError(
                f"{what} at {url} answered with something that is not JSON "
                f"(HTTP {response.status_code}, {response.headers.get('content-type', 'no type')})",
                hint=f"{setting} may point at another service (a login page, a proxy); check the "
                "address and argo_base_href",
                setting=setting,
                status=response.status_code,
                url=url,
            )
        )


def _raise(error: Exception) -> Any:
    raise error


def status_error(
    response: requests.Response, *, what: str, url: str, setting: str, namespace: str = ""
) -> AccessError:
    """Turn a non-2xx answer of the Argo Server into the matching `AccessError`."""
    return hera_error(
        response.status_code,
        error_message_of(response),
        what=what,
        url=url,
        setting=setting,
        namespace=namespace,
        reason=response.reason or "",
    )


def hera_exception_error(
    error: Exception, *, what: str, url: str, namespace: str = ""
) -> AccessError:
    """The `AccessError` for an exception Hera's `WorkflowsService` raised on an HTTP error."""
    status = int(getattr(error, "status_code", 0) or 0)
    message = str(error).split("message: ", 1)[-1].strip("`")
    return hera_error(status, message, what=what, url=url, namespace=namespace)


@dataclass(frozen=True)
class StatusRule:
    """How an HTTP status of a server becomes an `AccessError`: class, message, hint.

    The message and hint are `str.format` templates over `what`, `url`, `namespace`,
    `setting`, `status` and `message` (the server's words; when it gave none, `fallback`,
    else the status line's reason).
    """

    error: type[AccessError]
    message: str
    hint: str
    setting: str = ""  # the setting to fix; empty: the caller's
    fallback: str = ""

    def build(self, status: int, fields: dict[str, Any]) -> AccessError:
        """The error for this status, its templates filled with `fields`."""
        said = fields["message"] or self.fallback or fields.get("reason", "")
        values = {**fields, "status": status, "message": said}
        return self.error(
            self.message.format(**values),
            hint=self.hint.format(**values),
            setting=self.setting or fields["setting"],
            status=status,
            url=fields["url"],
        )


ARGO_SERVER_STATUSES: dict[int | None, StatusRule] = {
    401: StatusRule(
        UnauthorizedError,
        "{what} rejected the token (401: {message})",
        "renew ARGO_TOKEN from the Argo UI's User page, or set argo_service_account to let "
        "hera_utils request one from Kubernetes",
        setting="argo_token",
        fallback="unauthorized",
    ),
    403: StatusRule(
        ForbiddenError,
        "{what} refused access to namespace {namespace!r} (403: {message})",
        "set ARGO_NAMESPACE to a namespace you were granted (ask your cluster admin), or use "
        "a token of an account allowed there",
        setting="argo_namespace",
        fallback="forbidden",
    ),
    404: StatusRule(
        NotFoundError,
        "{what} at {url} answered 404 ({message})",
        "if the server sits behind an ingress, set ARGO_BASE_HREF to its path prefix; "
        "otherwise check {setting}",
        fallback="not found",
    ),
    None: StatusRule(
        ServerError,
        "{what} at {url} failed with HTTP {status} ({message})",
        "the server is reachable but failing; retry later or ask its administrator",
    ),
}


def hera_error(
    status: int,
    message: str,
    *,
    what: str,
    url: str,
    setting: str = "argo_server",
    namespace: str = "",
    reason: str = "",
) -> AccessError:
    """The `AccessError` for an HTTP status and message from the Argo Server."""
    rule = ARGO_SERVER_STATUSES.get(status) or ARGO_SERVER_STATUSES[None]
    fields = {"what": what, "url": url, "setting": setting, "namespace": namespace}
    return rule.build(status, {**fields, "message": message, "reason": reason})
