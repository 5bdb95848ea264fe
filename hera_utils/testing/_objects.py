"""Small pieces of Kubernetes object semantics both emulators need.

Timestamps, generated names, name validation, uids and label/field selectors, as the
Kubernetes API server implements them.
"""

from __future__ import annotations

import itertools
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone

# The alphabet of generateName suffixes: no vowels (no accidental words), no 0/1/3.
_NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_NAME_SUFFIX_LENGTH = 5
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_DNS1123_SUBDOMAIN_MAX = 253


def rfc3339(epoch: float | None = None) -> str:
    """An RFC 3339 UTC timestamp to the second, as Kubernetes writes them."""
    moment = datetime.fromtimestamp(time.time() if epoch is None else epoch, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def generated_name(prefix: str) -> str:
    """`prefix` plus the 5 random characters the API server appends for `generateName`."""
    suffix = "".join(secrets.choice(_NAME_SUFFIX_ALPHABET) for _ in range(_NAME_SUFFIX_LENGTH))
    return prefix + suffix


def new_uid() -> str:
    """A fresh object uid."""
    return str(uuid.uuid4())


def invalid_name_reason(name: str) -> str | None:
    """Why `name` is not a valid object name (DNS-1123 subdomain), or None when it is."""
    if len(name) > _DNS1123_SUBDOMAIN_MAX:
        return f"must be no more than {_DNS1123_SUBDOMAIN_MAX} characters"
    if not _DNS1123_SUBDOMAIN.fullmatch(name):
        return (
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
            "characters, '-' or '.', and must start and end with an alphanumeric character "
            "(e.g. 'example.com', regex used for validation is "
            f"'{_DNS1123_SUBDOMAIN.pattern}')"
        )
    return None


class ResourceVersions:
    """A cluster-wide, increasing resourceVersion counter (as strings, like etcd's)."""

    def __init__(self, start: int = 1000) -> None:
        self._counter = itertools.count(start)
        self._lock = threading.Lock()

    def next(self) -> str:
        """The next resourceVersion."""
        with self._lock:
            return str(next(self._counter))


class SelectorError(ValueError):
    """A label or field selector the API server would refuse."""


Requirement = tuple[str, str, str]  # (key, operator, value); operator "=", "!=" or "exists"


def parse_selector(text: str | None) -> list[Requirement]:
    """Parse an equality-based selector (`a=b,c!=d,e`); set-based syntax is refused."""
    requirements: list[Requirement] = []
    for term in (text or "").split(","):
        term = term.strip()
        if not term:
            continue
        if any(word in f" {term} " for word in (" in ", " notin ")) or "(" in term:
            raise SelectorError(f"unsupported selector term {term!r} (only = and != here)")
        if "!=" in term:
            key, _, value = term.partition("!=")
            requirements.append((key.strip(), "!=", value.strip()))
        elif "=" in term:
            key, _, value = term.partition("==" if "==" in term else "=")
            requirements.append((key.strip(), "=", value.strip()))
        else:
            requirements.append((term.lstrip("!"), "!exists" if term[0] == "!" else "exists", ""))
    return requirements


def selector_matches(requirements: list[Requirement], lookup: Callable[[str], str | None]) -> bool:
    """Whether an object, whose value for a key `lookup` returns, meets every requirement."""
    for key, operator, expected in requirements:
        actual = lookup(key)
        if operator == "=" and actual != expected:
            return False
        if operator == "!=" and actual == expected:
            return False
        if operator == "exists" and actual is None:
            return False
        if operator == "!exists" and actual is not None:
            return False
    return True
