"""Helpers of the template's tests: the template snapshotted in git, generation, commands.

Each answer set is generated once per session and shared; the template is copied from the
working tree into a temporary git repository, so uncommitted template edits are tested and
`copier update` tests can tag versions of their own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import copier

REPOSITORY = Path(__file__).resolve().parents[2]
REQUIREMENT = f"hera-utils @ {REPOSITORY.as_uri()}"

# Every optional part on, every optional part off, and the defaults (volume on, rest off).
ANSWER_SETS: dict[str, dict[str, str]] = {
    "defaults": {},
    "everything": {
        "experiment_name": "Heat islands",
        "project_slug": "heat_islands",
        "argo_server": "argo.example.org:443",
        "namespace": "experiments",
        "service_account": "argo-workflow",
        "volume_claim_name": "data",
        "mount_path": "/mnt/data",
        "configmap_name": "proxy",
        "container_registry": "registry.example.org/team",
        "python_version": "3.12",
    },
    "nothing_optional": {
        "volume_claim_name": "",
        "configmap_name": "",
        "container_registry": "",
    },
}


def git(directory: Path, *arguments: str) -> str:
    """Run git in `directory` with a fixed identity; return its output."""
    completed = subprocess.run(
        ["git", "-c", "user.name=Template Tests", "-c", "user.email=tests@example.org",
         "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", *arguments],
        cwd=directory, capture_output=True, text=True, timeout=60, check=False,
    )
    if completed.returncode != 0:
        raise AssertionError(f"git {' '.join(arguments)} failed:\n{completed.stderr}")
    return completed.stdout.strip()


def snapshot_template(destination: Path) -> Path:
    """A git repository holding this working tree's `copier.yml` and `template/`."""
    destination.mkdir(parents=True)
    shutil.copy2(REPOSITORY / "copier.yml", destination / "copier.yml")
    shutil.copytree(
        REPOSITORY / "template",
        destination / "template",
        ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", ".ruff_cache"),
    )
    git(destination, "init", "-q", "-b", "main")
    commit_all(destination, "template snapshot")
    return destination


def commit_all(directory: Path, message: str) -> None:
    git(directory, "add", "-A")
    git(directory, "commit", "-q", "-m", message)


def generate(
    template: Path, destination: Path, answers: Mapping[str, str], vcs_ref: str = "HEAD"
) -> Path:
    """`copier copy` of `template` at `vcs_ref` with `answers` (defaults for the rest)."""
    copier.run_copy(
        str(template),
        str(destination),
        data={"hera_utils_requirement": REQUIREMENT, **answers},
        defaults=True,
        vcs_ref=vcs_ref,
        quiet=True,
    )
    return destination


def run(
    project: Path, *arguments: str, env: Mapping[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `python <arguments>` in `project` with this interpreter, as a user would."""
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=project,
        env=dict(os.environ if env is None else env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# The generated project's own modules: imported afresh for each in-process run, since
# several generated projects (one per answer set) define modules of the same names.
PROJECT_MODULES = ("main", "environment", "inputs", "layout", "workflow")


def run_main(
    project: Path, *arguments: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python main.py <arguments>` of `project` in this process, as a user would.

    The same as `run(project, "main.py", ...)` minus the interpreter start-up and imports:
    the working directory, environment (replaced when `env` is given), stdout and stderr
    are the command's own, and its exit code is returned (SystemExit included).
    """
    import contextlib
    import importlib
    import io

    from hera.shared import global_config

    stdout, stderr = io.StringIO(), io.StringIO()
    saved_env, saved_cwd, saved_path = dict(os.environ), Path.cwd(), list(sys.path)
    saved_modules = {name: sys.modules.pop(name) for name in PROJECT_MODULES if name in sys.modules}
    try:
        if env is not None:
            os.environ.clear()
            os.environ.update(env)
        os.chdir(project)
        sys.path.insert(0, str(project))
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            try:
                code = importlib.import_module("main").main(list(arguments))
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    finally:
        for name in PROJECT_MODULES:
            sys.modules.pop(name, None)
        sys.modules.update(saved_modules)
        sys.path[:] = saved_path
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        global_config.reset()  # submit points Hera at the Argo Server: not for the next run
    return subprocess.CompletedProcess(
        ["main.py", *arguments], code, stdout.getvalue(), stderr.getvalue()
    )
