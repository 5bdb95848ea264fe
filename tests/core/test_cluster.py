"""KubernetesCluster against the Kubernetes API emulator over HTTPS."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import hera_utils
from hera_utils.cluster import KubernetesCluster
from hera_utils.errors import (
    AccessError,
    ConfigurationError,
    ForbiddenError,
    NotFoundError,
    RequestTimeoutError,
    TLSVerificationError,
    UnauthorizedError,
    UnreachableError,
)


@pytest.fixture
def args(emulated_env):
    return hera_utils.parse_arguments([])


def test_k8s_cluster_loads_the_kubeconfig_and_checks_the_credentials(emulated_env, args):
    cluster = hera_utils.k8s_cluster(args)
    assert cluster.namespace == emulated_env.namespace
    assert cluster.server == emulated_env.k8s.url
    assert cluster.server_version().startswith("v")


def test_the_namespace_falls_back_to_the_kubeconfig_context(emulated_env, monkeypatch):
    monkeypatch.delenv("ARGO_NAMESPACE")
    path = emulated_env.k8s.write_kubeconfig(
        Path(emulated_env.kubeconfig_path).parent / "ctx.yaml", token=emulated_env.user_token,
        namespace="experiments")
    monkeypatch.setenv("KUBECONFIG", str(path))
    cluster = hera_utils.k8s_cluster(hera_utils.parse_arguments([]))
    assert cluster.namespace == "experiments"


def test_several_kubeconfig_files_are_merged_and_a_context_chosen(emulated_env, monkeypatch,
                                                                  tmp_path):
    other = emulated_env.k8s.write_kubeconfig(
        tmp_path / "other.yaml", token=emulated_env.user_token, context="second",
        namespace="experiments")
    monkeypatch.setenv("KUBECONFIG", f"{emulated_env.kubeconfig_path}:{other}")
    monkeypatch.setenv("HERA_UTILS_K8S_CONTEXT", "second")
    cluster = hera_utils.k8s_cluster(hera_utils.parse_arguments([]))
    assert cluster.selection.context == "second"
    assert len(cluster.selection.paths) == 2


def test_an_unknown_context_lists_the_known_ones(emulated_env, monkeypatch):
    monkeypatch.setenv("HERA_UTILS_K8S_CONTEXT", "nope")
    with pytest.raises(ConfigurationError, match="'nope' is not in the kubeconfig") as caught:
        hera_utils.k8s_cluster(hera_utils.parse_arguments([]))
    assert "emulated" in caught.value.hint


def test_volume_claim_configmap_and_service_account_are_found(emulated_env, args):
    cluster = hera_utils.k8s_cluster(args)
    assert cluster.assert_volume_claim("data") == "Bound"
    assert "HTTP_PROXY" in cluster.assert_configmap("proxy") or cluster.assert_configmap(
        "proxy") is not None
    assert cluster.assert_service_account("argo-workflow") is not None


@pytest.mark.parametrize(
    ("method", "name", "setting"),
    [
        ("assert_volume_claim", "missing-claim", "k8s_volume_claim_name"),
        ("assert_configmap", "missing-map", "k8s_configmap_name"),
        ("assert_service_account", "missing-sa", "argo_service_account"),
    ],
)
def test_missing_resources_raise_not_found_with_the_setting_to_change(emulated_env, args, method,
                                                                      name, setting):
    cluster = hera_utils.k8s_cluster(args)
    with pytest.raises(NotFoundError) as caught:
        getattr(cluster, method)(name)
    assert caught.value.setting == setting
    assert name in caught.value.message
    assert setting in caught.value.hint or "ARGO_SERVICE_ACCOUNT" in caught.value.hint


def test_a_pending_volume_claim_is_reported_as_not_bound(emulated_env, args):
    emulated_env.k8s.add_volume_claim(emulated_env.namespace, "waiting", phase="Pending")
    cluster = hera_utils.k8s_cluster(args)
    with pytest.raises(AccessError, match="is Pending, not Bound"):
        cluster.assert_volume_claim("waiting")


def test_rbac_answers_come_from_self_subject_access_review(emulated_env, args):
    cluster = hera_utils.k8s_cluster(args)
    allowed, _ = cluster.can_i("create", "workflows", group="argoproj.io")
    assert allowed is True
    allowed, _ = cluster.can_i("create", "workflows", group="argoproj.io", namespace="elsewhere")
    assert allowed is False


def test_a_rejected_token_says_to_renew_the_kubeconfig(emulated_env, args):
    emulated_env.tokens.revoke(emulated_env.user_token)
    with pytest.raises(UnauthorizedError) as caught:
        hera_utils.k8s_cluster(args)
    assert "kubeconfig" in caught.value.hint


def test_a_namespace_not_granted_is_forbidden(emulated_env, monkeypatch):
    emulated_env.k8s.add_namespace("secret-lab")
    monkeypatch.setenv("ARGO_NAMESPACE", "secret-lab")
    cluster = KubernetesCluster.from_settings(hera_utils.parse_arguments([]))
    with pytest.raises(ForbiddenError) as caught:
        cluster.read_namespace()
    assert "ARGO_NAMESPACE" in caught.value.hint


def test_an_unrelated_ca_fails_tls_verification(emulated_env, monkeypatch, tmp_path):
    import base64

    import yaml

    from hera_utils.testing import TestCertificateAuthority

    path = Path(emulated_env.k8s.write_kubeconfig(tmp_path / "bad-ca.yaml",
                                                  token=emulated_env.user_token))
    config = yaml.safe_load(path.read_text())
    other = TestCertificateAuthority()
    other_ca = Path(other.ca_bundle_path).read_bytes()
    config["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(
        other_ca).decode()
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KUBECONFIG", str(path))
    with pytest.raises(TLSVerificationError) as caught:
        hera_utils.k8s_cluster(hera_utils.parse_arguments([]))
    assert "certificate-authority-data" in caught.value.hint


def test_a_hanging_api_times_out_within_the_request_timeout(emulated_env, monkeypatch):
    monkeypatch.setenv("HERA_UTILS_TIMEOUT", "1")
    emulated_env.k8s.faults.set("hang")
    start = time.monotonic()
    with pytest.raises(RequestTimeoutError) as caught:
        hera_utils.k8s_cluster(hera_utils.parse_arguments([]))
    assert time.monotonic() - start < 1 + 2
    assert "HERA_UTILS_TIMEOUT" in caught.value.hint


def test_a_refused_port_is_unreachable(emulated_env, monkeypatch, tmp_path):
    url = emulated_env.k8s.url
    emulated_env.k8s.stop()
    with pytest.raises(UnreachableError, match="refused"):
        hera_utils.k8s_cluster(hera_utils.parse_arguments([]))
    assert url


def test_service_account_tokens_by_token_request_and_legacy_secret(emulated_env, args):
    emulated_env.k8s.add_service_account(emulated_env.namespace, "legacy", token_secret=True)
    cluster = hera_utils.k8s_cluster(args)
    token, expires = cluster.request_service_account_token("argo-workflow")
    assert token and expires is not None
    assert emulated_env.tokens.lookup(token) is not None
    legacy = cluster.read_legacy_service_account_token("legacy")
    assert emulated_env.tokens.lookup(legacy) is not None


def test_no_legacy_secret_suggests_token_request(emulated_env, args):
    cluster = hera_utils.k8s_cluster(args)
    with pytest.raises(NotFoundError) as caught:
        cluster.read_legacy_service_account_token("argo-workflow")
    assert "token-request" in caught.value.hint
