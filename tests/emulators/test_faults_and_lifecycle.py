"""Faults the emulators can show, TLS, and the servers' own lifecycle (start, stop, threads)."""

from __future__ import annotations

import socket
import ssl
import threading
import time

import pytest
import requests
import urllib3
from kubernetes import client

from hera_utils.testing import (
    ArgoServerEmulator,
    Faults,
    KubernetesEmulator,
    TestCertificateAuthority,
    TokenRegistry,
)


def emulator_threads() -> list[threading.Thread]:
    """The live threads serving some emulator."""
    prefixes = ("KubernetesEmulator-", "ArgoServerEmulator-")
    return [t for t in threading.enumerate() if t.name.startswith(prefixes)]


def _version(cluster, timeout: float = 5.0) -> requests.Response:
    return requests.get(
        f"{cluster.argo.url}/api/v1/version", verify=cluster.ca.ca_bundle_path, timeout=timeout
    )


# -- each kind of fault -----------------------------------------------------------------------


def test_hang_makes_the_client_timeout_fire(cluster):
    cluster.argo.faults.set("hang")
    with pytest.raises(requests.exceptions.ReadTimeout):
        _version(cluster, timeout=0.3)


def test_hang_through_the_kubernetes_client_is_a_read_timeout(cluster, k8s_api):
    cluster.k8s.faults.set("hang")
    with pytest.raises(urllib3.exceptions.MaxRetryError) as caught:
        client.VersionApi(k8s_api).get_code(_request_timeout=0.3)
    assert isinstance(caught.value.reason, urllib3.exceptions.ReadTimeoutError)


def test_slow_answers_once_its_delay_has_passed(cluster):
    cluster.argo.faults.set("slow", delay=0.5)
    with pytest.raises(requests.exceptions.ReadTimeout):
        _version(cluster, timeout=0.2)
    assert _version(cluster, timeout=5).status_code == 200


def test_error500_answers_in_each_apis_own_error_shape(cluster, k8s_api):
    cluster.argo.faults.set("error500")
    answer = _version(cluster)
    assert answer.status_code == 500
    assert answer.json()["code"] == 13
    cluster.k8s.faults.set("error500")
    with pytest.raises(client.ApiException) as caught:
        client.VersionApi(k8s_api).get_code()
    assert caught.value.status == 500
    assert '"reason": "InternalError"' in caught.value.body


def test_drop_closes_the_connection_without_an_answer(cluster):
    cluster.argo.faults.set("drop")
    with pytest.raises(requests.exceptions.ConnectionError):
        _version(cluster)


def test_malformed_answers_200_with_a_body_that_is_not_json(cluster):
    cluster.argo.faults.set("malformed")
    answer = _version(cluster)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        answer.json()


def test_wrong_shape_answers_200_with_json_that_is_no_api_object(cluster):
    cluster.argo.faults.set("wrong-shape")
    answer = _version(cluster)
    assert answer.status_code == 200
    assert answer.json()["metadata"] == "not an object"


def _create(cluster, timeout: float = 5.0) -> requests.Response:
    workflow = {
        "metadata": {"generateName": "fault-"},
        "spec": {"entrypoint": "main", "templates": [
            {"name": "main", "container": {"image": "alpine:3", "command": ["true"]}}]},
    }
    return requests.post(
        f"{cluster.argo.url}/api/v1/workflows/experiments",
        json={"workflow": workflow},
        headers={"Authorization": f"Bearer {cluster.user_token}"},
        verify=cluster.ca.ca_bundle_path,
        timeout=timeout,
    )


def test_lost_reply_creates_the_workflow_but_sends_no_answer(cluster):
    cluster.argo.faults.set("lost-reply", methods="POST")
    with pytest.raises(requests.exceptions.ConnectionError):
        _create(cluster)
    assert len(cluster.argo.workflows) == 1


def test_truncated_creates_the_workflow_and_cuts_its_answer(cluster):
    cluster.argo.faults.set("truncated", methods="POST")
    with pytest.raises(requests.exceptions.RequestException):
        _create(cluster).json()
    assert len(cluster.argo.workflows) == 1


