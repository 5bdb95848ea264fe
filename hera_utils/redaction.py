"""Keeping secrets out of everything hera_utils prints or writes.

One process-wide registry knows every secret learnt so far: the values of secret
settings from the command line, the environment and config files, credentials of the
kubeconfig, tokens minted by Kubernetes, and anything the command line could not place
(the value of a misspelt flag, a stray argument, a config line that is not `key=value`).
`scrub(text)` replaces those, and anything shaped like a token (`Bearer ...`, JWTs, `v2:`
SSO tokens); `scrub_message(text)` also hides long opaque strings, which is harmless in a
message but would spoil data. `scrubbed_output()` routes stdout and stderr (hence print,
argparse, logging and warnings) through the scrubber for the length of a command.

Library code that learns a secret calls `register_secret(value)`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO, cast

REDACTED = "<redacted>"
# Shorter known secrets are not replaced: replacing "abc" everywhere would garble text,
# and a token that short protects nothing anyway.
MIN_SECRET_LENGTH = 6
# Config files are small; one larger than this is not read for secrets (nor by us at all).
_MAX_CONFIG_BYTES = 1_000_000
_MAX_PENDING_CHARS = 1_000_000  # a line longer than this is scrubbed and written in parts

_TOKEN_CHARS = r"A-Za-z0-9._~+/=:-"
_SHAPES = (
    # An Authorization header value: the scheme stays, the credentials go.
    ("bearer", re.compile(rf"\b(Bearer)(\s+)[{_TOKEN_CHARS}]{{4,}}", re.IGNORECASE)),
    ("basic", re.compile(rf"\b(Basic)(\s+)[{_TOKEN_CHARS}]{{4,}}", re.IGNORECASE)),
    # A JSON Web Token: base64url('{"...') . base64url('{"...') . signature.
    ("eyJ", re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")),
    # An Argo Server SSO token.
    ("v2:", re.compile(r"(?<![A-Za-z0-9])v2:[A-Za-z0-9._~+/=-]{8,}")),
)
# A long run of token characters mixing upper case, lower case and digits: in a message it
# is far more likely a token than anything a user needs to read.
_OPAQUE = re.compile(r"(?<![A-Za-z0-9_+=~-])[A-Za-z0-9_+=~-]{20,}(?![A-Za-z0-9_+=~-])")
# Environment variables whose names say they hold a secret, whatever tool they belong to.
_SECRET_VARIABLE = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|CREDENTIAL", re.I)
# A command-line value that reads as a word, a name, a path or host:port: safe to show.
_PLAIN_VALUE = re.compile(r"[a-z0-9][a-z0-9._:/@-]{0,39}")


class Redactor:
    """A thread-safe set of known secrets and the rules that hide them in text."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._ordered: tuple[str, ...] = ()

    def register(self, secret: str | None) -> None:
        """Remember `secret` (and its bare form after `Bearer `/`Basic `) to hide it."""
        if not secret:
            return
        forms = {secret.strip()}
        scheme, _, rest = secret.strip().partition(" ")
        if rest and scheme.lower() in ("bearer", "basic"):
            forms.add(rest.strip())
        forms = {form for form in forms if len(form) >= MIN_SECRET_LENGTH}
        if not forms - self._secrets:
            return
        with self._lock:
            self._secrets |= forms
            # Longest first, so that a secret containing another is hidden whole.
            self._ordered = tuple(sorted(self._secrets, key=len, reverse=True))

    def forget_all(self) -> None:
        """Forget every registered secret (between tests, or commands run in one process)."""
        with self._lock:
            self._secrets.clear()
            self._ordered = ()

    @property
    def secrets(self) -> frozenset[str]:
        """The secrets known now."""
        return frozenset(self._secrets)

    def scrub(self, text: str, *, opaque: bool = False) -> str:
        """`text` with every known secret and token-shaped string replaced.

        With `opaque`, long strings mixing letters of both cases and digits go too (for
        messages; data such as a rendered workflow keeps them).
        """
        if not text:
            return text
        for secret in self._ordered:
            if secret in text:
                text = text.replace(secret, REDACTED)
        # Each shape starts with a literal: look for it first, which is far quicker than
        # running the pattern over a long text that has none.
        lowered = text.lower()
        for literal, shape in _SHAPES:
            if literal in (lowered if literal.islower() else text):
                text = shape.sub(_replace_shape, text)
        if opaque:
            text = _OPAQUE.sub(_replace_opaque, text)
        return text


def _replace_shape(match: re.Match[str]) -> str:
    if match.lastindex:  # Bearer/Basic: keep the scheme, it helps the reader
        return f"{match[1]}{match[2]}{REDACTED}"
    return REDACTED


