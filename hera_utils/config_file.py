"""The `hera.config` file format and where such files are looked for.

The format is the original hera_utils one: `key='value'` lines (single or double quotes
optional, stripped), `#` comments and blank lines ignored. `key: value` and `key value`
are not accepted, so a typo is reported instead of being read as something else.
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from pathlib import Path
from typing import IO

import configargparse

from .errors import ConfigurationError, HeraUtilsWarning

# A settings file is a few dozen lines; anything far larger is not one (and is not read).
MAX_CONFIG_BYTES = 1 << 20

_LINE = re.compile(r"^\s*(?P<key>[A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(?P<value>.*?)\s*$")


def parse_config_text(text: str, source: str = "<config>") -> OrderedDict[str, str]:
    """Parse `hera.config` text into an ordered mapping; raise on a malformed line."""
    items: OrderedDict[str, str] = OrderedDict()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            # Only the start of the line is shown: the rest may be a secret.
            shown = re.split(r"[\s=:]", line, maxsplit=1)[0][:40]
            raise ConfigurationError(
                f"{source}:{number}: cannot read the line starting with {shown!r}",
                hint="write settings as key='value' lines, e.g. argo_namespace='my-namespace'",
                setting="config",
            )
        items[match["key"]] = _unquote(match["value"], f"{source}:{number}")
    return items


def _unquote(value: str, where: str) -> str:
    # A trailing comment after a quoted value is allowed: key='v'  # note
    for quote in ("'", '"'):
        if value.startswith(quote):
            end = value.find(quote, 1)
            if end < 0:
                raise ConfigurationError(
                    f"{where}: the value opened with {quote} is never closed",
                    hint=f"close the quote: key={quote}value{quote}",
                    setting="config",
                )
            rest = value[end + 1 :].strip()
            if rest and not rest.startswith("#"):
                raise ConfigurationError(
                    f"{where}: unexpected text after the quoted value",
                    hint="put one key='value' per line; comments start with #",
                    setting="config",
                )
            return value[1:end]
    if " #" in value:
        value = value.split(" #", 1)[0].rstrip()
    return value


class HeraConfigParser(configargparse.ConfigFileParser):
    """configargparse reader of the `hera.config` format."""

    def get_syntax_description(self) -> str:
        return (
            "hera.config files hold key='value' lines; # starts a comment. They are "
            "read from --config FILE, $HERA_CONFIG, $ARGOCONFIG, ./hera.config and "
            "~/hera.config, the first one that sets a key winning."
        )

    def parse(self, stream: IO[str]) -> OrderedDict[str, str]:
        source = getattr(stream, "name", None)
        if isinstance(source, str) and os.path.isfile(source):
            # Read again as bytes: the stream was opened in the locale's encoding, unbounded.
            return parse_config_text(read_config_file(Path(source)), source)
        return parse_config_text(stream.read(MAX_CONFIG_BYTES), str(source or "<config>"))


def read_config_file(path: Path) -> str:
    """The text of a config file: UTF-8, at most `MAX_CONFIG_BYTES`, else a one-line error."""
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise ConfigurationError(
            f"config file {path} cannot be read: {error.strerror or error.__class__.__name__}",
            hint="check the file's permissions, or remove it",
            setting="config",
        ) from error
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigurationError(
            f"config file {path} is larger than {MAX_CONFIG_BYTES >> 20} MiB: not a settings file",
            hint="a hera.config holds key='value' lines; point at the right file",
            setting="config",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ConfigurationError(
            f"{path}:{line}: the file is not UTF-8 (byte 0x{data[error.start]:02x})",
            hint="save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)",
            setting="config",
        ) from error


def config_file_candidates(environ: dict[str, str] | None = None) -> list[tuple[str, Path, bool]]:
    """The config files to read, highest priority first, as (origin, path, explicit).

    Explicit files (named by `$HERA_CONFIG` / `$ARGOCONFIG`) must exist; the conventional
    ones (`./hera.config`, `~/hera.config`) are used only when present. `--config FILE` is
    handled by the parser itself, above all of these.
    """
    env = os.environ if environ is None else environ
    found: list[tuple[str, Path, bool]] = []
    for variable in ("HERA_CONFIG", "ARGOCONFIG"):
        if env.get(variable):
            found.append((f"${variable}", Path(env[variable]).expanduser(), True))
    found.append(("./hera.config", Path("hera.config"), False))
    found.append(("~/hera.config", Path("~/hera.config").expanduser(), False))
    return found


def existing_config_files(environ: dict[str, str] | None = None) -> list[Path]:
    """Existing config files, highest priority first; a missing explicit file is an error."""
    paths: list[Path] = []
    seen: set[Path] = set()
    for origin, path, explicit in config_file_candidates(environ):
        if not path.is_file():
            if explicit:
                raise ConfigurationError(
                    f"config file {path} named by {origin} does not exist",
                    hint=f"create it, fix the path, or unset {origin[1:]}",
                    setting=origin[1:],
                )
            continue
        resolved = path.resolve()
        if resolved not in seen:
            seen.add(resolved)
            paths.append(path)
    return paths


def parse_config_line(line: str) -> tuple[str, str] | None:
    """The (key, value) of one `key='value'` line, quotes stripped; None if it is not one.

    Never raises: it serves to look at lines that `parse_config_text` may refuse.
    """
    match = _LINE.match(line.strip())
    if match is None:
        return None
    value = match["value"]
    for quote in ("'", '"'):
        if value.startswith(quote):
            end = value.find(quote, 1)
            return match["key"], value[1:end] if end > 0 else value[1:]
    return match["key"], value.split(" #", 1)[0].rstrip()


def warn_if_secret_readable_by_others(path: Path, secret_keys: set[str]) -> None:
    """Warn when a config file holding a secret can be read by other users, as ssh does."""
    if not secret_keys or os.name != "posix":
        return
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if mode & 0o077:
        import warnings

        keys = ", ".join(sorted(secret_keys))
        warnings.warn(
            f"{path} holds {keys} and can be read by other users (mode {mode & 0o777:o}): "
            f"chmod 600 {path}",
            HeraUtilsWarning,
            stacklevel=2,
        )
