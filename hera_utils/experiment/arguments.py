"""The command line of a generated `main.py`: every setting, the subcommand and its options."""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

from hera_utils.errors import ConfigurationError
from hera_utils.experiment.paths import LOCAL_VOLUME_DIR, RENDER_OUTPUT, RUNS_DIR
from hera_utils.results import DEFAULT_POD_DEADLINE, DEFAULT_START_TIMEOUT
from hera_utils.settings import Settings, SettingsParser
from hera_utils.settings import parser as settings_parser

DEFAULT_COMMAND = "submit"  # the original experiment scripts submitted when run bare
DEFAULT_WAIT_TIMEOUT = 24 * 3600.0
DEFAULT_POLL_INTERVAL = 5.0
# Where a generated experiment keeps its own setting defaults (its answers to the template).
EXPERIMENT_DEFAULTS_FILE = "environment.py"


# Which subcommands each option belongs to: an option given to another one is a usage error.
_COMMANDS_OF_OPTION: dict[str, tuple[str, ...]] = {
    "output": ("render",),
    "json": ("check",),
    "show_origin": ("config",),
    "wait": ("submit", "retry"),
    "wait_timeout": ("submit", "retry"),
    "poll_interval": ("submit", "retry"),
    "runs_dir": ("submit", "local", "logs", "retry"),
    "operands": ("logs", "retry", "results"),
    "to": ("results",),
    "pod_deadline": ("results",),
    "start_timeout": ("results",),
    "task": ("logs",),
    "follow": ("logs",),
    "volume_dir": ("local",),
    "parallelism": ("local",),
    "stub_containers": ("local",),
    "retry_run": ("local",),
    "resume_with": ("local",),
}


def parser(
    commands: Sequence[str],
    *,
    description: str = "",
    defaults: Mapping[str, Any] | None = None,
) -> SettingsParser:
    """The hera_utils settings parser plus an experiment's subcommand and its options.

    The subcommand is an optional positional and its options are plain flags, so that
    setting flags are accepted before and after it alike.
    """
    p = settings_parser(
        description=description or "Run a Hera experiment.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "command",
        nargs="?",
        default=DEFAULT_COMMAND,
        choices=list(commands),
        help=f"what to do (default: {DEFAULT_COMMAND})",
    )
    p.add_argument(
        "operands",
        nargs="*",
        default=[],
        metavar="ARG",
        help="logs, retry: [WORKFLOW] (default: the latest submission recorded in runs/); "
        "results: pull [PATH] or ls [PATH] (PATH on the volume claim)",
    )
    group = p.add_argument_group("options of the subcommands")
    group.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help=f"render: write the YAML to FILE, '-' for stdout (default: {RENDER_OUTPUT})",
    )
    group.add_argument("--json", action="store_true", help="check: print one JSON object")
    group.add_argument(
        "--show-origin",
        "--show_origin",
        dest="show_origin",
        action="store_true",
        help="config: say where each value came from",
    )
    group.add_argument(
        "--wait", action="store_true", help="submit, retry: follow the run to its end"
    )
    group.add_argument("--task", metavar="NAME", help="logs: only this task's log")
    group.add_argument(
        "--follow", action="store_true", help="logs: keep printing until the workflow ends"
    )
    group.add_argument(
        "--wait-timeout",
        type=float,
        default=DEFAULT_WAIT_TIMEOUT,
        metavar="SECONDS",
        help="submit/retry --wait: stop waiting after this long (the workflow goes on)",
    )
    group.add_argument(
        "--poll-interval",
        type=float,
        default=DEFAULT_POLL_INTERVAL,
        metavar="SECONDS",
        help="submit/retry --wait: time between two looks at the workflow",
    )
    group.add_argument(
        "--volume-dir",
        metavar="DIR",
        help=f"local: the directory standing for the volume (default: ./{LOCAL_VOLUME_DIR})",
    )
    group.add_argument(
        "--runs-dir",
        metavar="DIR",
        help=f"submit, local, logs, retry: where runs are recorded (default: ./{RUNS_DIR})",
    )
    group.add_argument("--parallelism", type=int, metavar="N", help="local: tasks run at once")
    group.add_argument(
        "--to",
        metavar="DIR",
        help="results pull: where to write (default: ./results/<workflow>/)",
    )
    group.add_argument(
        "--pod-deadline",
        type=int,
        default=DEFAULT_POD_DEADLINE,
        metavar="SECONDS",
        help="results: the reading pod's activeDeadlineSeconds (it ends by then at the latest)",
    )
    group.add_argument(
        "--start-timeout",
        type=float,
        default=DEFAULT_START_TIMEOUT,
        metavar="SECONDS",
        help="results: how long to wait for the reading pod to run",
    )
    group.add_argument(
        "--retry",
        dest="retry_run",
        metavar="RUN_DIR",
        help="local: re-run the local run in RUN_DIR, reusing the tasks that succeeded",
    )
    group.add_argument(
        "--resume-with",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="local: the value a suspend step's output NAME is resumed with (as argo resume "
        "--output-parameter supplies it); repeatable",
    )
    group.add_argument(
        "--in-containers",
        action="store_true",
        help="local: run script tasks in their images through docker or podman, as Argo "
        "does (default: on this machine, each in its own directory and Python environment)",
    )
    group.add_argument(
        "--stub-containers",
        action="store_true",
        help="local: pretend container tasks succeeded instead of running their images",
    )
    if defaults:
        p.set_defaults(**defaults)
        _show_experiment_defaults(p, defaults)
    return p


def _show_experiment_defaults(p: SettingsParser, defaults: Mapping[str, Any]) -> None:
    """Say in each setting's --help line the default this experiment gives it."""
    for action in p._actions:
        if action.dest in defaults and action.help:
            action.help = f"{action.help} (default from {EXPERIMENT_DEFAULTS_FILE}: %(default)s)"


def parse_args(
    commands: Sequence[str],
    argv: Sequence[str] | None = None,
    *,
    description: str = "",
    defaults: Mapping[str, Any] | None = None,
) -> Settings:
    """Parse an experiment's command line; refuse options of another subcommand."""
    p = parser(commands, description=description, defaults=defaults)
    args: Settings = p.parse_args(argv)
    from_defaults_file = {
        key: f"default ({EXPERIMENT_DEFAULTS_FILE})"
        for key in defaults or {}
        if args.origin(key) == "default"
    }
    args = args.replace(origins={**args.origins, **from_defaults_file})
    for option, owners in _COMMANDS_OF_OPTION.items():
        if args.command not in owners and getattr(args, option) != p.get_default(option):
            flag = "--" + option.replace("_", "-")
            raise ConfigurationError(
                f"{flag} applies to {' and '.join(owners)}, not to {args.command}",
                hint="see main.py --help for the options of each subcommand",
            )
    workflow = None
    if args.command in ("logs", "retry"):
        if len(args.operands) > 1:
            raise ConfigurationError(
                f"{args.command} takes one WORKFLOW, not {len(args.operands)}",
                hint=f"python main.py {args.command} [WORKFLOW]",
            )
        workflow = args.operands[0] if args.operands else None
    args = args.replace(workflow=workflow)
    for option, value in (
        ("parallelism", args.parallelism),
        ("wait_timeout", args.wait_timeout),
        ("poll_interval", args.poll_interval),
        ("pod_deadline", args.pod_deadline),
        ("start_timeout", args.start_timeout),
    ):
        if value is not None and value <= 0:
            flag = "--" + option.replace("_", "-")
            raise ConfigurationError(f"{flag} must be positive, not {value:g}", setting=option)
    return args
