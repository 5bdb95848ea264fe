"""Where the Kubernetes client may write the kubeconfig's keys and certificates.

The official client writes a kubeconfig's `client-key-data` (and certificates) to files,
because `ssl` loads keys from files only, and removes them at interpreter exit. A process
killed with SIGKILL (or the OOM killer) never gets there, and a private key is left behind
in the shared temporary directory. Here they go to a directory of this process's own
(`hera-utils-<uid>/<pid>`, mode 0700, in `$XDG_RUNTIME_DIR`, a per-user tmpfs, when there
is one), removed at exit; the next run removes what dead processes left.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

_own: Path | None = None


def private_credential_dir() -> str:
    """This process's private directory for credential files (created on first use)."""
    global _own
    if _own is None:
        base = Path(os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir())
        parent = base / f"hera-utils-{os.getuid()}"
        parent.mkdir(mode=0o700, exist_ok=True)
        os.chmod(parent, 0o700)  # made earlier with a looser umask, or by someone else
        _remove_leftovers(parent)
        own = parent / str(os.getpid())
        own.mkdir(mode=0o700, exist_ok=True)
        atexit.register(shutil.rmtree, own, ignore_errors=True)
        _own = own
    return str(_own)


def _remove_leftovers(parent: Path) -> None:
    """Remove the directories of processes that no longer run."""
    for entry in parent.iterdir():
        if entry.name.isdigit() and not _alive(int(entry.name)):
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process with that number
        return True
    return True
