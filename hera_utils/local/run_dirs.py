"""One run directory per run: two local runs never write into the same directory.

A run writes `runs/<workflow-name>/` and holds a lock on it (`.lock`, released when the run
ends, even when its process is killed). A second run of the same name while the first is
still going gets a directory of its own, `runs/<workflow-name>-<5 characters>/`, instead of
overwriting the first one's logs and summary; a later run, once the first has ended,
reuses `runs/<workflow-name>/` as before.
"""

from __future__ import annotations

import contextlib
import os
import random
from pathlib import Path
from typing import IO

from hera_utils.errors import ConfigurationError

__all__ = ["claim_run_dir"]

_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_ATTEMPTS = 20


def claim_run_dir(runs_dir: Path, name: str) -> tuple[Path, IO[bytes]]:
    """The directory this run may write and the open lock that reserves it (close it at end)."""
    chooser = random.SystemRandom()
    candidate = runs_dir / name
    for _ in range(_ATTEMPTS):
        lock = _try_lock(candidate)
        if lock is not None:
            return candidate, lock
        suffix = "".join(chooser.choice(_ALPHABET) for _ in range(5))
        candidate = runs_dir / f"{name}-{suffix}"
    raise ConfigurationError(f"no free run directory for {name} under {runs_dir}",
                             hint="let the other local runs end first")


def _try_lock(run_dir: Path) -> IO[bytes] | None:
    """An exclusive lock on `run_dir`, or None while another run holds it."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        lock = open(run_dir / ".lock", "ab")  # noqa: SIM115 - held for the whole run
    except OSError as error:
        raise ConfigurationError(f"cannot create the run directory {run_dir}: "
                                 f"{error.strerror or error}", setting="runs_dir") from error
    try:
        import fcntl
    except ImportError:  # not a POSIX system: no lock, as before
        return lock
    try:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        return None
    with contextlib.suppress(OSError):
        os.ftruncate(lock.fileno(), 0)
        os.write(lock.fileno(), f"{os.getpid()}\n".encode())
    return lock
