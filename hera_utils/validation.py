"""Validators of setting values: Kubernetes names, booleans, timeouts, tokens.

Each validator returns the normalised value or raises `argparse.ArgumentTypeError`
with a message that says what is wrong and what a valid value looks like; the settings
parser turns that into a `ConfigurationError` naming the setting and where it came from.
"""

from __future__ import annotations

import argparse
import re

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def dns1123_label(value: str) -> str:
    """A namespace-style name: lowercase alphanumerics and '-', at most 63 characters."""
    return _kubernetes_name(
        value,
        _DNS1123_LABEL,
        63,
        "a valid Kubernetes name (lowercase letters, digits and '-', starting and ending "
        "with a letter or digit, at most 63 characters)",
    )


def dns1123_subdomain(value: str) -> str:
    """An object name (claim, ConfigMap, service account): DNS-1123 subdomain, <= 253 chars."""
    return _kubernetes_name(
        value,
        _DNS1123_SUBDOMAIN,
        253,
        "a valid Kubernetes object name (lowercase letters, digits, '-' and '.', starting "
        "and ending with a letter or digit)",
    )


def _kubernetes_name(value: str, pattern: re.Pattern[str], limit: int, expected: str) -> str:
    value = value.strip()
    if value and (len(value) > limit or not pattern.match(value)):
        raise argparse.ArgumentTypeError(f"{value!r} is not {expected}")
    return value


def boolean(value: str | bool) -> bool:
    """true/false, yes/no, on/off, 1/0 (any case); anything else is an error, not a guess."""
    if isinstance(value, bool):
        return value
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"{value!r} is not a boolean (use true or false)")


def timeout_seconds(value: str | float) -> float:
    """A positive number of seconds, at most one hour."""
    try:
        seconds = float(value)
    except (TypeError, ValueError) as error:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a number of seconds (e.g. 10 or 2.5)"
        ) from error
    if not 0 < seconds <= 3600:
        raise argparse.ArgumentTypeError(f"{value!r} must be more than 0 and at most 3600 seconds")
    return seconds


def token_text(value: str) -> str:
    """An Argo token: `Bearer ...`, `Basic ...` or a bare token; whitespace trimmed.

    The value is never echoed in an error: a malformed token may still be a secret.
    """
    text = value.strip()
    if text == "":
        return text
    if any(ch in text for ch in "\r\n\t"):
        raise argparse.ArgumentTypeError(
            "the token contains a line break or tab (was it pasted with surrounding text?)"
        )
    parts = text.split(" ")
    if len(parts) > 2 or (len(parts) == 2 and parts[0] not in ("Bearer", "Basic")):
        raise argparse.ArgumentTypeError(
            "the token must be 'Bearer <token>', 'Basic <credentials>' or a bare token"
        )
    if len(parts) == 2 and parts[1] == "":
        raise argparse.ArgumentTypeError("the token is empty after 'Bearer '")
    return text
