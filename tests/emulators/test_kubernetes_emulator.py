"""The Kubernetes API emulator, seen through the official `kubernetes` client over HTTPS."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import requests
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from hera_utils.testing import KubernetesEmulator, TokenRegistry


def _status_of(error: ApiException) -> dict:
    return json.loads(error.body)


def _access_review(api, verb: str, namespace: str, resource: str = "workflows"):
    body = client.V1SelfSubjectAccessReview(
        spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(
                namespace=namespace, verb=verb, group="argoproj.io", resource=resource
            )
        )
    )
    return client.AuthorizationV1Api(api).create_self_subject_access_review(body)


def _token_request(api, name="argo-workflow", namespace="experiments", seconds=3600):
    body = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=seconds)
    )
    return client.CoreV1Api(api).create_namespaced_service_account_token(name, namespace, body)


# -- reading objects --------------------------------------------------------------------------


def test_version_is_served_as_version_info(k8s_api):
    version = client.VersionApi(k8s_api).get_code()
    assert version.git_version.startswith("v1.")
    assert version.major == "1"


def test_namespace_volume_claim_configmap_and_service_account_are_read(cluster, k8s_api):
    core = client.CoreV1Api(k8s_api)
    assert core.read_namespace("experiments").status.phase == "Active"
    claim = core.read_namespaced_persistent_volume_claim("data", "experiments")
    assert claim.status.phase == "Bound"
    assert claim.status.capacity == {"storage": "1Gi"}
    assert "HTTP_PROXY" in core.read_namespaced_config_map("proxy", "experiments").data
    account = core.read_namespaced_service_account("argo-workflow", "experiments")
    assert account.metadata.name == "argo-workflow"
    assert account.secrets is None  # no legacy token Secret unless asked for


def test_a_pending_volume_claim_reports_its_phase(cluster, k8s_api):
    cluster.k8s.add_volume_claim("experiments", "waiting", phase="Pending")
    claim = client.CoreV1Api(k8s_api).read_namespaced_persistent_volume_claim(
        "waiting", "experiments"
    )
    assert claim.status.phase == "Pending"
    assert claim.spec.volume_name is None


def test_a_missing_object_is_a_404_status_naming_it(k8s_api):
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(k8s_api).read_namespaced_persistent_volume_claim("nope", "experiments")
    assert caught.value.status == 404
    status = _status_of(caught.value)
    assert status["kind"] == "Status"
    assert status["reason"] == "NotFound"
    assert status["message"] == 'persistentvolumeclaims "nope" not found'
    assert status["details"] == {"name": "nope", "kind": "persistentvolumeclaims"}


def test_a_namespace_the_token_does_not_allow_is_forbidden(cluster, k8s_api):
    cluster.k8s.add_namespace("other")
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(k8s_api).read_namespace("other")
    assert caught.value.status == 403
    status = _status_of(caught.value)
    assert status["reason"] == "Forbidden"
    assert status["message"] == (
        'namespaces "other" is forbidden: User "alice" cannot get resource "namespaces" '
        'in API group "" in the namespace "other"'
    )


def test_a_missing_namespace_that_is_allowed_is_not_found(cluster, k8s_api):
    cluster.tokens.add("tok-admin", user="admin", namespaces={"*"})
    admin = requests.get(
        f"{cluster.k8s.url}/api/v1/namespaces/ghost",
        headers={"Authorization": "Bearer tok-admin"},
        verify=cluster.ca.ca_bundle_path,
        timeout=5,
    )
    assert admin.status_code == 404
    assert admin.json()["message"] == 'namespaces "ghost" not found'


def test_listing_namespaces_shows_only_the_allowed_ones(cluster, k8s_api):
    cluster.k8s.add_namespace("other")
    names = [ns.metadata.name for ns in client.CoreV1Api(k8s_api).list_namespace().items]
    assert names == ["experiments"]


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_a_missing_or_unknown_token_is_a_401_status(cluster, token):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = requests.get(
        f"{cluster.k8s.url}/api/v1/namespaces/experiments",
        headers=headers,
        verify=cluster.ca.ca_bundle_path,
        timeout=5,
    )
    assert answer.status_code == 401
    assert answer.json()["reason"] == "Unauthorized"
    assert answer.json()["code"] == 401


def test_a_revoked_token_is_rejected(cluster, k8s_api):
    cluster.tokens.revoke(cluster.user_token)
    with pytest.raises(ApiException) as caught:
        client.VersionApi(k8s_api).get_code()
    assert caught.value.status == 401


def test_unknown_paths_and_methods_answer_in_status_form(cluster):
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {cluster.user_token}"
    session.verify = cluster.ca.ca_bundle_path
    with session:
        missing = session.get(f"{cluster.k8s.url}/apis/batch/v1/jobs", timeout=5)
        wrong_method = session.delete(f"{cluster.k8s.url}/api/v1/namespaces/experiments", timeout=5)
    assert (missing.status_code, missing.json()["reason"]) == (404, "NotFound")
    assert (wrong_method.status_code, wrong_method.json()["reason"]) == (405, "MethodNotAllowed")


def test_requests_are_logged_with_their_user(cluster, k8s_api):
    client.CoreV1Api(k8s_api).read_namespace("experiments")
    assert ("GET", "/api/v1/namespaces/experiments", "alice") in cluster.k8s.requests


# -- secrets and legacy service-account tokens --------------------------------------------------


def test_a_legacy_token_secret_is_listed_by_type_and_its_token_works(cluster, k8s_api):
    cluster.k8s.add_service_account("experiments", "legacy", token_secret=True)
    cluster.k8s.add_secret("experiments", "unrelated", data={"password": "x"})
    core = client.CoreV1Api(k8s_api)

    account = core.read_namespaced_service_account("legacy", "experiments")
    secret_name = account.secrets[0].name
    listed = core.list_namespaced_secret(
        "experiments", field_selector="type=kubernetes.io/service-account-token"
    ).items
    assert [secret.metadata.name for secret in listed] == [secret_name]
    assert len(core.list_namespaced_secret("experiments").items) == 2

    secret = core.read_namespaced_secret(secret_name, "experiments")
    assert secret.type == "kubernetes.io/service-account-token"
    assert secret.metadata.annotations["kubernetes.io/service-account.name"] == "legacy"
    token = base64.b64decode(secret.data["token"]).decode()
    identity = cluster.tokens.lookup(token)
    assert identity is not None
    assert identity.user == "system:serviceaccount:experiments:legacy"
    assert identity.allows("experiments") and not identity.allows("other")
    assert identity.expires_at is None


def test_an_unsupported_field_selector_is_a_bad_request(k8s_api):
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(k8s_api).list_namespaced_secret("experiments", field_selector="spec.x=1")
    assert caught.value.status == 400
    assert "field label not supported: spec.x" in _status_of(caught.value)["message"]


def test_label_selectors_filter_lists(cluster, k8s_api):
    labelled = cluster.k8s.add_configmap("experiments", "labelled", data={})
    labelled["metadata"]["labels"] = {"team": "a"}
    names = [
        item.metadata.name
        for item in client.CoreV1Api(k8s_api)
        .list_namespaced_config_map("experiments", label_selector="team=a")
        .items
    ]
    assert names == ["labelled"]


# -- TokenRequest -----------------------------------------------------------------------------


def test_token_request_issues_a_registered_token_with_its_expiry(cluster, k8s_api):
    answer = _token_request(k8s_api)
    token = answer.status.token
    assert cluster.k8s.issued_tokens == [token]
    identity = cluster.tokens.lookup(token)
    assert identity.user == "system:serviceaccount:experiments:argo-workflow"
    assert identity.allows("experiments")
    assert abs(answer.status.expiration_timestamp.timestamp() - identity.expires_at) < 1.5
    assert answer.spec.audiences  # the API server fills in its own audience
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["sub"] == identity.user
    assert claims["exp"] == int(identity.expires_at)


def test_token_request_lifetime_is_capped_by_token_ttl_seconds(cluster, k8s_api, clock):
    cluster.k8s.token_ttl_seconds = 2
    answer = _token_request(k8s_api, seconds=3600)
    assert answer.spec.expiration_seconds == 2
    clock.advance(1.9)
    assert cluster.tokens.lookup(answer.status.token) is not None
    clock.advance(0.2)
    assert cluster.tokens.lookup(answer.status.token) is None


def test_token_request_refuses_lifetimes_under_ten_minutes(k8s_api):
    with pytest.raises(ApiException) as caught:
        _token_request(k8s_api, seconds=60)
    assert caught.value.status == 422
    assert "less than 10 minutes" in _status_of(caught.value)["message"]


def test_token_request_for_a_missing_account_is_not_found(k8s_api):
    with pytest.raises(ApiException) as caught:
        _token_request(k8s_api, name="ghost")
    assert caught.value.status == 404
    assert _status_of(caught.value)["message"] == 'serviceaccounts "ghost" not found'


def test_token_request_needs_create_permission(cluster, k8s_api):
    cluster.k8s.allowed_verbs = {("alice", "experiments"): {"get", "list"}}
    with pytest.raises(ApiException) as caught:
        _token_request(k8s_api)
    assert caught.value.status == 403
    assert 'cannot create resource "serviceaccounts/token"' in _status_of(caught.value)["message"]


# -- SelfSubjectAccessReview and allowed_verbs ------------------------------------------------


def test_access_review_allows_everything_in_the_tokens_namespaces_by_default(k8s_api):
    assert _access_review(k8s_api, "create", "experiments").status.allowed is True
    assert _access_review(k8s_api, "create", "elsewhere").status.allowed is False


def test_access_review_follows_allowed_verbs_per_user_and_namespace(cluster, k8s_api):
    cluster.k8s.allowed_verbs = {
        ("alice", "experiments"): {"get", "list", "create:workflows"},
        ("alice", "shared"): {"*"},
    }
    assert _access_review(k8s_api, "list", "experiments").status.allowed is True
    assert _access_review(k8s_api, "create", "experiments").status.allowed is True
    assert _access_review(k8s_api, "create", "experiments", "pods").status.allowed is False
    assert _access_review(k8s_api, "delete", "experiments").status.allowed is False
    assert _access_review(k8s_api, "delete", "shared").status.allowed is True


def test_access_review_may_ask_a_callable(cluster, k8s_api):
    asked = []

    def rules(user, namespace, verb, resource, group):
        asked.append((user, namespace, verb, resource, group))
        return verb == "get"

    cluster.k8s.allowed_verbs = rules
    assert _access_review(k8s_api, "get", "experiments").status.allowed is True
    assert _access_review(k8s_api, "create", "experiments").status.allowed is False
    assert asked[0] == ("alice", "experiments", "get", "workflows", "argoproj.io")


def test_allowed_verbs_also_govern_reads(cluster, k8s_api):
    cluster.k8s.allowed_verbs = {("alice", "experiments"): {"list"}}
    with pytest.raises(ApiException) as caught:
        client.CoreV1Api(k8s_api).read_namespaced_config_map("proxy", "experiments")
    assert caught.value.status == 403


# -- kubeconfig ---------------------------------------------------------------------------------


def test_the_kubeconfig_is_a_real_one(cluster):
    document = yaml.safe_load(Path(cluster.kubeconfig_path).read_text())
    assert document["current-context"] == "emulated"
    (entry,) = document["clusters"]
    assert entry["cluster"]["server"] == cluster.k8s.url
    ca = base64.b64decode(entry["cluster"]["certificate-authority-data"])
    assert ca == Path(cluster.ca.ca_bundle_path).read_bytes()
    assert document["users"][0]["user"]["token"] == cluster.user_token
    assert document["contexts"][0]["context"]["namespace"] == "experiments"


def test_extra_contexts_get_their_own_user_and_namespace(cluster, kubernetes_client, tmp_path):
    cluster.tokens.add("tok-bob", user="bob", namespaces={"lab"})
    path = cluster.k8s.write_kubeconfig(
        tmp_path / "config",
        token=cluster.user_token,
        extra_contexts={"bob": {"token": "tok-bob", "namespace": "lab"}},
    )
    cluster.k8s.add_namespace("lab")
    bob = kubernetes_client(path, context="bob")
    assert client.CoreV1Api(bob).read_namespace("lab").metadata.name == "lab"
    alice = kubernetes_client(path)
    with pytest.raises(ApiException):
        client.CoreV1Api(alice).read_namespace("lab")


def test_a_kubeconfig_without_the_ca_fails_tls_verification(cluster, kubernetes_client, tmp_path):
    path = cluster.k8s.write_kubeconfig(tmp_path / "no-ca", token=cluster.user_token, ca=False)
    api = kubernetes_client(path)
    with pytest.raises(Exception) as caught:
        client.VersionApi(api).get_code(_request_timeout=5)
    assert "CERTIFICATE_VERIFY_FAILED" in repr(caught.value)


def test_plain_http_mode_serves_without_tls(tmp_path, kubernetes_client):
    tokens = TokenRegistry()
    tokens.add("tok", user="carol", namespaces={"*"})
    with KubernetesEmulator(tokens=tokens) as emulator:
        assert emulator.url.startswith("http://127.0.0.1:")
        path = emulator.write_kubeconfig(tmp_path / "config", token="tok")
        assert "certificate-authority-data" not in Path(path).read_text()
        version = client.VersionApi(kubernetes_client(path)).get_code()
    assert version.platform == "linux/amd64"
