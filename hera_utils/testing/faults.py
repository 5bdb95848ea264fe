"""Misbehaviours an emulator can be told to show: hang, slow, 500, drop, malformed answers.

Most faults replace the answer: the request is not carried out. The `*_AFTER` kinds
(`LOST_REPLY`, `TRUNCATED`, `BAD_GATEWAY`) carry the request out first and then spoil
its answer, as a network or a proxy failing on the way back does: a create succeeded
although its client never learns it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

HANG = "hang"  # accept the request, never answer (until the emulator stops)
SLOW = "slow"  # answer normally, after `delay` seconds
ERROR500 = "error500"  # answer 500 in the API's own error shape
DROP = "drop"  # close the connection without answering
MALFORMED = "malformed"  # answer 200 with a body that is not JSON
NOT_FOUND = "not-found"  # answer 404 as for an endpoint this server does not have
WRONG_SHAPE = "wrong-shape"  # answer 200 with JSON that is not the object the API returns
LOST_REPLY = "lost-reply"  # carry the request out, then close without answering
TRUNCATED = "truncated"  # carry the request out, then send only part of the answer
BAD_GATEWAY = "bad-gateway"  # carry the request out, then answer 502 as a proxy would

AFTER_KINDS = frozenset({LOST_REPLY, TRUNCATED, BAD_GATEWAY})
KINDS = frozenset({HANG, SLOW, ERROR500, DROP, MALFORMED, NOT_FOUND, WRONG_SHAPE}) | AFTER_KINDS


@dataclass(frozen=True)
class Fault:
    """One active misbehaviour, limited to paths starting with one of `paths` (if any)
    and to the HTTP `methods` listed (if any)."""

    kind: str
    delay: float = 0.0
    paths: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()

    def applies_to(self, *paths: str, method: str = "") -> bool:
        """Whether a request (`method`, known under any of `paths`) should misbehave."""
        if self.methods and method.upper() not in self.methods:
            return False
        if not self.paths:
            return True
        return any(path.startswith(prefix) for path in paths for prefix in self.paths)

    @property
    def after(self) -> bool:
        """Whether the request is carried out before its answer is spoilt."""
        return self.kind in AFTER_KINDS


class Faults:
    """The fault currently set on an emulator; thread-safe, healed with `clear()`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fault: Fault | None = None
        self._remaining: int | None = None

    def set(
        self,
        kind: str | None,
        *,
        delay: float = 0.0,
        paths: str | Iterable[str] | None = None,
        methods: str | Iterable[str] | None = None,
        times: int | None = None,
    ) -> None:
        """Make requests misbehave as `kind` (None heals).

        `paths`: prefixes of the request paths concerned (default: every path; for the
        Argo emulator, a path may be given with or without its base href). `times`: heal
        by itself after that many misbehaving requests (default: never).
        """
        if kind is None:
            self.clear()
            return
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r}; expected one of {sorted(KINDS)}")
        if delay < 0:
            raise ValueError("delay must be >= 0")
        if kind == SLOW and delay <= 0:
            raise ValueError("a 'slow' fault needs a positive delay")
        if times is not None and times < 1:
            raise ValueError("times must be >= 1")
        prefixes = (paths,) if isinstance(paths, str) else tuple(paths or ())
        verbs = (methods,) if isinstance(methods, str) else tuple(methods or ())
        with self._lock:
            self._fault = Fault(
                kind=kind, delay=delay, paths=prefixes, methods=tuple(v.upper() for v in verbs)
            )
            self._remaining = times

    def clear(self) -> None:
        """Heal: requests are answered normally again."""
        with self._lock:
            self._fault = None
            self._remaining = None

    @property
    def active(self) -> Fault | None:
        """The fault set now, or None."""
        with self._lock:
            return self._fault

    def take(self, *paths: str, method: str = "") -> Fault | None:
        """The fault a request (`method`, `paths`) must show now (counting it), or None."""
        with self._lock:
            fault = self._fault
            if fault is None or not fault.applies_to(*paths, method=method):
                return None
            if self._remaining is not None:
                self._remaining -= 1
                if self._remaining <= 0:
                    self._fault = None
                    self._remaining = None
            return fault
