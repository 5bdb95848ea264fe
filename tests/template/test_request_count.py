"""Each command asks each server each thing once: checks and command share connections."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from template_helpers import run_main


@pytest.fixture(scope="module")
def project(generated) -> Path:
    return generated("defaults")


def _repeated(emulated_env) -> dict[tuple[str, tuple[str, str, str, bytes]], int]:
    """Requests made more than once (same server, method, path, query and body)."""
    seen: Counter[tuple[str, tuple[str, str, str, bytes]]] = Counter()
    for server, emulator in (("kubernetes", emulated_env.k8s), ("argo", emulated_env.argo)):
        for signature in emulator.requests.signatures():
            seen[(server, signature)] += 1
    return {request: count for request, count in seen.items() if count > 1}


def _total(emulated_env) -> int:
    return len(emulated_env.k8s.requests) + len(emulated_env.argo.requests)


def test_submit_makes_each_needed_request_once(emulated_env, project: Path, tmp_path: Path) -> None:
    result = run_main(project, "submit", "--runs-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert _repeated(emulated_env) == {}
    # version, credentials review, namespace, permission review, 4 results-access reviews,
    # claim, ConfigMap, service account; Argo version, list, create.
    assert _total(emulated_env) == 14


def test_doctor_on_a_healthy_cluster_asks_nothing_twice(emulated_env, project: Path) -> None:
    result = run_main(project, "check", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["ok"] is True
    assert _repeated(emulated_env) == {}


def test_submit_with_a_requested_token_asks_for_it_once(
    emulated_env, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ARGO_TOKEN", raising=False)
    monkeypatch.setenv("HERA_UTILS_ARGO_AUTH_MODE", "token-request")
    result = run_main(project, "submit", "--runs-dir", str(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert _repeated(emulated_env) == {}
    token_requests = [
        entry for entry in emulated_env.k8s.requests if entry.path.endswith("/token")
    ]
    assert len(token_requests) == 1
