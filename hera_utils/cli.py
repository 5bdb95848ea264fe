"""`hera-utils`: doctor (all access checks), config (resolved settings), version.

Setting flags are accepted before or after the subcommand. Expected errors print one
line and exit with the contract's code; no token is ever printed. `--help` imports
neither Hera nor the Kubernetes client, so it answers at once.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from .errors import EXIT_CONFIGURATION, HeraUtilsError, exit_code_for
from .settings import SETTINGS, SettingsParser, describe_token, parser, redact

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
    """Run `hera-utils`; return the exit code."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_list and args_list[0] == "version" and len(args_list) == 1:
            return _version(out)
        args = build_parser().parse_args(args_list)
        _warn_unknown_keys(args, err)
        if args.command == "version":
            return _version(out)
        if args.command == "config":
            return _config(args, out)
        return _doctor(args, out)
    except HeraUtilsError as error:
        print(f"hera-utils: error: {scrub(error.one_line(), known_secrets(args_list))}", file=err)
        return exit_code_for(error)
    except KeyboardInterrupt:
        print("hera-utils: interrupted", file=err)
        return 130


def _doctor(args: Any, out: TextIO) -> int:
    from .checks import run_checks

    report = run_checks(args)
    secrets = [args.argo_token] if args.argo_token else []
    secrets += known_secrets([])
    if args.json:
        print(scrub(json.dumps(report.to_dict(), indent=2, ensure_ascii=False), secrets), file=out)
    else:
        color = out.isatty() if hasattr(out, "isatty") else False
        print(scrub(report.render(color=color), secrets), file=out)
    return report.exit_code


def _config(args: Any, out: TextIO) -> int:
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
    return 0


def _warn_unknown_keys(args: Any, err: TextIO) -> None:
    for key, path in sorted(getattr(args, "unknown_config_keys", {}).items()):
        print(f"hera-utils: warning: {path}: unknown key {key!r} ignored", file=err)


def known_secrets(argv: Sequence[str]) -> list[str]:
    """Tokens the user may have given (command line, environment), to keep out of output."""
    import os

    found = [os.environ.get("ARGO_TOKEN", "")]
    for index, arg in enumerate(argv):
        if arg in ("--argo_token", "--argo-token") and index + 1 < len(argv):
            found.append(argv[index + 1])
        elif arg.startswith(("--argo_token=", "--argo-token=")):
            found.append(arg.split("=", 1)[1])
    return [token.strip() for token in found if token.strip()]


def scrub(text: str, secrets: Sequence[str]) -> str:
    """Replace any secret (and its bare form after 'Bearer ') that slipped into `text`."""
    for secret in secrets:
        if not secret:
            continue
        for form in {secret, secret.split(" ", 1)[-1]}:
            if len(form) >= 6:
                text = text.replace(form, describe_token(secret))
    return text


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["COMMANDS", "EXIT_CONFIGURATION", "build_parser", "known_secrets", "main", "scrub"]
