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

HANDLED = (signal.SIGTERM, signal.SIGHUP)


class Terminated(BaseException):
    """The process received SIGTERM or SIGHUP (a BaseException, as KeyboardInterrupt is)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signal_name = signal.Signals(signum).name
        super().__init__(f"terminated by {self.signal_name}")

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
    previous: dict[int, object] = {}
    for signum in HANDLED:
        current = signal.getsignal(signum)
        if current is signal.SIG_IGN:
            continue
        previous[signum] = current
        signal.signal(signum, _raise_terminated)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
