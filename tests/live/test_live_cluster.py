"""The same access checks against a real cluster, when one is configured.

Run with `pytest -m live`. Skipped unless KUBECONFIG and ARGO_SERVER are set (with
ARGO_TOKEN or ARGO_SERVICE_ACCOUNT for the token); nothing here creates resources.
"""

from __future__ import annotations

import os

import pytest

import hera_utils
from hera_utils.checks import run_checks

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        not (os.environ.get("KUBECONFIG") and os.environ.get("ARGO_SERVER")
             and (os.environ.get("ARGO_TOKEN") or os.environ.get("ARGO_SERVICE_ACCOUNT"))),
        reason="no real cluster configured (KUBECONFIG, ARGO_SERVER, ARGO_TOKEN or "
               "ARGO_SERVICE_ACCOUNT)",
    ),
]


def test_every_applicable_check_passes_on_the_configured_cluster():
    report = run_checks(argv=[])
    failures = [f"{c.name}: {c.detail} → {c.hint}" for c in report.checks if c.ok is False]
    assert report.ok, "\n".join(failures)


def test_the_original_sequence_of_calls_works_as_written():
    args = hera_utils.parse_arguments([])
    cluster = hera_utils.k8s_cluster(args)
    argo_server = hera_utils.argo_server(cluster, args)
    argo_server.define_argo_server_part_of_environment()
    from hera.shared import global_config

    assert global_config.host == argo_server.url
    assert global_config.namespace == argo_server.namespace
