"""`python -m hera_utils.demo`: generate the example experiment from this repository, run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from template_helpers import REPOSITORY

from hera_utils import demo as demo_module
from hera_utils.errors import ConfigurationError


def demo(dest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hera_utils.demo", "--dest", str(dest)],
        cwd=REPOSITORY, capture_output=True, text=True, timeout=300, check=False,
    )


def test_the_demo_generates_and_runs_the_example_and_its_next_step_runs_as_printed(
    tmp_path: Path,
) -> None:
    dest = tmp_path / "demo"
    result = demo(dest)
    assert result.returncode == 0, result.stdout + result.stderr
    (summary_path,) = dest.glob("runs/*/summary.json")
    tasks = json.loads(summary_path.read_text())["tasks"]
    assert {task["phase"] for task in tasks} == {"Succeeded"}
    assert str(summary_path) in result.stdout
    assert list((dest / "local-volume").rglob("result.json"))
    requirement = f"hera-utils @ {REPOSITORY.as_uri()}"
    assert requirement in (dest / "pyproject.toml").read_text()
    (hint,) = [line for line in result.stdout.splitlines() if "next:" in line]
    command = hint.split("next:", 1)[1].split("   (", 1)[0].strip()
    # In a plain shell, from elsewhere, with no virtual environment on PATH.
    shell = subprocess.run(
        ["/bin/sh", "-c", command], cwd=tmp_path, env={"PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert shell.returncode == 0, shell.stdout + shell.stderr
    assert (dest / "runs" / "workflow.yaml").is_file()


def test_the_demo_replaces_an_older_demo(tmp_path: Path) -> None:
    dest = tmp_path / "demo"
    demo_module.generate(dest)
    (dest / "stale.txt").write_text("from an older demo")
    demo_module.generate(dest)
    assert not (dest / "stale.txt").exists()
    assert (dest / "main.py").is_file()


def test_the_demo_leaves_other_directories_alone(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("not a demo")
    with pytest.raises(ConfigurationError, match="not a generated experiment"):
        demo_module.generate(tmp_path)
    assert (tmp_path / "mine.txt").exists()
    result = demo_module.main(["--dest", str(tmp_path)])
    assert result == 2