def _replace_opaque(match: re.Match[str]) -> str:
    word = match[0]
    has_digit = any(c.isdigit() for c in word)
    mixed_case = any(c.isupper() for c in word) and any(c.islower() for c in word)
    # A long unbroken run of letters and digits (a lower-case Rancher or hex token); names
    # and UIDs are broken into short parts by dashes.
    long_run = any(
        len(run) >= 24 and not run.isdigit() and not run.isalpha()
        for run in re.findall(r"[A-Za-z0-9]+", word)
    )
    return REDACTED if has_digit and (mixed_case or long_run) else word


REDACTOR = Redactor()


def register_secret(secret: str | None) -> None:
    """Make `secret` unprintable: it is replaced in every output and file from now on."""
    REDACTOR.register(secret)


def scrub(text: str) -> str:
    """`text` without known secrets or token-shaped strings (for data: output, files)."""
    return REDACTOR.scrub(text)


def scrub_message(text: str) -> str:
    """`text` as `scrub` makes it, and without long opaque strings (for messages)."""
    return REDACTOR.scrub(_hide_unrecognized_values(text), opaque=True)


def scrub_json(value: Any) -> Any:
    """A copy of a JSON-ready value with every string in it scrubbed (keys included)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, Mapping):
        return {scrub_json(key): scrub_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub_json(item) for item in value]
    return value


def _hide_unrecognized_values(text: str) -> str:
    """argparse's "unrecognized arguments: --flg VALUE x" keeps the flags, hides values."""
    marker = "unrecognized arguments: "
    start = text.find(marker)
    if start < 0:
        return text
    head, rest = text[: start + len(marker)], text[start + len(marker) :]
    listed, separator, tail = rest.partition(" (")
    shown = []
    for word in listed.split(" "):
        if word.startswith("-"):
            flag, equals, _ = word.partition("=")
            shown.append(f"{flag}=<value hidden>" if equals else flag)
        elif word:
            shown.append(word if _PLAIN_VALUE.fullmatch(word) else "<value hidden>")
    return head + " ".join(shown) + separator + tail


# -- learning secrets from where the settings come from -----------------------------------


def learn_from_environment(environ: Mapping[str, str] | None = None) -> None:
    """Register the values of secret settings' variables and of any `*TOKEN*`-like one."""
    from hera_utils.settings import SETTINGS

    env = os.environ if environ is None else environ
    secret_variables = {spec.env_var for spec in SETTINGS if spec.secret}
    for name, value in env.items():
        if name in secret_variables or _SECRET_VARIABLE.search(name):
            register_secret(value)


def learn_from_command_line(argv: Sequence[str], parser: Any) -> None:
    """Register the values of secret flags and whatever the command line cannot place.

    `parser` is the argparse parser about to read `argv`: values of its secret options
    are secrets; so are the value of an option it does not know (a misspelt
    `--argo-tokn T`) and a positional argument it has no place for, unless that reads as
    a plain word.
    """
    from hera_utils.settings import SECRET_KEYS

    options: dict[str, Any] = {}
    choices: set[str] = set()
    for action in getattr(parser, "_actions", []):
        for option in action.option_strings:
            options[option] = action
        if not action.option_strings and action.choices:
            choices |= {str(choice) for choice in action.choices}
    words = list(argv)
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word == "--":
            for stray in words[index:]:
                _register_unplaced(stray, choices)
            return
        if not word.startswith("-") or word == "-":
            _register_unplaced(word, choices)
            continue
        name, equals, inline = word.partition("=")
        action = options.get(name) or _abbreviated(name, options)
        takes_value = action is None or action.nargs != 0
        value: str | None = inline if equals else None
        if value is None and takes_value and index < len(words):
            following = words[index]
            if not following.startswith("-") and following not in choices:
                value = following
                index += 1
        if value is None:
            continue
        if action is None or action.dest in SECRET_KEYS:
            register_secret(value)



def _abbreviated(name: str, options: Mapping[str, Any]) -> Any:
    """The action a unique prefix of a long option names, as argparse accepts it."""
    matches = {id(a): a for option, a in options.items() if option.startswith(name)}
    return next(iter(matches.values())) if name.startswith("--") and len(matches) == 1 else None


def _register_unplaced(word: str, choices: set[str]) -> None:
    if word not in choices and not _PLAIN_VALUE.fullmatch(word):
        register_secret(word)


def learn_from_config_files(paths: Iterable[Path]) -> None:
    """Register secret settings' values in config files, and every line we cannot read.

    A line that is not `key='value'` (a token pasted alone, say) is treated as a secret,
    in whole and in the parts an error message may show.
    """
    from hera_utils.config_file import parse_config_line
    from hera_utils.settings import SECRET_KEYS

    for path in paths:
        try:
            with open(path, "rb") as stream:
                raw = stream.read(_MAX_CONFIG_BYTES + 1)
        except OSError:
            continue
        if len(raw) > _MAX_CONFIG_BYTES:
            continue
        for line in raw.decode("utf-8", errors="replace").splitlines():
            parsed = parse_config_line(line)
            if parsed is None:
                _register_line(line)
            elif parsed[0] in SECRET_KEYS:
                register_secret(parsed[1])


