"""`main.py check`: the access checks of `hera-utils doctor`."""

from __future__ import annotations

import json

from hera_utils.redaction import scrub_message
from hera_utils.settings import Settings


def check(args: Settings, *, as_json: bool = False) -> int:
    """Run the access checks (as `hera-utils doctor`), print them, return their exit code."""
    from hera_utils.checks import run_checks

    report = run_checks(args)
    text = json.dumps(report.to_dict(), indent=2) if as_json else report.render()
    print(scrub_message(text))  # a detail may quote a value given where a token belongs
    return report.exit_code
