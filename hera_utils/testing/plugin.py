"""pytest plugin of hera_utils: fixtures serving the emulators (see hera_utils.testing).

pytest loads this module in every run of every project where hera_utils is installed,
so it imports nothing but pytest at import time; the emulators load inside fixtures.

Fixtures: `hera_utils_ca` (session), `hera_utils_tokens`, `k8s_emulator`,
`argo_emulator`, `emulated_cluster` and `emulated_env` (function scope, stopped after).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from hera_utils.testing import (
        ArgoServerEmulator,
        EmulatedCluster,
        KubernetesEmulator,
        TestCertificateAuthority,
        TokenRegistry,
    )

# Settings a developer's shell may carry that would leak into (or escape from) a test.
_CLEARED_PREFIXES = ("KUBE", "ARGO", "HERA_")
_CLEARED_NAMES = ("SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE")


@pytest.fixture(scope="session")
def hera_utils_ca() -> Iterator[TestCertificateAuthority]:
    """A private CA whose certificate every emulator of the session presents."""
    from hera_utils.testing import TestCertificateAuthority

    with TestCertificateAuthority() as ca:
        yield ca


@pytest.fixture
def hera_utils_tokens() -> TokenRegistry:
    """The token registry the `k8s_emulator` and `argo_emulator` fixtures share."""
    from hera_utils.testing import TokenRegistry

    return TokenRegistry()


@pytest.fixture
def k8s_emulator(
    hera_utils_ca: TestCertificateAuthority, hera_utils_tokens: TokenRegistry
) -> Iterator[KubernetesEmulator]:
    """A started, empty Kubernetes API emulator over HTTPS."""
    from hera_utils.testing import KubernetesEmulator

    with KubernetesEmulator(tokens=hera_utils_tokens, tls=hera_utils_ca) as emulator:
        yield emulator


@pytest.fixture
def argo_emulator(
    hera_utils_ca: TestCertificateAuthority, hera_utils_tokens: TokenRegistry
) -> Iterator[ArgoServerEmulator]:
    """A started, empty Argo Server emulator over HTTPS."""
    from hera_utils.testing import ArgoServerEmulator

    with ArgoServerEmulator(tokens=hera_utils_tokens, tls=hera_utils_ca) as emulator:
        yield emulator


@pytest.fixture
def emulated_cluster(
    tmp_path: Path, hera_utils_ca: TestCertificateAuthority
) -> Iterator[EmulatedCluster]:
    """A started `EmulatedCluster` (namespace, user token, volume claim, kubeconfig...)."""
    from hera_utils.testing import EmulatedCluster

    with EmulatedCluster(tmp_path / "emulated-cluster", ca=hera_utils_ca) as cluster:
        yield cluster


@pytest.fixture
def emulated_env(
    emulated_cluster: EmulatedCluster, monkeypatch: pytest.MonkeyPatch
) -> EmulatedCluster:
    """`emulated_cluster`, with os.environ holding exactly its settings; returns it."""
    for name in list(os.environ):
        if name.startswith(_CLEARED_PREFIXES) or name in _CLEARED_NAMES:
            monkeypatch.delenv(name, raising=False)
    for name, value in emulated_cluster.env().items():
        monkeypatch.setenv(name, value)
    return emulated_cluster
