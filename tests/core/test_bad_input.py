"""Bad input: each case gets its documented exit code, one clear message, no traceback,
and no token in any output."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from hera_utils.cli import main

SECRET = "s3cr3t-Token-Value-0042"


@dataclass
class Case:
    id: str
    setup: Callable[..., None]
    code: int
    expect: str
    argv: list[str] = field(default_factory=lambda: ["doctor"])


def env(**values: str) -> Callable[..., None]:
    def apply(cluster, monkeypatch, tmp_path):
        for name, value in values.items():
            if value is None:
                monkeypatch.delenv(name, raising=False)
            else:
                monkeypatch.setenv(name, value.format(tmp=tmp_path))
    return apply


def file_env(name: str, content: str, variable: str) -> Callable[..., None]:
    def apply(cluster, monkeypatch, tmp_path):
        path = tmp_path / name
        path.write_text(content)
        monkeypatch.setenv(variable, str(path))
    return apply


def cwd_config(content: str) -> Callable[..., None]:
    def apply(cluster, monkeypatch, tmp_path):
        Path("hera.config").write_text(content)
    return apply


def act(action: Callable[..., None]) -> Callable[..., None]:
    def apply(cluster, monkeypatch, tmp_path):
        action(cluster, monkeypatch, tmp_path)
    return apply


def _other_ca_bundle(cluster, monkeypatch, tmp_path):
    from hera_utils.testing import TestCertificateAuthority

    other = TestCertificateAuthority()
    bundle = tmp_path / "other-ca.pem"
    bundle.write_bytes(Path(other.ca_bundle_path).read_bytes())
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))


def _k8s_other_ca(cluster, monkeypatch, tmp_path):
    import base64

    import yaml

    from hera_utils.testing import TestCertificateAuthority

    other = TestCertificateAuthority()
    path = Path(cluster.kubeconfig_path)
    config = yaml.safe_load(path.read_text())
    config["clusters"][0]["cluster"]["certificate-authority-data"] = base64.b64encode(
        Path(other.ca_bundle_path).read_bytes()).decode()
    path.write_text(yaml.safe_dump(config))


def _plain_http_argo(cluster, monkeypatch, tmp_path):
    from hera_utils.testing import ArgoServerEmulator

    plain = ArgoServerEmulator(tokens=cluster.tokens, tls=None)
    plain.start()
    monkeypatch.setattr(cluster, "_plain_argo", plain, raising=False)
    monkeypatch.setenv("ARGO_SERVER", plain.host_port)


def _expired_sso_token(cluster, monkeypatch, tmp_path):
    cluster.tokens.add(f"v2:{SECRET}", user="alice", namespaces={"*"},
                       expires_at=time.time() - 60)
    monkeypatch.setenv("ARGO_TOKEN", f"Bearer v2:{SECRET}")
    # Only this token: in `auto` mode the service account's token would stand in for it.
    monkeypatch.setenv("HERA_UTILS_ARGO_AUTH_MODE", "token")


CASES = [
    # -- the kubeconfig (exit 2) -------------------------------------------------------------
    Case("kubeconfig-missing-file", env(KUBECONFIG="/nonexistent/kubeconfig.yaml"), 2,
         "kubeconfig file /nonexistent/kubeconfig.yaml does not exist"),
    Case("kubeconfig-malformed-yaml", file_env("k.yaml", "clusters: [\n  - {name: x\n",
                                               "KUBECONFIG"), 2, "is not valid YAML"),
    Case("kubeconfig-not-a-kubeconfig", file_env("k.yaml", "- just\n- a list\n", "KUBECONFIG"),
         2, "is not a kubeconfig"),
    Case("kubeconfig-empty", file_env("k.yaml", "", "KUBECONFIG"), 2, "no current-context"),
    Case("kubeconfig-unknown-context", env(HERA_UTILS_K8S_CONTEXT="prod"), 2,
         "context 'prod' is not in the kubeconfig"),
    Case("kubeconfig-context-without-cluster", file_env(
        "k.yaml", "current-context: c\ncontexts:\n- name: c\n  context: {cluster: gone}\n"
                  "clusters: []\n", "KUBECONFIG"), 2, "which has no server"),
    # -- the Argo Server address (exit 2) -------------------------------------------------------
    Case("server-ftp-scheme", env(ARGO_SERVER="ftp://argo.example.org"), 2, "scheme 'ftp'"),
    Case("server-misspelt-scheme", env(ARGO_SERVER="https//argo.example.org"), 2, "misspelt"),
    Case("server-port-out-of-range", env(ARGO_SERVER="argo.example.org:99999"), 2,
         "not a number from 1 to 65535"),
    Case("server-white-space", env(ARGO_SERVER="argo example.org:2746"), 2, "white space"),
    Case("server-with-credentials", env(ARGO_SERVER=f"https://me:{SECRET}@argo.example.org"), 2,
         "credentials do not belong"),
    Case("server-missing", env(ARGO_SERVER=None, HERA_UTILS_SUBMIT_VIA="argo-server"), 2,
         "no Argo Server is configured"),
    Case("server-path-conflicts-base-href", env(ARGO_SERVER="https://a.example.org/argo/",
                                                ARGO_BASE_HREF="/other/"), 2, "argo_base_href"),
    # -- typed settings (exit 2) --------------------------------------------------------------
    Case("secure-not-boolean", env(ARGO_SECURE="maybe"), 2, "setting argo_secure: 'maybe'"),
    Case("skip-verify-not-boolean", env(ARGO_INSECURE_SKIP_VERIFY="sure"), 2,
         "setting argo_insecure_skip_verify"),
    Case("timeout-not-a-number", env(HERA_UTILS_TIMEOUT="soon"), 2, "HERA_UTILS_TIMEOUT"),
    Case("timeout-zero", env(HERA_UTILS_TIMEOUT="0"), 2, "must be more than 0"),
    Case("auth-mode-unknown", env(HERA_UTILS_ARGO_AUTH_MODE="magic"), 2, "invalid choice"),
    Case("namespace-invalid", env(ARGO_NAMESPACE="Team_A"), 2, "'Team_A' is not a valid"),
    Case("volume-claim-invalid", env(KUBEVOLUMECLAIMNAME="My-Data"), 2,
         "setting k8s_volume_claim_name: 'My-Data'"),
    Case("configmap-invalid", env(KUBECONFIGMAPNAME="-proxy-"), 2, "k8s_configmap_name"),
    Case("service-account-invalid", env(ARGO_SERVICE_ACCOUNT="argo workflow"), 2,
         "argo_service_account"),
    Case("token-with-line-break", env(ARGO_TOKEN=f"Bearer {SECRET}\nexport X=1"), 2,
         "line break"),
    Case("token-three-words", env(ARGO_TOKEN=f"Token {SECRET} extra"), 2,
         "'Bearer <token>'"),
    Case("token-mode-without-token", env(HERA_UTILS_ARGO_AUTH_MODE="token", ARGO_TOKEN=None), 2,
         "no token is set"),
    Case("token-request-without-account", env(HERA_UTILS_ARGO_AUTH_MODE="token-request",
                                              ARGO_SERVICE_ACCOUNT=None), 2,
         "no service account is set"),
    # -- config files (exit 2) ----------------------------------------------------------------
    Case("config-colon-syntax", cwd_config("argo_server: host:2746\n"), 2,
         "hera.config:1: cannot read"),
    Case("config-unclosed-quote", cwd_config("argo_namespace='lab\n"), 2, "never closed"),
    Case("config-token-line-malformed", cwd_config(f"argo_token {SECRET}\n"), 2,
         "cannot read the line starting with 'argo_token'"),
    Case("config-explicit-missing", env(), 2, "named by --config does not exist",
         argv=["doctor", "--config", "/nonexistent/hera.config"]),
    Case("config-env-missing", env(HERA_CONFIG="/nonexistent/team.config"), 2,
         "named by $HERA_CONFIG does not exist"),
    # -- usage (exit 2) -----------------------------------------------------------------------
    Case("unknown-subcommand", env(), 2, "invalid choice: 'docter'", argv=["docter"]),
    Case("no-subcommand", env(), 2, "the following arguments are required", argv=[]),
    Case("unknown-flag", env(), 2, "unrecognized arguments: --argo_sever",
         argv=["doctor", "--argo_sever", "x:1"]),
    # -- the Argo Server (exit 3) ------------------------------------------------------------
    Case("argo-refused-port", act(lambda c, m, t: c.argo.stop()), 3, "refused the connection"),
    Case("argo-hanging", act(lambda c, m, t: (m.setenv("HERA_UTILS_TIMEOUT", "1"),
                                              c.argo.faults.set("hang"))), 3,
         "did not answer within 1 s"),
    Case("argo-connection-dropped", act(lambda c, m, t: c.argo.faults.set("drop")), 3,
         "closed the connection"),
    Case("argo-tls-mismatch", _other_ca_bundle, 3, "could not be verified"),
    Case("argo-plain-http-to-tls-port", env(ARGO_SECURE="false"), 3, "argo_server"),
    Case("argo-https-to-plain-port", _plain_http_argo, 3, "does not speak TLS"),
    Case("argo-401-token", env(ARGO_TOKEN=f"Bearer {SECRET}"), 3, "rejected the token (401"),
    Case("argo-401-bare-token", env(ARGO_TOKEN=SECRET), 3, "rejected the token"),
    Case("argo-401-expired-sso-token", _expired_sso_token, 3, "it has expired"),
    Case("argo-403-namespace", act(lambda c, m, t: (
        c.tokens.add(SECRET, user="carol", namespaces={"other"}),
        m.setenv("ARGO_TOKEN", f"Bearer {SECRET}"))), 3, "refused access to namespace"),
    # Like the real server, a wrong prefix gets the UI's HTML page, not a 404.
    Case("argo-wrong-base-href", env(ARGO_BASE_HREF="/wrong/"), 3,
         "check the address and argo_base_href"),
    Case("argo-500", act(lambda c, m, t: c.argo.faults.set("error500")), 3, "HTTP 500"),
    Case("argo-malformed-json", act(lambda c, m, t: c.argo.faults.set("malformed")), 3,
         "not JSON"),
    # -- Kubernetes (exit 3) ------------------------------------------------------------------
    Case("k8s-401-expired-credentials", act(lambda c, m, t: c.tokens.revoke(c.user_token)), 3,
         "rejected the credentials"),
    Case("k8s-hanging", act(lambda c, m, t: (m.setenv("HERA_UTILS_TIMEOUT", "1"),
                                             c.k8s.faults.set("hang"))), 3,
         "did not answer within 1 s"),
    Case("k8s-tls-mismatch", _k8s_other_ca, 3, "certificate-authority-data"),
    Case("k8s-refused", act(lambda c, m, t: c.k8s.stop()), 3, "refused the connection"),
    Case("k8s-500", act(lambda c, m, t: c.k8s.faults.set(
        "error500", paths="/api/v1/namespaces/experiments/persistentvolumeclaims")), 3,
         "HTTP 500"),
    Case("missing-volume-claim", env(KUBEVOLUMECLAIMNAME="no-such-claim"), 3,
         "volume claim 'no-such-claim' does not exist"),
    Case("pending-volume-claim", act(lambda c, m, t: (
        c.k8s.add_volume_claim(c.namespace, "waiting", phase="Pending"),
        m.setenv("KUBEVOLUMECLAIMNAME", "waiting"))), 3, "is Pending, not Bound"),
    Case("missing-configmap", env(KUBECONFIGMAPNAME="no-such-map"), 3,
         "ConfigMap 'no-such-map' does not exist"),
    Case("missing-service-account", env(ARGO_SERVICE_ACCOUNT="no-such-sa"), 3,
         "service account 'no-such-sa' does not exist"),
    Case("wrong-namespace", act(lambda c, m, t: (
        c.tokens.add(SECRET, user="root", namespaces={"*"}),
        m.setenv("KUBECONFIG", c.k8s.write_kubeconfig(t / "root.yaml", token=SECRET)),
        m.setenv("ARGO_TOKEN", SECRET), m.setenv("ARGO_NAMESPACE", "ghost"))), 3,
         "does not exist in namespace 'ghost'"),
    Case("token-request-for-missing-account", env(
        ARGO_TOKEN=None, HERA_UTILS_ARGO_AUTH_MODE="token-request",
        ARGO_SERVICE_ACCOUNT="ghost-sa"), 3, "service account 'ghost-sa'"),
    Case("sa-secret-without-secret", env(ARGO_TOKEN=None, HERA_UTILS_ARGO_AUTH_MODE="sa-secret"),
         3, "has no token Secret"),
]


def test_there_are_at_least_forty_cases():
    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(case, emulated_env, monkeypatch, tmp_path):
    case.setup(emulated_env, monkeypatch, tmp_path)
    out, err = io.StringIO(), io.StringIO()
    code = main(case.argv, stdout=out, stderr=err)
    plain = getattr(emulated_env, "_plain_argo", None)
    if plain is not None:
        plain.stop()
    output = out.getvalue() + err.getvalue()
    assert code == case.code, output
    assert case.expect in output, output
    assert "Traceback" not in output
    for secret in (SECRET, emulated_env.user_token):
        assert secret not in output
    if err.getvalue():
        # An error that stops the command is one line.
        assert len(err.getvalue().strip().splitlines()) == 1, err.getvalue()


def test_doctor_json_stays_one_json_object_when_checks_fail(emulated_env, monkeypatch):
    monkeypatch.setenv("ARGO_TOKEN", f"Bearer {SECRET}")
    out = io.StringIO()
    code = main(["doctor", "--json"], stdout=out, stderr=io.StringIO())
    report = json.loads(out.getvalue())
    assert code == 3 and report["ok"] is False
    assert SECRET not in out.getvalue()


def test_the_installed_command_prints_no_traceback(emulated_env, monkeypatch):
    monkeypatch.setenv("ARGO_TOKEN", f"Bearer {SECRET}")
    monkeypatch.setenv("HERA_UTILS_TIMEOUT", "oops")
    done = subprocess.run([sys.executable, "-m", "hera_utils.cli", "doctor"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("hera-utils: error: setting request_timeout: 'oops'")
    assert "Traceback" not in done.stderr + done.stdout
    assert SECRET not in done.stderr + done.stdout
