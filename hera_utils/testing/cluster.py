"""A ready emulated world: Kubernetes API + Argo Server + CA + tokens + kubeconfig."""

from __future__ import annotations

import secrets
from pathlib import Path

from hera_utils.testing.argo_server import ArgoServerEmulator
from hera_utils.testing.certificates import TestCertificateAuthority
from hera_utils.testing.kubernetes_api import KubernetesEmulator
from hera_utils.testing.tokens import TokenRegistry

DEFAULT_PROXY_SETTINGS = {
    # `.invalid` never resolves: nothing can leak to a real proxy.
    "HTTP_PROXY": "http://proxy.emulated.invalid:3128",
    "HTTPS_PROXY": "http://proxy.emulated.invalid:3128",
    "NO_PROXY": "localhost,127.0.0.1,.svc,.cluster.local",
}
LOOPBACK_NO_PROXY = "127.0.0.1,localhost,::1"


class EmulatedCluster:
    """Both emulators, started and populated, sharing one CA and one token registry.

    The world: namespace `experiments`; user `alice` whose token (`user_token`) is
    allowed there; volume claim `data` (Bound); ConfigMap `proxy`; service account
    `argo-workflow`; a kubeconfig at `kubeconfig_path` whose current context is alice in
    `experiments`. The Argo emulator asks the Kubernetes one for permissions, so
    `k8s.allowed_verbs` governs both, as RBAC does for a real Argo Server in client mode.
    """

    def __init__(
        self,
        directory: str | Path,
        *,
        ca: TestCertificateAuthority | None = None,
        namespace: str = "experiments",
        user: str = "alice",
        service_account: str = "argo-workflow",
        volume_claim: str = "data",
        configmap: str = "proxy",
        base_href: str = "",
        start: bool = True,
    ) -> None:
        self.directory = Path(directory)
        self._owns_ca = ca is None
        self.ca = ca if ca is not None else TestCertificateAuthority()
        self.tokens = TokenRegistry()
        self.namespace = namespace
        self.user = user
        self.user_token = f"tok-{user}-{secrets.token_urlsafe(12)}"
        self.tokens.add(self.user_token, user=user, namespaces={namespace})
        self.service_account = service_account
        self.volume_claim = volume_claim
        self.configmap = configmap
        self.kubeconfig_path = str(self.directory / "kubeconfig")

        self.k8s = KubernetesEmulator(tokens=self.tokens, tls=self.ca)
        self.argo = ArgoServerEmulator(tokens=self.tokens, tls=self.ca, base_href=base_href)
        self.argo.authorizer = self.k8s.authorize
        # One store of workflows: what is submitted through either API is seen by both.
        self.k8s.workflow_controller = self.argo
        self.k8s.add_namespace(namespace)
        self.k8s.add_volume_claim(namespace, volume_claim, phase="Bound")
        self.k8s.add_configmap(namespace, configmap, data=DEFAULT_PROXY_SETTINGS)
        self.k8s.add_service_account(namespace, service_account)
        if start:
            self.start()

    def start(self) -> EmulatedCluster:
        """Start both emulators and (re)write the kubeconfig (it names the port)."""
        self.k8s.start()
        self.argo.start()
        self.k8s.write_kubeconfig(
            self.kubeconfig_path, token=self.user_token, namespace=self.namespace
        )
        return self

    def stop(self) -> None:
        """Stop both emulators (and drop the CA's files if this cluster made the CA)."""
        self.argo.stop()
        self.k8s.stop()
        if self._owns_ca:
            self.ca.cleanup()

    def env(self) -> dict[str, str]:
        """The environment a user of this cluster would have set (see the contract)."""
        env = {
            "KUBECONFIG": self.kubeconfig_path,
            "ARGO_SERVER": self.argo.host_port,
            "ARGO_SECURE": "true",
            "ARGO_TOKEN": f"Bearer {self.user_token}",
            "ARGO_NAMESPACE": self.namespace,
            "ARGO_SERVICE_ACCOUNT": self.service_account,
            "KUBEVOLUMECLAIMNAME": self.volume_claim,
            "KUBECONFIGMAPNAME": self.configmap,
            "REQUESTS_CA_BUNDLE": self.ca.ca_bundle_path,
            "HERA_UTILS_TIMEOUT": "5",
            # A proxy from the surrounding environment must not capture loopback calls.
            "NO_PROXY": LOOPBACK_NO_PROXY,
            "no_proxy": LOOPBACK_NO_PROXY,
        }
        if self.argo.base_href != "/":
            env["ARGO_BASE_HREF"] = self.argo.base_href
        return env

    def __enter__(self) -> EmulatedCluster:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
