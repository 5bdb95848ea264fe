"""The entry point of a generated `main.py`: parse, run one subcommand, map errors to codes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hera_utils.errors import HeraUtilsError, exit_code_for
from hera_utils.experiment.arguments import parse_args
from hera_utils.settings import Settings

Command = Callable[[Settings], int]


def main(
    commands: Mapping[str, Command],
    argv: Sequence[str] | None = None,
    *,
    description: str = "",
    defaults: Mapping[str, Any] | None = None,
) -> int:
    """Parse `argv`, run the chosen subcommand and return its exit code.

    `commands` maps subcommand names (`render`, `check`, `submit`, `local`) to functions
    taking the parsed settings; `defaults` are the experiment's own setting defaults (the
    answers it was generated with), below the command line, environment and config files.
    """
    try:
        args = parse_args(list(commands), argv, description=description, defaults=defaults)
        return commands[args.command](args)
    except HeraUtilsError as error:
        print(f"error: {error.one_line()}", file=sys.stderr)
        return exit_code_for(error)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