def test_bad_gateway_creates_the_workflow_and_answers_502(cluster):
    cluster.argo.faults.set("bad-gateway", methods="POST", times=1)
    answer = _create(cluster)
    assert answer.status_code == 502 and "nginx" in answer.text
    assert len(cluster.argo.workflows) == 1
    assert _create(cluster).status_code == 200  # healed after one


def test_methods_limit_a_fault(cluster):
    cluster.argo.faults.set("error500", methods=["post"])
    assert _version(cluster).status_code == 200
    assert _create(cluster).status_code == 500
    assert cluster.argo.workflows == {}


def test_a_workflow_can_be_deleted_while_it_is_followed(cluster):
    cluster.argo.delete_after_reads = 1
    name = _create(cluster).json()["metadata"]["name"]
    url = f"{cluster.argo.url}/api/v1/workflows/experiments/{name}"
    headers = {"Authorization": f"Bearer {cluster.user_token}"}
    first = requests.get(url, headers=headers, verify=cluster.ca.ca_bundle_path, timeout=5)
    second = requests.get(url, headers=headers, verify=cluster.ca.ca_bundle_path, timeout=5)
    assert first.status_code == 200
    assert second.status_code == 404 and "not found" in second.json()["message"]
    assert cluster.argo.workflows == {}


def test_not_found_answers_as_for_a_missing_endpoint(cluster, k8s_api):
    path = "/api/v1/namespaces/experiments/serviceaccounts/argo-workflow/token"
    cluster.k8s.faults.set("not-found", paths=path)
    body = client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[]))
    with pytest.raises(client.ApiException) as caught:
        client.CoreV1Api(k8s_api).create_namespaced_service_account_token(
            "argo-workflow", "experiments", body
        )
    assert caught.value.status == 404
    assert client.VersionApi(k8s_api).get_code()  # other paths unaffected


def test_paths_limit_a_fault_to_matching_requests(cluster):
    cluster.argo.faults.set("error500", paths=["/api/v1/workflows"])
    assert _version(cluster).status_code == 200
    listed = requests.get(
        f"{cluster.argo.url}/api/v1/workflows/experiments",
        headers={"Authorization": f"Bearer {cluster.user_token}"},
        verify=cluster.ca.ca_bundle_path,
        timeout=5,
    )
    assert listed.status_code == 500


def test_times_heals_the_fault_after_so_many_requests(cluster):
    cluster.argo.faults.set("error500", times=2)
    assert [_version(cluster).status_code for _ in range(3)] == [500, 500, 200]
    assert cluster.argo.faults.active is None


def test_clear_and_none_heal(cluster):
    cluster.argo.faults.set("error500")
    cluster.argo.faults.clear()
    assert _version(cluster).status_code == 200
    cluster.argo.faults.set("drop")
    cluster.argo.faults.set(None)
    assert _version(cluster).status_code == 200


def test_faulty_requests_are_logged_too(cluster):
    cluster.argo.faults.set("drop")
    with pytest.raises(requests.exceptions.ConnectionError):
        _version(cluster)
    assert cluster.argo.requests[-1] == ("GET", "/api/v1/version", None)


@pytest.mark.parametrize(
    ("kind", "options"),
    [("teleport", {}), ("slow", {}), ("hang", {"delay": -1}), ("drop", {"times": 0})],
)
def test_invalid_faults_are_refused(kind, options):
    with pytest.raises(ValueError):
        Faults().set(kind, **options)


# -- stopping ---------------------------------------------------------------------------------


def test_stop_returns_promptly_while_a_request_hangs(hera_utils_ca):
    emulator = ArgoServerEmulator(tls=hera_utils_ca).start()
    emulator.faults.set("hang")
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            requests.get(
                f"{emulator.url}/api/v1/version", verify=hera_utils_ca.ca_bundle_path, timeout=10
            )
        except requests.RequestException as exc:
            outcome.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    deadline = time.monotonic() + 5
    while not len(emulator.requests) and time.monotonic() < deadline:
        time.sleep(0.01)  # until the request has reached the server and hangs there
    assert len(emulator.requests) == 1
    started = time.monotonic()
    emulator.stop()
    assert time.monotonic() - started < 1.5
    caller.join(5)
    assert not caller.is_alive()
    assert outcome and isinstance(outcome[0], requests.exceptions.ConnectionError)
    assert emulator_threads() == []


