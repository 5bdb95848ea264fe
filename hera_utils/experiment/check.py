"""`main.py check`: the access checks of `hera-utils doctor`, and the error of failed ones."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from hera_utils.errors import AccessError, ConfigurationError, HeraUtilsError
from hera_utils.redaction import scrub_message
from hera_utils.settings import Settings

if TYPE_CHECKING:
    from hera_utils.checks import Report


def check(args: Settings, *, as_json: bool = False) -> int:
    """Run the access checks (as `hera-utils doctor`), print them, return their exit code.

    The table ends, on stderr, with one line naming every failed check.
    """
    from hera_utils.checks import run_checks

    report = run_checks(args)
    text = json.dumps(report.to_dict(), indent=2) if as_json else report.render()
    print(scrub_message(text))  # a detail may quote a value given where a token belongs
    error = failed_checks_error(report)
    if error is not None and not as_json:
        print(f"error: {scrub_message(error.one_line())}", file=sys.stderr)
    return report.exit_code


def failed_checks_error(report: Report, ignore: tuple[str, ...] = ()) -> HeraUtilsError | None:
    """One error naming every failed check with its detail and hint, or None when none failed.

    A configuration error among them makes it a `ConfigurationError` (exit 2), as the
    report's own exit code says; otherwise an `AccessError` (exit 3). Checks named in
    `ignore` do not count (what a command does not need).
    """
    failed = [r for r in report.checks if r.ok is False and r.name not in ignore]
    if not failed:
        return None
    count = "1 check" if len(failed) == 1 else f"{len(failed)} checks"
    details = "; ".join(f"{result.name}: {result.detail}" for result in failed)
    hints = "; ".join(dict.fromkeys(result.hint for result in failed if result.hint))
    error_type = (
        ConfigurationError if any(result.configuration_error for result in failed) else AccessError
    )
    return error_type(f"{count} failed: {details}", hint=hints)
