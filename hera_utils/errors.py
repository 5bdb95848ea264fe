"""The exceptions of hera_utils: configuration errors, access errors, failed workflows.

Library code raises these; only the command lines turn them into exit codes
(`exit_code_for`). Every error carries a one-line message and, where we know it, the
setting to change and a hint saying how. Messages never contain a token.
"""

from __future__ import annotations

from typing import TextIO

EXIT_OK = 0
EXIT_WORKFLOW_FAILED = 1
EXIT_CONFIGURATION = 2
EXIT_ACCESS = 3


class HeraUtilsError(Exception):
    """Base of every error hera_utils raises on purpose.

    `message` says what went wrong, `setting` names the setting involved (if any) and
    `hint` says what to do about it.
    """

    exit_code = EXIT_CONFIGURATION

    def __init__(self, message: str, *, hint: str = "", setting: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.setting = setting

    def one_line(self) -> str:
        """The message and hint on a single line, as the command lines print it."""
        text = self.message
        if self.hint:
            text = f"{text} ({self.hint})" if "\n" not in self.hint else text
        return " ".join(text.split())


class ConfigurationError(HeraUtilsError):
    """A setting is missing, malformed or contradictory (exit code 2)."""

    exit_code = EXIT_CONFIGURATION


class AccessError(HeraUtilsError):
    """A server could not be used: unreachable, TLS, rejected credentials... (exit code 3)."""

    exit_code = EXIT_ACCESS
    # Whether the failed request reached the server (False: refused, DNS, TLS, connect
    # timeout), so that a create that failed this way surely created nothing.
    request_sent = True

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        setting: str = "",
        status: int | None = None,
        url: str = "",
    ) -> None:
        super().__init__(message, hint=hint, setting=setting)
        self.status = status
        self.url = url


class UnreachableError(AccessError):
    """DNS failure, connection refused or dropped: nothing answered."""


class RequestTimeoutError(AccessError):
    """The server accepted the connection but did not answer within `request_timeout`."""


class TLSVerificationError(AccessError):
    """The server's certificate could not be verified (or TLS was spoken to a plain port)."""


class UnauthorizedError(AccessError):
    """HTTP 401: the credentials (token, client certificate) were rejected."""


class ForbiddenError(AccessError):
    """HTTP 403: authenticated, but not allowed to do this (often: this namespace)."""


class NotFoundError(AccessError):
    """HTTP 404: the resource (namespace, volume claim, ConfigMap...) does not exist."""


class ServerError(AccessError):
    """HTTP 5xx or a malformed answer: the server is there but misbehaving."""


class MalformedAnswerError(ServerError):
    """HTTP 200 whose body is not JSON, or not the object the API returns."""


class WorkflowFailedError(HeraUtilsError):
    """The workflow (or a local run of it) ended in a phase other than Succeeded (exit 1)."""

    exit_code = EXIT_WORKFLOW_FAILED


def exit_code_for(error: BaseException) -> int:
    """The documented exit code for an error (2 for anything unexpected but handled)."""
    return getattr(error, "exit_code", EXIT_CONFIGURATION)


def report_unexpected(error: BaseException, prog: str, stream: TextIO) -> int:
    """Print an unexpected exception (a bug) as one line on `stream`; return exit code 2.

    With `HERA_UTILS_DEBUG=1` in the environment the traceback follows, for a bug report.
    `stream` is expected to scrub secrets (the command lines pass their scrubbing stderr).
    """
    import os
    import traceback

    print(
        f"{prog}: error: unexpected {type(error).__name__}: {' '.join(str(error).split())} "
        "(a bug of hera_utils: run again with HERA_UTILS_DEBUG=1 to see where, and report it)",
        file=stream,
    )
    if os.environ.get("HERA_UTILS_DEBUG", "") not in ("", "0"):
        traceback.print_exception(error, file=stream)
    return EXIT_CONFIGURATION


class HeraUtilsWarning(UserWarning):
    """Advice to the user (an unverified certificate, a token at risk): printed on one line."""


# What shells report for a process ended by SIGPIPE (`hera-utils config | head`).
EXIT_BROKEN_PIPE = 141


def quiet_broken_pipe() -> int:
    """End quietly after the reader of stdout went away; return `EXIT_BROKEN_PIPE`.

    The output is pointed at /dev/null so that the interpreter's final flush cannot fail
    again and print its own traceback, as `git log | head` ends without a word.
    """
    import os
    import sys

    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (tests): nothing to flush
        pass
    finally:
        os.close(devnull)
    return EXIT_BROKEN_PIPE