def test_stop_closes_idle_keep_alive_connections_and_frees_the_port(hera_utils_ca):
    with requests.Session() as session:
        emulator = KubernetesEmulator(tls=hera_utils_ca).start()
        port = emulator.port
        for _ in range(3):  # one connection, kept alive between requests
            session.get(emulator.url + "/version", verify=hera_utils_ca.ca_bundle_path, timeout=5)
        started = time.monotonic()
        emulator.stop()
        assert time.monotonic() - started < 1.5
    assert emulator_threads() == []
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    assert not emulator.running


def test_a_client_that_never_handshakes_does_not_block_others_or_stop(hera_utils_ca):
    with KubernetesEmulator(tls=hera_utils_ca) as emulator:
        silent = socket.create_connection(("127.0.0.1", emulator.port), timeout=5)
        answer = requests.get(
            emulator.url + "/version", verify=hera_utils_ca.ca_bundle_path, timeout=5
        )
        assert answer.status_code == 401  # answered while the other one sits idle
        started = time.monotonic()
    assert time.monotonic() - started < 1.5
    assert emulator_threads() == []  # the thread stuck in the handshake was woken up
    silent.close()


def test_emulators_can_be_restarted_on_a_new_port(hera_utils_ca):
    emulator = KubernetesEmulator(tls=hera_utils_ca)
    with emulator:
        assert emulator.running
    with emulator:
        assert (
            requests.get(
                emulator.url + "/version", verify=hera_utils_ca.ca_bundle_path, timeout=5
            ).status_code
            == 401
        )
    with pytest.raises(RuntimeError):
        _ = emulator.port


# -- TLS ----------------------------------------------------------------------------------------


def test_a_client_trusting_another_ca_fails_verification(cluster):
    other = TestCertificateAuthority.other()
    with pytest.raises(requests.exceptions.SSLError, match="CERTIFICATE_VERIFY_FAILED"):
        requests.get(f"{cluster.argo.url}/api/v1/version", verify=other.ca_bundle_path, timeout=5)
    other.cleanup()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_the_certificate_names_the_loopback_host(cluster, host):
    url = f"https://{host}:{cluster.argo.port}/api/v1/version"
    assert requests.get(url, verify=cluster.ca.ca_bundle_path, timeout=5).status_code == 200


def test_plain_http_to_the_tls_port_gets_no_answer(cluster):
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://{cluster.argo.host_port}/api/v1/version", timeout=5)


def test_the_ca_gives_server_and_client_contexts(hera_utils_ca):
    assert isinstance(hera_utils_ca.server_context(), ssl.SSLContext)
    with KubernetesEmulator(tls=hera_utils_ca) as emulator:
        raw = socket.create_connection(("127.0.0.1", emulator.port), timeout=5)
        with hera_utils_ca.client_context().wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() is not None


# -- tokens -------------------------------------------------------------------------------------


def test_the_registry_knows_users_namespaces_and_expiry():
    tokens = TokenRegistry()
    tokens.add("a", user="alice", namespaces={"experiments"})
    tokens.add("b", user="bob", namespaces={"*"}, expires_at=time.time() + 60)
    tokens.add("old", user="carol", expires_at=time.time() - 1)
    alice = tokens.lookup("a")
    assert (alice.user, alice.allows("experiments"), alice.allows("other")) == (
        "alice",
        True,
        False,
    )
    assert tokens.lookup("b").allows("anything")
    assert tokens.lookup("old") is None
    assert tokens.lookup("unknown") is None
    assert tokens.lookup(None) is None
    tokens.revoke("a")
    assert tokens.lookup("a") is None
    assert tokens.tokens_of("bob") == ["b"]
