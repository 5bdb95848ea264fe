"""SIGTERM and SIGHUP as exceptions, so that a command ends with a message, not silently.

By default Python dies at once on SIGTERM (`kill`, a batch system's time limit) and SIGHUP
(the terminal closed, ssh dropped): nothing is said, and a submission in flight is left
unrecorded. Within `terminating_signals_raise()` they raise `Terminated` instead, which
unwinds like Ctrl-C (`finally` blocks run) and which the command lines turn into one line
and exit code 128 + the signal's number, as shells report it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

HANDLED = (signal.SIGTERM, signal.SIGHUP)


class Terminated(BaseException):
    """The process received SIGTERM or SIGHUP (a BaseException, as KeyboardInterrupt is)."""

    def __init__(self, signum: int, *, detail: str = "") -> None:
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        words = (f"terminated by {self.signal_name}", detail)
        super().__init__(" ".join(word for word in words if word))

    @property
    def exit_code(self) -> int:
        """128 + the signal's number (143 for SIGTERM, 129 for SIGHUP)."""
        return 128 + self.signum


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def terminating_signals_raise() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise `Terminated` (main thread only).

    A signal the process was told to ignore stays ignored: `nohup` keeps working.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[signal.Signals, Any] = {}
    for signum in HANDLED:
        current = signal.getsignal(signum)
        if current is signal.SIG_IGN:
            continue
        previous[signum] = current
        signal.signal(signum, _raise_terminated)
    try:
        yield
    finally:
        for handled, handler in previous.items():
            signal.signal(handled, handler)
