"""Refuse to run an experiment whose files still hold `copier update` conflict markers.

A marker left in a Python file would otherwise surface as a SyntaxError at import, far
from its cause; `main.py` calls `exit_on_conflict_markers` before importing its modules.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

# The markers of `copier update --conflict inline` (git's merge markers, with labels).
MARKERS = ("<<<<<<< ", ">>>>>>> ")
# Experiment files are small; a huge file is not one of ours to scan.
MAX_BYTES = 2_000_000


def experiment_files(project_dir: Path) -> Iterator[Path]:
    """The files of an experiment that `copier update` merges and `main.py` reads."""
    yield from sorted(project_dir.glob("*.py"))
    yield from sorted((project_dir / "tests").glob("**/*.py"))
    for name in ("pyproject.toml", ".gitignore"):
        if (project_dir / name).is_file():
            yield project_dir / name


def find_conflict_marker(project_dir: Path) -> tuple[Path, int] | None:
    """The first (file, line number) holding a conflict marker, or None."""
    for path in experiment_files(project_dir):
        try:
            if path.stat().st_size > MAX_BYTES:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if line.startswith(MARKERS) or line.rstrip() in ("<<<<<<<", ">>>>>>>"):
                return path, number
    return None


def conflict_message(project_dir: Path) -> str | None:
    """One line naming the file and line of the first conflict marker, or None."""
    found = find_conflict_marker(project_dir)
    if found is None:
        return None
    path, number = found
    try:
        shown = path.relative_to(project_dir)
    except ValueError:
        shown = path
    return (
        f"error: {shown}:{number} still holds a conflict marker of copier update; "
        "keep the lines you want, delete the <<<<<<< ======= >>>>>>> lines, "
        "then commit (git diff shows the rest)"
    )


def exit_on_conflict_markers(project_dir: Path) -> None:
    """Print the conflict and exit with code 2 when an experiment file holds a marker."""
    message = conflict_message(project_dir)
    if message is not None:
        print(message, file=sys.stderr)
        raise SystemExit(2)
