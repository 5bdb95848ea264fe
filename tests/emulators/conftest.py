"""Shared helpers of the emulator tests: clients configured the way users configure them."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest

from hera_utils.testing import EmulatedCluster

EMULATOR_THREAD_PREFIXES = ("KubernetesEmulator-", "ArgoServerEmulator-")


def emulator_threads() -> list[threading.Thread]:
    """The live threads that belong to some emulator."""
    return [t for t in threading.enumerate() if t.name.startswith(EMULATOR_THREAD_PREFIXES)]


_LEAKY_PREFIXES = ("KUBE", "ARGO", "HERA_")
_LEAKY_NAMES = (
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
)


@pytest.fixture(autouse=True)
def hermetic_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CA bundle, proxy or cluster setting of the surrounding shell reaches a test."""
    for name in list(os.environ):
        if name.startswith(_LEAKY_PREFIXES) or name in _LEAKY_NAMES:
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def no_leaked_emulator_threads() -> Iterator[None]:
    """Every test must leave no emulator thread behind (stop() joins them)."""
    before = set(emulator_threads())
    yield
    leaked = [t for t in emulator_threads() if t not in before and t.is_alive()]
    assert not leaked, f"emulator threads still running after the test: {leaked}"


@pytest.fixture
def cluster(emulated_cluster: EmulatedCluster) -> Iterator[EmulatedCluster]:
    """The plugin's emulated cluster, checked afterwards for errors of the emulators."""
    yield emulated_cluster
    assert emulated_cluster.k8s.errors == []
    assert emulated_cluster.argo.errors == []


class FakeClock:
    """A clock for the token registry that only moves when told to."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(cluster: EmulatedCluster) -> FakeClock:
    """A fake clock driving the expiry of the cluster's tokens."""
    fake = FakeClock()
    cluster.tokens.clock = fake
    return fake


@pytest.fixture
def kubernetes_client():
    """A factory of official `kubernetes` ApiClients loaded from a kubeconfig, no retries."""
    from kubernetes import client, config

    made = []

    def make(kubeconfig: str, *, context: str | None = None) -> client.ApiClient:
        configuration = client.Configuration()
        config.load_kube_config(
            config_file=kubeconfig, context=context, client_configuration=configuration
        )
        configuration.retries = 0  # a fault must show at once, not after 3 retries
        api = client.ApiClient(configuration)
        made.append(api)
        return api

    yield make
    for api in made:
        api.close()


@pytest.fixture
def k8s_api(cluster: EmulatedCluster, kubernetes_client):
    """An ApiClient for the cluster's kubeconfig (alice in `experiments`)."""
    return kubernetes_client(cluster.kubeconfig_path)


@pytest.fixture
def argo_service(cluster: EmulatedCluster):
    """A factory of Hera WorkflowsServices for the cluster's Argo emulator (default: alice)."""
    from hera.workflows import WorkflowsService

    made = []

    def make(token: str | None = None, **kwargs) -> WorkflowsService:
        kwargs.setdefault("namespace", cluster.namespace)
        service = WorkflowsService(
            host=cluster.argo.url,
            token=token or cluster.user_token,
            # requests takes a CA bundle path where Hera's annotation says bool.
            verify_ssl=cluster.ca.ca_bundle_path,  # type: ignore[arg-type]
            **kwargs,
        )
        made.append(service)
        return service

    yield make
    for service in made:
        service.close()