def _register_line(line: str) -> None:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return
    register_secret(stripped)
    for part in re.split(r"[\s=:]+", stripped):
        if re.fullmatch(r"[A-Za-z_.-]*", part):
            continue  # a word such as a key's name: no token is made of letters alone
        register_secret(part)
        register_secret(part[:40])  # what a "line starting with" message shows


def learn_from_sources(argv: Sequence[str], parser: Any) -> None:
    """Learn every secret the settings could bring: command line, environment, files."""
    from hera_utils.config_file import config_file_candidates

    learn_from_environment()
    learn_from_command_line(argv, parser)
    paths = [path for _, path, _ in config_file_candidates()]
    for index, word in enumerate(argv):
        if word == "--config" and index + 1 < len(argv):
            paths.append(Path(argv[index + 1]).expanduser())
        elif word.startswith("--config="):
            paths.append(Path(word.split("=", 1)[1]).expanduser())
    learn_from_config_files(paths)


# -- output ---------------------------------------------------------------------------------


class ScrubbingStream(io.TextIOBase):
    """A text stream that scrubs each line before passing it to `target`.

    Lines are held until their end (or a flush), so that a secret written in pieces is
    still recognised whole.
    """

    def __init__(self, target: TextIO, *, opaque: bool = False) -> None:
        super().__init__()
        self.target = target
        self.opaque = opaque
        self._pending = ""
        self._lock = threading.RLock()

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            if "\n" in self._pending:
                complete, _, self._pending = self._pending.rpartition("\n")
                self.target.write(self._scrub(complete + "\n"))
            if len(self._pending) > _MAX_PENDING_CHARS:
                self._drain()
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self._drain()
            with contextlib.suppress(ValueError, OSError):
                self.target.flush()

    def _drain(self) -> None:
        if self._pending:
            self.target.write(self._scrub(self._pending))
            self._pending = ""

    def _scrub(self, text: str) -> str:
        if self.opaque:
            return "".join(scrub_message(line) for line in text.splitlines(keepends=True))
        return scrub(text)

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return bool(getattr(self.target, "isatty", lambda: False)())

    def fileno(self) -> int:
        return self.target.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self.target, "encoding", None) or "utf-8")

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self.target, "errors", None)


@contextlib.contextmanager
def scrubbed_output(
    stdout: TextIO | None = None, stderr: TextIO | None = None
) -> Iterator[tuple[TextIO, TextIO]]:
    """Route stdout, stderr and log records through the scrubber until the block ends.

    Yields the scrubbing (stdout, stderr) streams, wrapping `stdout`/`stderr` when given
    (else `sys.stdout`/`sys.stderr`). stdout carries data (a rendered workflow), so only
    secrets and token shapes go; stderr carries messages, where opaque strings go too.
    """
    # A TextIOBase is what `print` and `sys.stdout` take; typeshed's TextIO is only nominal.
    out = cast(TextIO, ScrubbingStream(stdout or sys.stdout))
    err = cast(TextIO, ScrubbingStream(stderr or sys.stderr, opaque=True))
    saved_out, saved_err = sys.stdout, sys.stderr
    saved_factory = logging.getLogRecordFactory()

    def scrubbed_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = saved_factory(*args, **kwargs)
        with contextlib.suppress(Exception):  # a record that cannot be formatted stays as is
            record.msg, record.args = scrub_message(record.getMessage()), None
        return record

    sys.stdout, sys.stderr = out, err
    logging.setLogRecordFactory(scrubbed_record)
    saved_show = warnings.showwarning
    warnings.showwarning = _one_line_warning_to(err, saved_show)
    try:
        yield out, err
    finally:
        warnings.showwarning = saved_show
        logging.setLogRecordFactory(saved_factory)
        sys.stdout, sys.stderr = saved_out, saved_err
        out.flush()
        err.flush()


def _one_line_warning_to(err: TextIO, other: Callable[..., None]) -> Callable[..., None]:
    """A `warnings.showwarning` printing our warnings as one line on `err`."""
    from .errors import HeraUtilsWarning

    def show(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        # Our own warnings are advice to the user: one line, without our source file's name.
        if issubclass(category, HeraUtilsWarning):
            print(f"warning: {message}", file=err)
        else:
            other(message, category, filename, lineno, file, line)

    return show


def write_text(path: Path, text: str) -> None:
    """Write `text` to `path` (UTF-8) with secrets and token shapes scrubbed."""
    path.write_text(scrub(text), encoding="utf-8")


__all__ = [
    "REDACTED",
    "REDACTOR",
    "Redactor",
    "ScrubbingStream",
    "learn_from_command_line",
    "learn_from_config_files",
    "learn_from_environment",
    "learn_from_sources",
    "register_secret",
    "scrub",
    "scrub_json",
    "scrub_message",
    "scrubbed_output",
    "write_text",
]
