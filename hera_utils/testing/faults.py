"""Misbehaviours an emulator can be told to show: hang, slow, 500, drop, malformed answers."""

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

KINDS = frozenset({HANG, SLOW, ERROR500, DROP, MALFORMED, NOT_FOUND})


@dataclass(frozen=True)
class Fault:
    """One active misbehaviour, limited to paths starting with one of `paths` (if any)."""

    kind: str
    delay: float = 0.0
    paths: tuple[str, ...] = ()

    def applies_to(self, *paths: str) -> bool:
        """Whether a request known under any of `paths` should misbehave."""
        if not self.paths:
            return True
        return any(path.startswith(prefix) for path in paths for prefix in self.paths)


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
        with self._lock:
            self._fault = Fault(kind=kind, delay=delay, paths=prefixes)
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

    def take(self, *paths: str) -> Fault | None:
        """The fault a request known under `paths` must show now (counting it), or None."""
        with self._lock:
            fault = self._fault
            if fault is None or not fault.applies_to(*paths):
                return None
            if self._remaining is not None:
                self._remaining -= 1
                if self._remaining <= 0:
                    self._fault = None
                    self._remaining = None
            return fault
