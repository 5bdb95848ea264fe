"""The entry point of a generated `main.py`: parse, run one subcommand, map errors to codes."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from hera_utils.errors import HeraUtilsError, exit_code_for, quiet_broken_pipe, report_unexpected
from hera_utils.experiment.arguments import parse_args, parser
from hera_utils.redaction import learn_from_sources, scrubbed_output
from hera_utils.settings import Settings
from hera_utils.signals import Terminated, terminating_signals_raise

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
    words = list(sys.argv[1:] if argv is None else argv)
    # Everything printed from here on is scrubbed of secrets; SIGTERM/SIGHUP end with a
    # message rather than silently.
    with scrubbed_output(), terminating_signals_raise():
        try:
            learn_from_sources(
                words, parser(list(commands), description=description, defaults=defaults)
            )
            args = parse_args(list(commands), words, description=description, defaults=defaults)
            return commands[args.command](args)
        except HeraUtilsError as error:
            print(f"error: {error.one_line()}", file=sys.stderr)
            return exit_code_for(error)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
        except Terminated as stop:
            print(f"error: {stop}", file=sys.stderr)
            return stop.exit_code
        except BrokenPipeError:
            return quiet_broken_pipe()
        except Exception as error:  # a bug: still one line, scrubbed, unless asked for more
            return report_unexpected(error, "main.py", sys.stderr)
