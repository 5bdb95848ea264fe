"""Bearer tokens shared by the emulated Kubernetes API and Argo Server.

A real Argo Server in `client` auth mode accepts the caller's Kubernetes token, so both
emulators look tokens up in one `TokenRegistry`: a token issued by the Kubernetes
emulator (TokenRequest, legacy Secret) is accepted by the Argo emulator until it expires.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

ALL_NAMESPACES = "*"


@dataclass(frozen=True)
class Identity:
    """Who a token authenticates, where it may act and until when (epoch seconds)."""

    user: str
    namespaces: frozenset[str]
    expires_at: float | None = None

    def allows(self, namespace: str) -> bool:
        """Whether this identity may act in `namespace` (`"*"` grants every namespace)."""
        return ALL_NAMESPACES in self.namespaces or namespace in self.namespaces

    def expired(self, now: float | None = None) -> bool:
        """Whether the token behind this identity has expired."""
        if self.expires_at is None:
            return False
        return (time.time() if now is None else now) >= self.expires_at


class TokenRegistry:
    """Thread-safe table of valid bearer tokens and the identities they stand for.

    `clock` (epoch seconds) decides expiry; tests may replace it to expire tokens at once
    instead of sleeping.
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        self._identities: dict[str, Identity] = {}

    def add(
        self,
        token: str,
        *,
        user: str,
        namespaces: Iterable[str] = (ALL_NAMESPACES,),
        expires_at: float | None = None,
    ) -> Identity:
        """Register `token` for `user`, allowed in `namespaces` until `expires_at` (or forever)."""
        if isinstance(namespaces, str):
            namespaces = {namespaces}
        identity = Identity(user=user, namespaces=frozenset(namespaces), expires_at=expires_at)
        with self._lock:
            self._identities[token] = identity
        return identity

    def revoke(self, token: str) -> None:
        """Forget `token`: it is rejected from now on (unknown tokens are ignored)."""
        with self._lock:
            self._identities.pop(token, None)

    def lookup(self, token: str | None) -> Identity | None:
        """The identity of `token`, or None when it is missing, unknown or expired."""
        if not token:
            return None
        with self._lock:
            identity = self._identities.get(token)
        if identity is None or identity.expired(self.clock()):
            return None
        return identity

    def tokens_of(self, user: str) -> list[str]:
        """Every registered token (expired ones included) that authenticates `user`."""
        with self._lock:
            return [token for token, ident in self._identities.items() if ident.user == user]

    def __len__(self) -> int:
        with self._lock:
            return len(self._identities)


def service_account_user(namespace: str, name: str) -> str:
    """The user name Kubernetes gives a service account's tokens."""
    return f"system:serviceaccount:{namespace}:{name}"


def jwt_shaped_token(claims: dict[str, object]) -> str:
    """A token shaped like a Kubernetes service-account JWT, carrying `claims`.

    Clients may decode the payload (e.g. to read `exp`), as they can with real tokens;
    the signature is random bytes because nothing in the emulated world verifies it.
    """
    header = {"alg": "RS256", "kid": "emulated"}
    parts = [
        _b64url(json.dumps(header, separators=(",", ":")).encode()),
        _b64url(json.dumps(claims, separators=(",", ":")).encode()),
        _b64url(secrets.token_bytes(64)),
    ]
    return ".".join(parts)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
