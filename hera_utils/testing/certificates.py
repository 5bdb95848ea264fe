"""A throw-away certificate authority whose server certificate the emulators present."""

from __future__ import annotations

import shutil
import ssl
import tempfile
import weakref
from pathlib import Path

SERVER_IDENTITIES = ("127.0.0.1", "::1", "localhost")


class TestCertificateAuthority:
    """A private CA (via `trustme`) and one server certificate for loopback names.

    `ca_bundle_path` is a PEM file clients trust (`REQUESTS_CA_BUNDLE`, a kubeconfig's
    `certificate-authority-data`); `server_context()` is what the emulators serve with.
    """

    # Not a test class, despite its name: keep pytest from trying to collect it.
    __test__ = False

    def __init__(self) -> None:
        import trustme  # lazily: only the emulators need it, not `import hera_utils.testing`

        self._ca = trustme.CA(organization_name="hera-utils emulated cluster")
        self._server_cert = self._ca.issue_cert(*SERVER_IDENTITIES)
        self._directory = Path(tempfile.mkdtemp(prefix="hera-utils-ca-"))
        # The files go away with the object (or at exit) even if nobody calls cleanup().
        self._finalizer = weakref.finalize(self, shutil.rmtree, self._directory, True)
        self._bundle = self._directory / "ca.pem"
        self._bundle.write_bytes(self.ca_pem)

    @classmethod
    def other(cls) -> TestCertificateAuthority:
        """A second, unrelated CA: clients trusting it must reject our servers."""
        return cls()

    @property
    def ca_pem(self) -> bytes:
        """The CA certificate, PEM-encoded."""
        return self._ca.cert_pem.bytes()

    @property
    def ca_bundle_path(self) -> str:
        """Path of a PEM file holding the CA certificate."""
        return str(self._bundle)

    def server_context(self) -> ssl.SSLContext:
        """A server-side TLS context presenting the certificate for 127.0.0.1/::1/localhost."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._server_cert.configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client-side TLS context that trusts this CA only."""
        context = ssl.create_default_context(cafile=self.ca_bundle_path)
        return context

    def cleanup(self) -> None:
        """Delete the temporary directory holding the bundle."""
        self._finalizer()

    def __enter__(self) -> TestCertificateAuthority:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()
