"""The subcommands of an experiment's `main.py`: render, check, submit and local.

A generated `main.py` stays short: it builds its workflow from its own environment, inputs
and layout, and hands one function per subcommand to `main`, which parses the command line
(every hera_utils setting plus the options below), runs the subcommand and turns
hera_utils errors into the documented exit codes, without a traceback.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hera_utils.errors import (
    AccessError,
    ConfigurationError,
    HeraUtilsError,
    WorkflowFailedError,
    exit_code_for,
)
from hera_utils.settings import Settings, SettingsParser
from hera_utils.settings import parser as settings_parser
from hera_utils.submission import (
    follow,
    size_warning,
    submit_workflow,
    update_provenance,
    write_provenance,
)

if TYPE_CHECKING:
    from hera.workflows import Workflow

    from hera_utils.argo import ArgoServer
    from hera_utils.cluster import KubernetesCluster

Command = Callable[[Settings], int]

DEFAULT_COMMAND = "submit"  # the original experiment scripts submitted when run bare
DEFAULT_WAIT_TIMEOUT = 24 * 3600.0
DEFAULT_POLL_INTERVAL = 5.0
LOCAL_VOLUME_DIR = "local-volume"
RUNS_DIR = "runs"

# Which subcommands each option belongs to: an option given to another one is a usage error.
_COMMANDS_OF_OPTION: dict[str, tuple[str, ...]] = {
    "output": ("render",),
    "json": ("check",),
    "wait": ("submit",),
    "wait_timeout": ("submit",),
    "poll_interval": ("submit",),
    "runs_dir": ("submit", "local"),
    "volume_dir": ("local",),
    "parallelism": ("local",),
    "stub_containers": ("local",),
}


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
    group = p.add_argument_group("options of the subcommands")
    group.add_argument("-o", "--output", metavar="FILE", help="render: write the YAML to FILE")
    group.add_argument("--json", action="store_true", help="check: print one JSON object")
    group.add_argument("--wait", action="store_true", help="submit: follow the run to its end")
    group.add_argument(
        "--wait-timeout",
        type=float,
        default=DEFAULT_WAIT_TIMEOUT,
        metavar="SECONDS",
        help="submit --wait: stop waiting after this long (the workflow goes on)",
    )
    group.add_argument(
        "--poll-interval",
        type=float,
        default=DEFAULT_POLL_INTERVAL,
        metavar="SECONDS",
        help="submit --wait: time between two looks at the workflow",
    )
    group.add_argument(
        "--volume-dir",
        metavar="DIR",
        help=f"local: the directory standing for the volume (default: ./{LOCAL_VOLUME_DIR})",
    )
    group.add_argument(
        "--runs-dir",
        metavar="DIR",
        help=f"submit, local: where runs are recorded (default: ./{RUNS_DIR})",
    )
    group.add_argument("--parallelism", type=int, metavar="N", help="local: tasks run at once")
    group.add_argument(
        "--stub-containers",
        action="store_true",
        help="local: pretend container tasks succeeded instead of running their images",
    )
    if defaults:
        p.set_defaults(**defaults)
    return p


def parse_args(
    commands: Sequence[str],
    argv: Sequence[str] | None = None,
    *,
    description: str = "",
    defaults: Mapping[str, Any] | None = None,
) -> Settings:
    """Parse an experiment's command line; refuse options of another subcommand."""
    p = parser(commands, description=description, defaults=defaults)
    args = p.parse_args(argv)
    for option, owners in _COMMANDS_OF_OPTION.items():
        if args.command not in owners and getattr(args, option) != p.get_default(option):
            flag = "--" + option.replace("_", "-")
            raise ConfigurationError(
                f"{flag} applies to {' and '.join(owners)}, not to {args.command}",
                hint="see main.py --help for the options of each subcommand",
            )
    for option, value in (
        ("parallelism", args.parallelism),
        ("wait_timeout", args.wait_timeout),
        ("poll_interval", args.poll_interval),
    ):
        if value is not None and value <= 0:
            flag = "--" + option.replace("_", "-")
            raise ConfigurationError(f"{flag} must be positive, not {value:g}", setting=option)
    return args


def render(workflow: Workflow, output: str | None = None) -> int:
    """Write the workflow's YAML to `output` (stdout when None), touching no network."""
    rendered = workflow.to_yaml()
    _warn(size_warning(rendered))
    if output is None:
        sys.stdout.write(rendered)
    else:
        Path(output).write_text(rendered, encoding="utf-8")
        print(f"wrote {output}", file=sys.stderr)
    return 0


