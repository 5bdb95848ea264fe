"""`hera-utils doctor`: every check passing, and each failing with its hint."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from hera_utils.checks import CHECK_NAMES, run_checks
from hera_utils.cli import main


def doctor(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["doctor", *argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def doctor_json(*argv: str) -> tuple[int, dict]:
    code, out, _ = doctor("--json", *argv)
    return code, json.loads(out)


def checks_of(report: dict) -> dict[str, dict]:
    return {check["name"]: check for check in report["checks"]}


def test_every_check_passes_on_a_healthy_cluster(emulated_env):
    code, report = doctor_json()
    assert code == 0
    assert report["ok"] is True
    assert [c["name"] for c in report["checks"]] == list(CHECK_NAMES)
    assert all(c["ok"] is True for c in report["checks"]), report
    assert set(report["checks"][0]) == {"name", "ok", "detail", "hint"}


def test_the_table_marks_each_check(emulated_env):
    code, out, _ = doctor()
    assert code == 0
    assert out.count("✓") == len(CHECK_NAMES)
    assert f"{len(CHECK_NAMES)} passed, 0 failed, 0 not applicable" in out


def test_checks_that_do_not_apply_are_null(emulated_env, monkeypatch):
    for name in ("KUBECONFIG", "KUBEVOLUMECLAIMNAME", "KUBECONFIGMAPNAME", "ARGO_SERVICE_ACCOUNT"):
        monkeypatch.delenv(name)
    code, report = doctor_json()
    checks = checks_of(report)
    assert code == 0
    for name in ("kubeconfig", "cluster", "namespace", "permissions", "volume_claim",
                 "results_access", "configmap", "service_account"):
        assert checks[name]["ok"] is None, name
    assert checks["argo_auth"]["ok"] is True


def _grant_everything(emulated_env, monkeypatch):
    """A user token valid in every namespace, in the kubeconfig and ARGO_TOKEN."""
    emulated_env.tokens.add("tok-admin", user="admin", namespaces={"*"})
    folder = Path(emulated_env.kubeconfig_path).parent
    path = emulated_env.k8s.write_kubeconfig(folder / "admin.yaml",
                                             token="tok-admin")
    monkeypatch.setenv("KUBECONFIG", str(path))
    monkeypatch.setenv("ARGO_TOKEN", "Bearer tok-admin")


FAILURES = [
    # (check, how to break it, exit code, words of the detail, words of the hint)
    ("config", lambda c, m: m.setenv("ARGO_SERVER", "https//typo.example.org"), 2,
     "misspelt", "host:port"),
    ("kubeconfig", lambda c, m: m.setenv("KUBECONFIG", "/nonexistent/kubeconfig"), 2,
     "does not exist", "KUBECONFIG"),
    ("cluster", lambda c, m: c.k8s.stop(), 3, "refused", "kubeconfig"),
    ("volume_claim", lambda c, m: m.setenv("KUBEVOLUMECLAIMNAME", "no-such-claim"), 3,
     "does not exist", "KUBEVOLUMECLAIMNAME"),
    ("configmap", lambda c, m: m.setenv("KUBECONFIGMAPNAME", "no-such-map"), 3,
     "does not exist", "KUBECONFIGMAPNAME"),
    ("service_account", lambda c, m: m.setenv("ARGO_SERVICE_ACCOUNT", "no-such-sa"), 3,
     "does not exist", "ARGO_SERVICE_ACCOUNT"),
    ("argo_server", lambda c, m: c.argo.stop(), 3, "refused", "argo_server"),
    ("argo_auth", lambda c, m: m.setenv("ARGO_TOKEN", "Bearer forged-token"), 3,
     "rejected the token", "ARGO_TOKEN"),
]


@pytest.mark.parametrize(("name", "breaker", "code", "detail", "hint"), FAILURES,
                         ids=[f[0] for f in FAILURES])
def test_each_check_fails_with_its_hint(emulated_env, monkeypatch, name, breaker, code, detail,
                                        hint):
    breaker(emulated_env, monkeypatch)
    exit_code, report = doctor_json()
    check = checks_of(report)[name]
    assert report["ok"] is False
    assert exit_code == code
    assert check["ok"] is False
    assert detail in check["detail"]
    assert hint in check["hint"]


def test_a_missing_namespace(emulated_env, monkeypatch):
    _grant_everything(emulated_env, monkeypatch)
    monkeypatch.setenv("ARGO_NAMESPACE", "ghost")
    code, report = doctor_json()
    check = checks_of(report)["namespace"]
    assert code == 3
    assert check["ok"] is False
    assert "does not exist" in check["detail"]
    assert "ARGO_NAMESPACE" in check["hint"]


def test_missing_workflow_permissions(emulated_env, monkeypatch):
    emulated_env.k8s.allowed_verbs = lambda user, namespace, verb, resource, group: not (
        resource == "workflows" and verb == "create")
    code, report = doctor_json()
    check = checks_of(report)["permissions"]
    assert code == 3
    assert check["ok"] is False
    assert "workflows.argoproj.io" in check["detail"]
    assert "Role" in check["hint"]


def test_a_namespace_the_argo_token_may_not_use(emulated_env, monkeypatch):
    emulated_env.tokens.add("tok-other", user="carol", namespaces={"elsewhere"})
    monkeypatch.setenv("ARGO_TOKEN", "Bearer tok-other")
    code, report = doctor_json()
    checks = checks_of(report)
    assert code == 3
    assert checks["argo_auth"]["ok"] is True
    assert checks["argo_namespace"]["ok"] is False
    assert "ARGO_NAMESPACE" in checks["argo_namespace"]["hint"]


def test_the_token_is_requested_from_the_cluster_when_none_is_set(emulated_env, monkeypatch):
    monkeypatch.delenv("ARGO_TOKEN")
    code, report = doctor_json()
    assert code == 0, report
    assert "TokenRequest" in checks_of(report)["argo_auth"]["detail"]


def test_a_hanging_argo_server_fails_within_the_timeout(emulated_env, monkeypatch):
    monkeypatch.setenv("HERA_UTILS_TIMEOUT", "1.5")
    emulated_env.argo.faults.set("hang")
    start = time.monotonic()
    code, report = doctor_json()
    elapsed = time.monotonic() - start
    assert code == 3
    assert checks_of(report)["argo_server"]["ok"] is False
    assert "did not answer within 1.5 s" in checks_of(report)["argo_server"]["detail"]
    assert elapsed < 1.5 + 2


def test_a_hanging_kubernetes_api_fails_within_the_timeout(emulated_env, monkeypatch):
    monkeypatch.setenv("HERA_UTILS_TIMEOUT", "1.5")
    emulated_env.k8s.faults.set("hang")
    start = time.monotonic()
    code, _ = doctor_json()
    assert code == 3
    assert time.monotonic() - start < 1.5 + 2


def test_run_checks_is_usable_from_python(emulated_env):
    report = run_checks(argv=[])
    assert report.ok and report.exit_code == 0
    assert report.check("volume_claim").detail == "volume claim 'data' is Bound"


def test_a_refused_token_request_is_the_token_sources_failure_not_the_namespaces(
    emulated_env, monkeypatch
):
    monkeypatch.setenv("HERA_UTILS_ARGO_AUTH_MODE", "token-request")
    monkeypatch.delenv("ARGO_TOKEN")
    emulated_env.k8s.allowed_verbs = lambda user, ns, verb, resource, group: not (
        verb == "create" and resource == "serviceaccounts")
    report = run_checks(argv=[])
    auth = report.check("argo_auth")
    assert auth.ok is False
    assert "not allowed to request a token of service account" in auth.detail
    assert "serviceaccounts/token" in auth.hint and "ARGO_TOKEN" in auth.hint
    assert "ARGO_NAMESPACE" not in auth.hint
    assert report.check("argo_namespace").ok is None  # not checked, not blamed


def test_results_access_names_the_missing_pod_rights_with_a_hint(emulated_env):
    emulated_env.k8s.allowed_verbs = (
        lambda user, ns, verb, resource, group: resource != "pods/exec" and verb != "delete"
    )
    code, report = doctor_json()
    check = checks_of(report)["results_access"]
    assert code == 3 and check["ok"] is False
    assert "delete pods, create pods/exec" in check["detail"]
    assert "pods/exec" in check["hint"] and "submitting workflows does not need it" in check["hint"]


def test_results_access_does_not_apply_without_a_volume_claim(emulated_env, monkeypatch):
    monkeypatch.setenv("KUBEVOLUMECLAIMNAME", "")
    _, report = doctor_json()
    assert checks_of(report)["results_access"]["ok"] is None


def test_a_rejected_argo_token_and_the_source_used_instead_are_named(emulated_env, monkeypatch):
    monkeypatch.setenv("ARGO_TOKEN", "Bearer v2:ZXhwaXJlZC1zc28tc2Vzc2lvbi10b2tlbg==")
    code, out, err = doctor("--json")
    assert code == 0, out + err
    auth = checks_of(json.loads(out))["argo_auth"]
    assert auth["detail"].startswith("a short-lived token of service account")
    assert "in place of an SSO token from argo_token that the Argo Server rejected" in (
        auth["detail"])
    assert "warning: the Argo Server rejected an SSO token from argo_token (401)" in err
    assert "ZXhw" not in out + err


# -- each token source: refused, missing, expired -------------------------------------------


def _source(mode):
    def use(cluster, monkeypatch):
        monkeypatch.setenv("HERA_UTILS_ARGO_AUTH_MODE", mode)
        if mode != "token":
            monkeypatch.delenv("ARGO_TOKEN", raising=False)
    return use


def _legacy(cluster, monkeypatch):
    _source("sa-secret")(cluster, monkeypatch)
    cluster.k8s.add_service_account(cluster.namespace, "legacy", token_secret=True)
    monkeypatch.setenv("ARGO_SERVICE_ACCOUNT", "legacy")


def _expired_sso(cluster, monkeypatch):
    cluster.tokens.add("v2:c3NvLXNlc3Npb24", user="alice", namespaces={"*"},
                       expires_at=time.time() - 60)
    monkeypatch.setenv("ARGO_TOKEN", "Bearer v2:c3NvLXNlc3Npb24")


def _deny(verb, resource):
    def deny(cluster, monkeypatch):
        cluster.k8s.allowed_verbs = lambda user, ns, v, r, group: not (v == verb and r == resource)
    return deny


def _revoke_legacy(cluster, monkeypatch):
    for token in cluster.tokens.tokens_of("system:serviceaccount:experiments:legacy"):
        cluster.tokens.revoke(token)


def _sso_only(cluster, monkeypatch):
    cluster.argo.auth_modes = frozenset({"sso"})


TOKEN_FAILURES = [
    # (source, failure, set-up steps, exit code, words of the detail, words of the hint)
    ("token", "refused", [lambda c, m: m.setenv("ARGO_TOKEN", "Bearer forged-token")], 3,
     "rejected the token", "ARGO_TOKEN"),
    ("token", "missing", [lambda c, m: m.setenv("ARGO_TOKEN", "")], 2,
     "no token is set", "ARGO_TOKEN"),
    ("token", "expired", [_expired_sso], 3, "it has expired", "log in to the Argo UI again"),
    ("token-request", "refused", [_deny("create", "serviceaccounts")], 3,
     "not allowed to request a token", "serviceaccounts/token"),
    ("token-request", "missing", [lambda c, m: m.setenv("ARGO_SERVICE_ACCOUNT", "no-such-sa")],
     3, "does not exist", "ARGO_SERVICE_ACCOUNT"),
    ("token-request", "rejected", [_sso_only], 3, "rejected the token Kubernetes issued",
     "--auth-mode client"),
    ("sa-secret", "refused", [_legacy, _deny("get", "secrets")], 3,
     "not allowed to read the token Secret", "argo_auth_mode=token-request"),
    ("sa-secret", "missing", [], 3, "has no token Secret", "token-request"),
    ("sa-secret", "expired", [_legacy, _revoke_legacy], 3, "the token was revoked",
     "argo_auth_mode=token-request"),
]


@pytest.mark.parametrize(("source", "failure", "steps", "code", "detail", "hint"),
                         TOKEN_FAILURES, ids=[f"{f[0]}-{f[1]}" for f in TOKEN_FAILURES])
def test_each_token_source_failure_is_argo_auths_with_its_own_fix(
    emulated_env, monkeypatch, source, failure, steps, code, detail, hint
):
    _source(source)(emulated_env, monkeypatch)
    for step in steps:
        step(emulated_env, monkeypatch)
    exit_code, report = doctor_json()
    checks = checks_of(report)
    auth = checks["argo_auth"]
    assert (exit_code, auth["ok"]) == (code, False), auth
    assert detail in auth["detail"]
    assert hint in auth["hint"]
    assert checks["argo_namespace"]["ok"] is None  # not checked, not blamed
