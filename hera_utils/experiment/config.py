"""`main.py config [--show-origin]`: the experiment's effective settings.

The same view as `hera-utils config`, plus the experiment's own defaults (from its
`environment.py`), labelled as such by `parse_args`.
"""

from __future__ import annotations

import sys

from hera_utils.settings import Settings


def config(args: Settings) -> int:
    """Print every setting's effective value (secrets redacted); with --show-origin, its origin."""
    from hera_utils.cli import print_settings

    return print_settings(args, sys.stdout)
