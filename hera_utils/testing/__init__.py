"""Emulators of the Kubernetes API and the Argo Server, and pytest fixtures, for tests.

Real HTTP(S) servers on 127.0.0.1 speaking the real JSON of both APIs, so that the
official `kubernetes` client, Hera's `WorkflowsService` and plain `requests` can be
tested end to end without a cluster:

    with EmulatedCluster(tmp_path) as cluster:
        os.environ.update(cluster.env())   # KUBECONFIG, ARGO_SERVER, ARGO_TOKEN...
        ...

The pytest plugin (`hera_utils.testing.plugin`) serves them as fixtures:
`hera_utils_ca`, `k8s_emulator`, `argo_emulator`, `emulated_cluster`, `emulated_env`.
Importing this package loads only the standard library; `trustme`, `jsonschema` and
`yaml` are imported when first needed.
"""

from hera_utils.testing.argo_server import ArgoServerEmulator
from hera_utils.testing.certificates import TestCertificateAuthority
from hera_utils.testing.cluster import EmulatedCluster
from hera_utils.testing.faults import Faults
from hera_utils.testing.kubernetes_api import KubernetesEmulator
from hera_utils.testing.tokens import Identity, TokenRegistry

__all__ = [
    "ArgoServerEmulator",
    "EmulatedCluster",
    "Faults",
    "Identity",
    "KubernetesEmulator",
    "TestCertificateAuthority",
    "TokenRegistry",
]
