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

from .errors import ConfigurationError

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
        return "hera.config files hold key='value' lines; # starts a comment."

    def parse(self, stream: IO[str]) -> OrderedDict[str, str]:
        source = getattr(stream, "name", "<config>")
        return parse_config_text(stream.read(), str(source))


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
