"""Hera version helpers: which Hera runs, and whether it is the one an experiment needs.

Experiments pin the Hera they were written for; `assert_version(">=5.16,<8")` at the top
of a script turns a silent API mismatch into a clear error with the command that fixes it.
"""

from __future__ import annotations

import sys
from importlib import metadata
from typing import Any, TextIO

from .errors import ConfigurationError


def hera_version() -> str:
    """The installed Hera version (read from the distribution, without importing Hera)."""
    try:
        return metadata.version("hera")
    except metadata.PackageNotFoundError as error:
        raise ConfigurationError("Hera is not installed", hint="pip install hera") from error


def print_version(stream: TextIO | None = None) -> None:
    """Print the versions of Hera and hera_utils."""
    from . import __version__

    print(f"hera {hera_version()} (hera_utils {__version__})", file=stream or sys.stdout)


def check_version(required: str) -> bool:
    """Whether the installed Hera satisfies `required` (a PEP 440 specifier or a version)."""
    from packaging.version import Version

    return Version(hera_version()) in _specifier(required)


def assert_version(required: str) -> None:
    """Raise `ConfigurationError` unless the installed Hera satisfies `required`."""
    if not check_version(required):
        specifier = str(_specifier(required))
        raise ConfigurationError(
            f"this experiment needs hera{specifier}, but hera {hera_version()} is installed",
            hint=f"pip install 'hera{specifier}'",
            setting="hera",
        )


def _specifier(required: str) -> Any:
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    text = required.strip()
    if text and text[0].isdigit():
        text = f"=={text}"
    try:
        return SpecifierSet(text)
    except InvalidSpecifier as error:
        raise ConfigurationError(
            f"{required!r} is not a version requirement",
            hint="write e.g. '>=5.16,<8' or '5.16.1'",
            setting="hera",
        ) from error
