"""Fixtures of the local runner's tests: each run writes under the test's own directory."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

from hera_utils.local import run_locally


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`run_locally` writing to tmp_path/runs, quiet, with tmp_path as work directory."""
    monkeypatch.chdir(tmp_path)
    return functools.partial(run_locally, runs_dir=tmp_path / "runs", progress="quiet",
                             work_dir=tmp_path)

