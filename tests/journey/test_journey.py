"""A new user's journey, in a fresh virtual environment, from `copier copy` to `copier update`.

What README.md's "Generate an experiment" section tells a user to do, word for word, with
default answers, from a clone of this checkout (its uncommitted changes committed in the
clone): install the experiment with pip into its own virtual environment built from its
`pyproject.toml` alone, run it locally, run its tests, render it, submit it to the
emulators and wait, then take a template change with `copier update`, keeping the
user's edits. Packages come from `build/wheelhouse` (filled by `make wheelhouse`, which
`make test` runs): nothing but loopback is reached.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
WHEELHOUSE = REPOSITORY / "build" / "wheelhouse"
USER_EDIT = "vintages: tuple[int, ...] = (2012, 2015, 2018)"
TEMPLATE_EDIT = "gathered {len(results)} results into {summary_file}"

pytestmark = [
    pytest.mark.journey,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        not (WHEELHOUSE / ".filled").is_file(),
        reason="no build/wheelhouse: run `make wheelhouse` (make test does)",
    ),
]


def sh(cwd: Path, *command: str, env: dict[str, str] | None = None) -> str:
    """Run `command` in `cwd` as a user's shell would; fail the test with its output."""
    completed = subprocess.run(
        list(command), cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    output = completed.stdout + completed.stderr
    shown = " ".join(command)
    assert completed.returncode == 0, f"{shown} exited {completed.returncode}:\n{output}"
    return output


def user_environment(home: Path) -> dict[str, str]:
    """The environment of a new user: no pip configuration, packages from the wheelhouse."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TMPDIR")}
    env.update(
        HOME=str(home),
        PIP_CONFIG_FILE=os.devnull,  # none of this machine's pip settings
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(WHEELHOUSE),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        GIT_AUTHOR_NAME="New User", GIT_AUTHOR_EMAIL="user@example.org",
        GIT_COMMITTER_NAME="New User", GIT_COMMITTER_EMAIL="user@example.org",
        GIT_CONFIG_NOSYSTEM="1",
    )
    env["PATH"] = os.pathsep.join(
        part for part in env.get("PATH", "").split(os.pathsep) if ".venv" not in part
    )
    return env


def clone_of_this_checkout(destination: Path, env: dict[str, str]) -> Path:
    """A clone of this repository with the working tree's changes committed in it."""
    sh(REPOSITORY.parent, "git", "clone", "-q", "--no-hardlinks", str(REPOSITORY),
       str(destination), env=env)
    listed = sh(REPOSITORY, "git", "ls-files", "-co", "--exclude-standard", "-z", env=env)
    for name in filter(None, listed.split("\0")):
        source = REPOSITORY / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    sh(destination, "git", "add", "-A", env=env)
    if sh(destination, "git", "status", "--porcelain", env=env).strip():
        sh(destination, "git", "commit", "-q", "-m", "working tree", env=env)
    return destination


def install_fresh_environment(project: Path, env: dict[str, str]) -> None:
    """`python -m venv .venv` and `pip install -e '.[test]'` in `project`, from the wheelhouse.

    With uv (in the test extra) the same two steps take seconds instead of a minute: uv
    resolves the same `pyproject.toml` against the same wheelhouse, and its cache, kept in
    build/, is reused from one run to the next. Without it, pip does them as the README says.
    """
    try:
        import uv
    except ImportError:
        sh(project, sys.executable, "-m", "venv", ".venv", env=env)
        python = str(project / ".venv" / "bin" / "python")
        sh(project, python, "-m", "pip", "install", "--quiet", "-e", ".[test]", env=env)
        return
    binary = uv.find_uv_bin()
    uv_env = {**env, "UV_NO_CONFIG": "1", "UV_CACHE_DIR": str(REPOSITORY / "build" / "uv-cache")}
    sh(project, binary, "venv", "--quiet", "--offline", "--python", sys.executable, ".venv",
       env=uv_env)
    sh(project, binary, "pip", "install", "--quiet", "--python", ".venv/bin/python",
       "--offline", "--no-index", "--find-links", str(WHEELHOUSE), "-e", ".[test]", env=uv_env)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def test_a_new_user_goes_from_copier_copy_to_submit_and_update(
    tmp_path: Path, emulated_env
) -> None:
    env = user_environment(tmp_path / "home")
    (tmp_path / "home").mkdir()
    template = clone_of_this_checkout(tmp_path / "hera_utils", env)
    project = tmp_path / "my-experiment"

    # README: copier copy, with the defaults, from the clone.
    copied = sh(tmp_path, sys.executable, "-m", "copier", "copy", "--defaults",
                str(template), str(project), env=env)
    assert "python -m pip install -e '.[test]'" in copied
    sh(project, "git", "init", "-q", "-b", "main", env=env)
    sh(project, "git", "add", "-A", env=env)
    sh(project, "git", "commit", "-q", "-m", "Generated from the hera_utils template", env=env)

    # A fresh virtual environment holding only what the experiment's pyproject.toml asks.
    python = str(project / ".venv" / "bin" / "python")
    install_fresh_environment(project, env)

    local = sh(project, python, "main.py", "local", env=env)
    assert "Succeeded" in local, local
    tests = sh(project, python, "-m", "pytest", "-q", "-p", "no:cacheprovider", env=env)
    assert " passed" in tests and "error" not in tests.lower(), tests
    sh(project, python, "main.py", "render", env=env)
    assert (project / "runs" / "workflow.yaml").is_file()
    # The emulators' settings, as a user's hera.config or argo.bash would give them.
    emulated = emulated_env.env()
    submitted = sh(project, python, "main.py", "submit", "--wait", "--poll-interval", "0.05",
                   env={**env, **emulated})
    assert "succeeded" in submitted, submitted
    assert len(emulated_env.argo.workflows) == 1
    version = sh(project, str(project / ".venv" / "bin" / "hera-utils"), "version", env=env)
    commit = sh(template, "git", "rev-parse", "--short", "HEAD", env=env).strip()
    assert commit in version, version

    # The user's own change, committed; then a template change, committed upstream.
    edit(project / "inputs.py", "vintages: tuple[int, ...] = (2012, 2015)", USER_EDIT)
    sh(project, "git", "commit", "-q", "-am", "our vintages", env=env)
    edit(template / "template" / "workflow.py.jinja",
         "summarized {len(results)} results into {summary_file}", TEMPLATE_EDIT)
    sh(template, "git", "commit", "-q", "-am", "clearer message", env=env)

    # Everything main.py wrote is ignored: copier update finds a clean repository.
    assert sh(project, "git", "status", "--porcelain", env=env).strip() == ""
    updated = sh(project, python, "-m", "copier", "update", "--defaults", env=env)
    assert "conflict" in updated
    assert USER_EDIT in (project / "inputs.py").read_text()
    assert TEMPLATE_EDIT in (project / "workflow.py").read_text()
    sh(project, python, "main.py", "local", env=env)
