"""The subcommands of an experiment's `main.py`: render, check, submit and local.

A generated `main.py` stays short: it builds its workflow from its own environment, inputs
and layout, and hands one function per subcommand to `main`, which parses the command line
(every hera_utils setting plus the options of the subcommands), runs the subcommand and
turns hera_utils errors into the documented exit codes, without a traceback.

One module per subcommand (`render`, `check`, `config`, `submit`, `local`; `followup` for
`logs` and `retry`; `results`); `arguments` holds the
command line and `dispatch` the entry point; `paths` the directories a run writes to.
"""

from __future__ import annotations

from hera_utils.experiment.arguments import (
    DEFAULT_COMMAND,
    DEFAULT_POLL_INTERVAL,
    DEFAULT_WAIT_TIMEOUT,
    parse_args,
    parser,
)
from hera_utils.experiment.check import check
from hera_utils.experiment.config import config
from hera_utils.experiment.dispatch import Command, main
from hera_utils.experiment.followup import logs, retry
from hera_utils.experiment.local import run_local
from hera_utils.experiment.paths import LOCAL_VOLUME_DIR, RUNS_DIR, local_volume_dir, runs_dir
from hera_utils.experiment.render import render
from hera_utils.experiment.results import results
from hera_utils.experiment.submit import connect, submit

__all__ = [
    "DEFAULT_COMMAND",
    "DEFAULT_POLL_INTERVAL",
    "DEFAULT_WAIT_TIMEOUT",
    "LOCAL_VOLUME_DIR",
    "RUNS_DIR",
    "Command",
    "check",
    "config",
    "connect",
    "local_volume_dir",
    "logs",
    "main",
    "parse_args",
    "parser",
    "render",
    "results",
    "retry",
    "run_local",
    "runs_dir",
    "submit",
]
