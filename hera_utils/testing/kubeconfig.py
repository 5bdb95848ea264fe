"""Writing real kubeconfig files (clusters, users, contexts, current-context)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def kubeconfig_document(
    *,
    server: str,
    token: str,
    ca_pem: bytes | None,
    namespace: str | None = None,
    context: str = "emulated",
    extra_contexts: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """A kubeconfig whose current context `context` reaches `server` with bearer `token`.

    `ca_pem`: the CA to trust (None: none written, so clients fall back on the system
    store). `extra_contexts` maps more context names to {"token", "namespace", "server",
    "ca" (bool, default True), "insecure" (bool)}; each gets its own cluster and user.
    """
    document: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {},
        "clusters": [],
        "users": [],
        "contexts": [],
        "current-context": context,
    }
    _add_context(document, context, server=server, token=token, ca_pem=ca_pem, namespace=namespace)
    for name, settings in (extra_contexts or {}).items():
        _add_context(
            document,
            name,
            server=settings.get("server", server),
            token=settings.get("token", token),
            ca_pem=ca_pem if settings.get("ca", True) else None,
            namespace=settings.get("namespace"),
            insecure=bool(settings.get("insecure", False)),
        )
    return document


def write_kubeconfig_file(path: str | Path, document: Mapping[str, Any]) -> str:
    """Write `document` as YAML to `path` (owner-only, like kubectl does); returns the path."""
    import yaml  # lazily: keep `import hera_utils.testing` light

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(dict(document), sort_keys=False))
    target.chmod(0o600)
    return str(target)


def _add_context(
    document: dict[str, Any],
    name: str,
    *,
    server: str,
    token: str,
    ca_pem: bytes | None,
    namespace: str | None,
    insecure: bool = False,
) -> None:
    cluster: dict[str, Any] = {"server": server}
    if ca_pem is not None and server.startswith("https://"):
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode("ascii")
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
    context: dict[str, Any] = {"cluster": f"{name}-cluster", "user": f"{name}-user"}
    if namespace:
        context["namespace"] = namespace
    document["clusters"].append({"name": f"{name}-cluster", "cluster": cluster})
    document["users"].append({"name": f"{name}-user", "user": {"token": token}})
    document["contexts"].append({"name": name, "context": context})