def check(args: Settings, *, as_json: bool = False) -> int:
    """Run the access checks (as `hera-utils doctor`), print them, return their exit code."""
    from hera_utils.checks import run_checks

    report = run_checks(args)
    print(json.dumps(report.to_dict(), indent=2) if as_json else report.render())
    return report.exit_code


def connect(args: Settings) -> tuple[KubernetesCluster | None, ArgoServer]:
    """Run the access checks, then return the cluster (None when not needed) and Argo Server.

    A failed check prints the table to stderr and raises the first failure as an error
    carrying its hint (exit code 3, or 2 for a configuration error).
    """
    from hera_utils.argo import argo_server
    from hera_utils.checks import run_checks
    from hera_utils.cluster import k8s_cluster

    report = run_checks(args)
    failed = [result for result in report.checks if result.ok is False]
    if failed:
        print(report.render(), file=sys.stderr)
        first = failed[0]
        error_type = ConfigurationError if first.configuration_error else AccessError
        raise error_type(f"check {first.name} failed: {first.detail}", hint=first.hint)
    cluster = k8s_cluster(args) if report.check("cluster").ok else None
    return cluster, argo_server(cluster, args)


def submit(
    argo: ArgoServer,
    workflow: Workflow,
    args: Settings,
    *,
    inputs: Any,
    project_dir: Path,
) -> int:
    """Submit `workflow`, print its name and UI link, record provenance; with --wait, follow it.

    Returns 0, or raises `WorkflowFailedError` when a followed workflow does not succeed.
    """
    rendered = workflow.to_yaml()
    _warn(size_warning(rendered))
    service = argo.workflows_service()
    name = submit_workflow(service, workflow, argo.namespace, timeout=argo.timeout)
    ui_url = argo.ui_url(name)
    print(f"submitted workflow {name} to namespace {argo.namespace}")
    print(f"Argo UI: {ui_url}", flush=True)
    provenance = write_provenance(
        runs_dir(args, project_dir) / name,
        rendered_yaml=rendered,
        inputs=inputs,
        project_dir=project_dir,
        record={
            "workflow": name,
            "namespace": argo.namespace,
            "argo_server": argo.url,
            "ui_url": ui_url,
            "phase": "Submitted",
        },
    )
    print(f"provenance: {provenance}", flush=True)
    if not args.wait:
        return 0
    state = follow(
        service,
        name,
        argo.namespace,
        timeout=args.wait_timeout,
        request_timeout=argo.timeout,
        poll_interval=args.poll_interval,
        report=lambda state: print(f"  {state}", flush=True),
    )
    update_provenance(provenance, phase=state.phase, finished_at=_now())
    if state.phase != "Succeeded":
        detail = f": {state.message}" if state.message else ""
        raise WorkflowFailedError(f"workflow {name} ended {state.phase}{detail}", hint=ui_url)
    print(f"workflow {name} succeeded")
    return 0


def runs_dir(args: Settings, project_dir: Path) -> Path:
    """Where runs are recorded: `--runs-dir`, else `runs/` in the experiment's directory."""
    return Path(args.runs_dir) if args.runs_dir else project_dir / RUNS_DIR


def local_volume_dir(args: Settings, project_dir: Path) -> Path:
    """The directory standing for the volume claim in a local run (absolute)."""
    chosen = Path(args.volume_dir) if args.volume_dir else project_dir / LOCAL_VOLUME_DIR
    return chosen.resolve()


def run_local(
    workflow: Workflow,
    args: Settings,
    *,
    project_dir: Path,
    volume_dir: Path,
) -> int:
    """Run `workflow` on this machine; return 0, or raise `WorkflowFailedError`.

    The run is recorded in `runs/<workflow-name>/` (summary.json and one log per task).
    """
    from hera_utils.local import run_locally

    # Created first, so that the volume mounts of the tasks name an existing directory.
    volume_dir.mkdir(parents=True, exist_ok=True)
    result = run_locally(
        workflow,
        runs_dir=runs_dir(args, project_dir),
        parallelism=args.parallelism,
        stub_containers=args.stub_containers,
        volume_dir=volume_dir,
        # Tasks run from the project, so Hera runner scripts can import its modules.
        work_dir=project_dir,
    )
    if not result.succeeded:
        raise WorkflowFailedError(
            f"local run {result.name} ended {result.phase}: {result.message}",
            hint=f"see the task logs in {result.run_dir}",
        )
    if any(volume_dir.iterdir()):
        print(f"files written by the tasks: {volume_dir}")
    return 0


def _warn(message: str | None) -> None:
    if message:
        print(f"warning: {message}", file=sys.stderr)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
