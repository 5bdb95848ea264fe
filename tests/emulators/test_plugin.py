"""The pytest plugin: its fixtures, its registration, and how little it imports."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import requests


def test_emulated_env_exports_exactly_the_clusters_settings(emulated_env):
    expected = emulated_env.env()
    for name, value in expected.items():
        assert os.environ[name] == value
    assert os.environ["ARGO_SERVER"] == emulated_env.argo.host_port
    assert os.environ["ARGO_TOKEN"] == f"Bearer {emulated_env.user_token}"
    assert Path(os.environ["KUBECONFIG"]).is_file()
    assert "ARGO_BASE_HREF" not in os.environ


def test_the_environment_is_enough_to_reach_both_servers(emulated_env):
    # requests picks REQUESTS_CA_BUNDLE from the environment, as user code will.
    argo = requests.get(
        f"https://{os.environ['ARGO_SERVER']}/api/v1/workflows/{os.environ['ARGO_NAMESPACE']}",
        headers={"Authorization": os.environ["ARGO_TOKEN"]},
        timeout=float(os.environ["HERA_UTILS_TIMEOUT"]),
    )
    assert argo.status_code == 200
    from kubernetes import client, config

    # Explicit path: the client reads $KUBECONFIG once, when `kubernetes.config` is imported.
    api = config.new_client_from_config(config_file=os.environ["KUBECONFIG"])
    with api:
        claim = client.CoreV1Api(api).read_namespaced_persistent_volume_claim(
            os.environ["KUBEVOLUMECLAIMNAME"], os.environ["ARGO_NAMESPACE"]
        )
    assert claim.status.phase == "Bound"


def test_the_cluster_world_is_ready(emulated_cluster):
    k8s = emulated_cluster.k8s
    assert emulated_cluster.namespace == "experiments"
    assert k8s.get_object("persistentvolumeclaims", "experiments", "data")["status"] == {
        "phase": "Bound",
        "accessModes": ["ReadWriteMany"],
        "capacity": {"storage": "1Gi"},
    }
    assert k8s.get_object("configmaps", "experiments", "proxy") is not None
    assert k8s.get_object("serviceaccounts", "experiments", "argo-workflow") is not None
    assert emulated_cluster.tokens.lookup(emulated_cluster.user_token).user == "alice"
    assert emulated_cluster.service_account == "argo-workflow"


def test_single_emulator_fixtures_share_one_token_registry(
    k8s_emulator, argo_emulator, hera_utils_tokens, hera_utils_ca
):
    assert k8s_emulator.tokens is argo_emulator.tokens is hera_utils_tokens
    hera_utils_tokens.add("tok", user="erin", namespaces={"lab"})
    answer = requests.get(
        f"{argo_emulator.url}/api/v1/workflows/lab",
        headers={"Authorization": "Bearer tok"},
        verify=hera_utils_ca.ca_bundle_path,
        timeout=5,
    )
    assert answer.status_code == 200
    assert k8s_emulator.running


def test_the_plugin_is_registered_and_cleans_stale_settings(tmp_path):
    """A separate pytest run, as a project that merely installs hera_utils would make."""
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            import os

            def test_fixtures(emulated_env, hera_utils_ca):
                assert os.environ["KUBECONFIG"] == emulated_env.kubeconfig_path
                assert "ARGO_BASE_HREF" not in os.environ
                assert "HERA_CONFIG" not in os.environ
                assert emulated_env.ca is hera_utils_ca
            """
        )
    )
    env = {
        **os.environ,
        "ARGO_BASE_HREF": "/stale/",
        "HERA_CONFIG": "/nonexistent/hera.config",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_importing_the_plugin_and_the_package_stays_light():
    code = (
        "import sys, hera_utils.testing.plugin, hera_utils.testing; "
        "heavy = {'hera', 'kubernetes', 'trustme', 'jsonschema', 'yaml', 'requests'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"
