"""Script tasks run on this machine, but cannot change it behind the user's back: pip
installs into the run's own environment, HOME is the task's own, and the working
directory is the task's own file system under the run."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

# A distribution the runner's interpreter has (pytest needs it): the task "upgrades" it.
VICTIM = "iniconfig"

pytestmark = pytest.mark.skipif(importlib.util.find_spec("pip") is None,
                                reason="pip is not installed in this interpreter")


def wheel(directory: Path, version: str = "99.0") -> Path:
    """A wheel of VICTIM at `version` whose module says which version it is."""
    path = directory / f"{VICTIM}-{version}-py3-none-any.whl"
    info = f"{VICTIM}-{version}.dist-info"
    files = {f"{VICTIM}/__init__.py": f"VERSION = {version!r}\n",
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {VICTIM}\nVersion: {version}\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                              "Tag: py3-none-any\n"}
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
        archive.writestr(f"{info}/RECORD", "".join(f"{name},,\n" for name in files)
                         + f"{info}/RECORD,,\n")
    return path


def workflow(source: str, command: str = "python") -> dict:
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
            "metadata": {"name": "sandboxed"},
            "spec": {"entrypoint": "main", "templates": [{"name": "main", "script": {
                "image": "python:3.12", "command": [command], "source": source,
                "env": [{"name": "PIP_DISABLE_PIP_VERSION_CHECK", "value": "1"},
                        {"name": "PIP_NO_INDEX", "value": "1"}]}}]}}


def runner_state() -> tuple[str, str | None]:
    """VICTIM's version and module file as a fresh runner interpreter sees them."""
    probe = subprocess.run(
        [sys.executable, "-c", f"import importlib.metadata as m, {VICTIM} as v; "
                               f"print(m.version({VICTIM!r})); print(v.__file__)"],
        capture_output=True, text=True, check=True, timeout=60)
    version, module = probe.stdout.split()
    return version, module


def test_pip_install_in_a_python_script_stays_in_the_run(run, tmp_path) -> None:
    before = runner_state()
    package = wheel(tmp_path)
    source = ("import subprocess, sys\n"
              f"subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', {str(package)!r}],"
              " check=True)\n"
              f"import {VICTIM}\nprint({VICTIM}.VERSION)")

    result = run(workflow(source))

    assert result.succeeded, result.task("sandboxed").log.read_text()
    assert result.task("sandboxed").result == "99.0"  # the task has what it installed
    assert runner_state() == before  # the runner's interpreter does not
    assert importlib.metadata.version(VICTIM) == before[0]
    installed = list((result.run_dir / "python").rglob(f"{VICTIM}-99.0.dist-info"))
    assert len(installed) == 1


def test_pip_on_a_shells_path_and_an_uninstall_leave_the_runner_alone(run, tmp_path) -> None:
    before = runner_state()
    package = wheel(tmp_path)
    source = (f"pip install -q {package} && pip uninstall -y {VICTIM}; "
              f"pip uninstall -y {VICTIM}; python -c 'import {VICTIM}, sys; print(sys.prefix)'")

    result = run(workflow(source, command="bash"))

    assert result.succeeded, result.task("sandboxed").log.read_text()
    assert result.task("sandboxed").result.splitlines()[-1] == str(result.run_dir / "python")
    assert "outside environment" in result.task("sandboxed").log.read_text()
    assert runner_state() == before


def test_a_script_writing_to_home_leaves_the_users_home_unchanged(run, tmp_path,
                                                                   monkeypatch) -> None:
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    (home / ".bashrc").write_text("# mine\n")
    monkeypatch.setenv("HOME", str(home))
    source = ("import os, pathlib, shutil\n"
              "home = pathlib.Path.home()\n"
              "(home / '.bashrc').write_text('# changed\\n')\n"
              "(home / '.config' / 'tool').mkdir(parents=True)\n"
              "print(home)")

    result = run(workflow(source))

    assert result.succeeded, result.message
    assert (home / ".bashrc").read_text() == "# mine\n"
    assert sorted(p.name for p in home.rglob("*")) == [".bashrc", ".config"]
    assert result.task("sandboxed").result == str(result.run_dir / "fs" / "main")
