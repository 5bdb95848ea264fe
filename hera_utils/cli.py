"""`hera-utils`: doctor (all access checks), config (resolved settings), version.

Setting flags are accepted before or after the subcommand. Expected errors print one
line and exit with the contract's code; no token is ever printed. `--help` imports
neither Hera nor the Kubernetes client, so it answers at once.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import TextIO

from .errors import (
    EXIT_CONFIGURATION,
    HeraUtilsError,
    exit_code_for,
    quiet_broken_pipe,
    report_unexpected,
)
from .redaction import learn_from_sources, scrub_message, scrubbed_output
from .settings import SETTINGS, Settings, SettingsParser, parser, redact
from .signals import Terminated, terminating_signals_raise

COMMANDS = ("doctor", "config", "version")


def build_parser() -> SettingsParser:
    """The `hera-utils` parser: every setting plus the subcommand and its options."""
    cli = parser(
        prog="hera-utils",
        description="Check access to Kubernetes and the Argo Server, and show settings.",
        epilog="Exit codes: 0 ok, 2 usage or configuration error, 3 an access check failed.",
    )
    cli.add_argument(
        "command",
        choices=COMMANDS,
        metavar="{doctor,config,version}",
        help="doctor: run every access check; config: show the resolved "
        "settings; version: show versions",
    )
    cli.add_argument("--json", action="store_true", help="doctor: print one JSON object")
    cli.add_argument(
        "--show-origin",
        "--show_origin",
        action="store_true",
        dest="show_origin",
        help="config: say where each value came from",
    )
    return cli


def main(
    argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    """Run `hera-utils`; return the exit code. Everything printed is scrubbed of secrets."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    # SIGTERM/SIGHUP (a killed job, a closed terminal) end with a message, not silently.
    with scrubbed_output(stdout, stderr) as (out, err), terminating_signals_raise():
        return _run(args_list, out, err)


def _run(args_list: list[str], out: TextIO, err: TextIO) -> int:
    try:
        if args_list and args_list[0] == "version" and len(args_list) == 1:
            return _version(out)
        cli = build_parser()
        learn_from_sources(args_list, cli)
        args = cli.parse_args(args_list)
        _warn_unknown_keys(args, err)
        if args.command == "version":
            return _version(out)
        if args.command == "config":
            return print_settings(args, out)
        return _doctor(args, out)
    except HeraUtilsError as error:
        print(f"hera-utils: error: {error.one_line()}", file=err)
        return exit_code_for(error)
    except KeyboardInterrupt:
        print("hera-utils: interrupted", file=err)
        return 130
    except Terminated as stop:
        print(f"hera-utils: error: {stop}", file=err)
        return stop.exit_code
    except BrokenPipeError:
        return quiet_broken_pipe()
    except Exception as error:  # a bug: still one line, scrubbed, unless asked for more
        return report_unexpected(error, "hera-utils", err)


def _doctor(args: Settings, out: TextIO) -> int:
    from .checks import run_checks

    report = run_checks(args)
    if args.json:
        print(scrub_message(json.dumps(report.to_dict(), indent=2, ensure_ascii=False)), file=out)
    else:
        color = out.isatty() if hasattr(out, "isatty") else False
        print(scrub_message(report.render(color=color)), file=out)
    return report.exit_code


def print_settings(args: Settings, out: TextIO) -> int:
    """Print the effective settings (secrets redacted), with `args.show_origin` their origins."""
    from .argo_endpoint import resolve_argo_endpoint

    width = max(len(spec.key) for spec in SETTINGS)
    for spec in SETTINGS:
        value = redact(spec.key, getattr(args, spec.key, None))
        shown = "(unset)" if value in (None, "") else str(value)
        line = f"{spec.key:<{width}} = {shown}"
        if args.show_origin:
            line = f"{line:<{width + 40}}  # {args.origin(spec.key)}"
        print(line, file=out)
    if args.argo_server:
        endpoint = resolve_argo_endpoint(
            args.argo_server, secure=args.argo_secure, base_href=args.argo_base_href or ""
        )
        print(f"\nThe Argo Server is reached at {endpoint.url}", file=out)
        for note in endpoint.notes:
            print(f"  - {note}", file=out)
    return 0


def _version(out: TextIO) -> int:
    from importlib import metadata

    from . import __version__

    print(f"hera-utils {__version__}", file=out)
    for distribution in ("hera", "kubernetes", "copier"):
        try:
            print(f"{distribution} {metadata.version(distribution)}", file=out)
        except metadata.PackageNotFoundError:
            print(f"{distribution} (not installed)", file=out)
    print(f"python {sys.version.split()[0]}", file=out)
    _print_template_version(out)
    return 0


def _print_template_version(out: TextIO) -> None:
    """Inside a generated experiment, the template commit it was copied or updated from."""
    from pathlib import Path

    from .submission import ANSWERS_FILE, template_version

    if (Path.cwd() / ANSWERS_FILE).is_file():
        template = template_version(Path.cwd())
        print(f"template {template['commit']} from {template['src_path']}", file=out)


def _warn_unknown_keys(args: Settings, err: TextIO) -> None:
    for key, path in sorted(args.unknown_config_keys.items()):
        print(f"hera-utils: warning: {path}: unknown key {key!r} ignored", file=err)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["COMMANDS", "EXIT_CONFIGURATION", "build_parser", "main"]
