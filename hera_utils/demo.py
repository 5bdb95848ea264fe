"""`python -m hera_utils.demo --dest DIR`: generate the example experiment and run it here.

Generates an experiment from this repository's Copier template with the default answers
(uncommitted template edits included), depending on the installed hera_utils, then runs
`python main.py local` in it with the current interpreter and exits with its exit code.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from hera_utils.errors import ConfigurationError, HeraUtilsError, exit_code_for

DEFAULT_DEST = "build/demo-experiment"
# Written by Copier into every generated experiment: the mark of a directory we may replace.
ANSWERS_FILE = ".copier-answers.yml"


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the demo experiment into `--dest`, run it locally, return its exit code."""
    parser = argparse.ArgumentParser(prog="python -m hera_utils.demo", description=__doc__)
    parser.add_argument("--dest", default=DEFAULT_DEST, help=f"where (default: {DEFAULT_DEST})")
    args = parser.parse_args(argv)
    try:
        dest = generate(Path(args.dest))
    except HeraUtilsError as error:
        print(f"error: {error.one_line()}", file=sys.stderr)
        return exit_code_for(error)
    print(f"generated the example experiment in {dest}", flush=True)
    # The experiment runs in its own process, as a user would run it, its output streaming.
    code = subprocess.call([sys.executable, "main.py", "local"], cwd=dest)
    summaries = sorted(dest.glob("runs/*/summary.json"), key=lambda path: path.stat().st_mtime)
    print()
    print(f"The example experiment is in {dest}")
    if summaries:
        print(f"  summary of the run:   {summaries[-1]}")
    if (dest / "local-volume").is_dir():
        print(f"  files of its tasks:   {dest / 'local-volume'}")
    print(f"  next: {next_step(dest)}   (see its README.md)")
    return code


def next_step(dest: Path) -> str:
    """A shell command rendering the demo, runnable as printed from any directory.

    The demo's dependencies are in the environment running it (e.g. the clone's .venv),
    not necessarily in the `python` of a plain shell: the command names this interpreter.
    """
    return f"cd {shlex.quote(str(dest))} && {shlex.quote(sys.executable)} main.py render"


def generate(dest: Path) -> Path:
    """Copy the template with its default answers into `dest` (replacing an older demo)."""
    import copier

    repository = template_repository()
    if dest.exists():
        if not (dest / ANSWERS_FILE).is_file():
            raise ConfigurationError(
                f"{dest} exists and is not a generated experiment: not replacing it",
                hint="choose another --dest",
            )
        shutil.rmtree(dest)
    with warnings.catch_warnings():
        # Including uncommitted template edits is the point here, not a surprise.
        warnings.simplefilter("ignore", copier.errors.DirtyLocalWarning)
        copier.run_copy(
            str(repository),
            str(dest),
            data={"hera_utils_requirement": installed_requirement(repository)},
            defaults=True,
            vcs_ref="HEAD",  # the working tree, uncommitted template edits included
            quiet=True,
        )
    return dest.resolve()


def template_repository() -> Path:
    """The repository holding `copier.yml` beside this package (a source checkout)."""
    repository = Path(__file__).resolve().parent.parent
    if not (repository / "copier.yml").is_file() or not (repository / ".git").exists():
        raise ConfigurationError(
            f"no template next to hera_utils in {repository}",
            hint="run the demo from a git checkout of hera_utils installed with pip install -e",
        )
    return repository


def installed_requirement(repository: Path) -> str:
    """A requirement naming this checkout, so the demo uses the hera_utils installed here."""
    return f"hera-utils @ {repository.as_uri()}"


if __name__ == "__main__":
    sys.exit(main())
