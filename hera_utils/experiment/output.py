"""Small output helpers shared by the subcommands."""

from __future__ import annotations

import datetime
import sys


def warn(message: str | None) -> None:
    """Print `message` as a warning on stderr (nothing when None)."""
    if message:
        print(f"warning: {message}", file=sys.stderr)


def now() -> str:
    """The current UTC time, ISO 8601 to the second."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
