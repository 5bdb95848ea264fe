"""Find and read kubeconfig files: which files, which context, which namespace.

The official client does the real loading (credentials, exec plugins, certificates); we
read the files first only to give precise errors (missing file, broken YAML, unknown
context) and to learn the context's namespace, which the Argo CLI falls back to.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigurationError, HeraUtilsWarning

DEFAULT_KUBECONFIG = "~/.kube/config"


@dataclass(frozen=True)
class KubeconfigSelection:
    """The kubeconfig files in use, the chosen context and its namespace (if any)."""

    paths: tuple[Path, ...]
    context: str
    namespace: str | None
    server: str
    # The command of the context's exec credential plugin, if it has one.
    exec_command: str | None = None

    @property
    def config_file(self) -> str:
        """The files joined as KUBECONFIG lists them (what the official client accepts)."""
        return os.pathsep.join(str(p) for p in self.paths)


def kubeconfig_paths(setting: str | None) -> tuple[Path, ...]:
    """The kubeconfig files named by `k8s_config_file`/`KUBECONFIG`, or the default one."""
    if not setting:
        default = Path(DEFAULT_KUBECONFIG).expanduser()
        if not default.is_file():
            raise ConfigurationError(
                "no kubeconfig: KUBECONFIG is not set and ~/.kube/config does not exist",
                hint="export KUBECONFIG=/absolute/path/to/your-cluster.yaml (download it from "
                "your cluster's UI, e.g. Rancher)",
                setting="k8s_config_file",
            )
        return (default,)
    named = tuple(Path(p).expanduser() for p in setting.split(os.pathsep) if p.strip())
    if not named:
        raise ConfigurationError(
            f"KUBECONFIG {setting!r} names no file",
            hint="set it to a file path",
            setting="k8s_config_file",
        )
    paths = tuple(path for path in named if path.is_file())
    missing = [str(path) for path in named if not path.is_file()]
    if not paths:
        raise ConfigurationError(
            f"kubeconfig file {', '.join(missing)} does not exist",
            hint="fix KUBECONFIG (or k8s_config_file); use an absolute path",
            setting="k8s_config_file",
        )
    if missing:
        # kubectl skips the files of a list that do not exist; so do we, but say so.
        warnings.warn(
            f"KUBECONFIG names {', '.join(missing)}, which does not exist: skipped, as kubectl "
            "does",
            HeraUtilsWarning,
            stacklevel=3,
        )
    return paths


def select_context(paths: tuple[Path, ...], context: str | None) -> KubeconfigSelection:
    """Merge the files as kubectl does (the first to define a name wins) and pick a context."""
    contexts: dict[str, dict[str, Any]] = {}
    clusters: dict[str, dict[str, Any]] = {}
    users: dict[str, dict[str, Any]] = {}
    # Where each cluster and user was defined: their file paths are relative to that file.
    defined_in: dict[tuple[str, str], Path] = {}
    current: str | None = None
    for path in paths:
        document = _load(path)
        _register_credentials(document)
        current = current or document.get("current-context") or None
        for kind, merged in (("context", contexts), ("cluster", clusters), ("user", users)):
            for entry in document.get(f"{kind}s") or []:
                if isinstance(entry, dict) and entry.get("name"):
                    name = str(entry["name"])
                    if name not in merged:
                        merged[name] = entry.get(kind) or {}
                        defined_in[(kind, name)] = path
    chosen = context or current
    where = ", ".join(str(p) for p in paths)
    if not chosen:
        raise ConfigurationError(
            f"kubeconfig ({where}) has no current-context and no context was chosen",
            hint=f"set HERA_UTILS_K8S_CONTEXT (or k8s_context) to one of: {_names(contexts)}",
            setting="k8s_context",
        )
    if chosen not in contexts:
        raise ConfigurationError(
            f"context {chosen!r} is not in the kubeconfig ({where})",
            hint=f"choose one of: {_names(contexts)} (HERA_UTILS_K8S_CONTEXT or k8s_context)",
            setting="k8s_context",
        )
    entry = contexts[chosen]
    cluster = clusters.get(str(entry.get("cluster", "")), {})
    if not cluster.get("server"):
        raise ConfigurationError(
            f"context {chosen!r} refers to cluster {entry.get('cluster')!r}, which has no server "
            f"in the kubeconfig ({where})",
            hint="download a complete kubeconfig from your cluster",
            setting="k8s_config_file",
        )
    cluster_name, user_name = str(entry.get("cluster", "")), str(entry.get("user", ""))
    _check_files(cluster, _CLUSTER_FILES, defined_in.get(("cluster", cluster_name)))
    user = users.get(user_name) or {}
    _check_files(user, _USER_FILES, defined_in.get(("user", user_name)))
    plugin: dict[str, Any] = user["exec"] if isinstance(user.get("exec"), dict) else {}
    return KubeconfigSelection(
        paths=paths,
        context=chosen,
        namespace=entry.get("namespace") or None,
        server=str(cluster["server"]),
        exec_command=str(plugin["command"]) if plugin.get("command") else None,
    )


# Files a kubeconfig may point at. A credential or certificate is a few kilobytes: a larger
# file, or something that is not a regular file (/dev/zero, a FIFO), is refused unread.
_USER_FILES = ("tokenFile", "client-certificate", "client-key")
_CLUSTER_FILES = ("certificate-authority",)
MAX_CREDENTIAL_FILE_BYTES = 1 << 20
MAX_KUBECONFIG_BYTES = 16 << 20


def _check_files(entry: dict[str, Any], fields: tuple[str, ...], defined_in: Path | None) -> None:
    for field in fields:
        value = entry.get(field)
        if not isinstance(value, str) or not value:
            continue
        path = Path(value).expanduser()
        if not path.is_absolute() and defined_in is not None:
            path = defined_in.parent / path
        problem = _file_problem(path, MAX_CREDENTIAL_FILE_BYTES)
        if problem:
            raise ConfigurationError(
                f"kubeconfig {field} {str(path)!r} {problem}",
                hint=f"point {field} at the right file, or download a fresh kubeconfig",
                setting="k8s_config_file",
            )


def _file_problem(path: Path, limit: int) -> str | None:
    """Why `path` cannot be read as a small regular file, or None."""
    import stat

    try:
        status = path.stat()
    except OSError as error:
        return f"cannot be read ({error.strerror or error.__class__.__name__})"
    if not stat.S_ISREG(status.st_mode):
        return "is not a regular file"
    if status.st_size > limit:
        return f"is larger than {limit >> 20} MiB"
    return None


def _load(path: Path) -> dict[str, Any]:
    import yaml  # loaded only when a cluster is used

    problem = _file_problem(path, MAX_KUBECONFIG_BYTES)
    if problem:
        raise ConfigurationError(
            f"kubeconfig {path} {problem}",
            hint="KUBECONFIG must name kubeconfig files",
            setting="k8s_config_file",
        )
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigurationError(
            f"kubeconfig {path} is not valid YAML{where}",
            hint="download it again from your cluster; do not edit it by hand",
            setting="k8s_config_file",
        ) from error
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(
            f"kubeconfig {path} cannot be read: {error.__class__.__name__}",
            hint="check the file's permissions",
            setting="k8s_config_file",
        ) from error
    if document is None:
        document = {}
    # A file of a list may hold only a current-context (what `kubectl config use-context`
    # writes into the first file), or only some of the pieces.
    if not isinstance(document, dict) or (
        document and not {"contexts", "clusters", "users", "current-context"} & set(document)
    ):
        raise ConfigurationError(
            f"kubeconfig {path} is not a kubeconfig (no clusters, contexts, users or "
            "current-context)",
            hint="KUBECONFIG must name a kubeconfig file, not another YAML file",
            setting="k8s_config_file",
        )
    return document


# Fields of a kubeconfig user that hold a credential (auth-provider configs hold tokens too).
_CREDENTIAL_FIELDS = ("token", "password", "client-key-data")
_PROVIDER_FIELDS = ("id-token", "refresh-token", "access-token", "client-secret")


def _register_credentials(document: dict[str, Any]) -> None:
    """Make every credential of the kubeconfig's users unprintable (see `redaction`)."""
    from .redaction import register_secret

    for entry in document.get("users") or []:
        user = entry.get("user") if isinstance(entry, dict) else None
        if not isinstance(user, dict):
            continue
        for field in _CREDENTIAL_FIELDS:
            if isinstance(user.get(field), str):
                register_secret(user[field])
        provider = user.get("auth-provider")
        config = provider.get("config") if isinstance(provider, dict) else None
        if isinstance(config, dict):
            for field in _PROVIDER_FIELDS:
                if isinstance(config.get(field), str):
                    register_secret(config[field])


def _names(contexts: dict[str, Any]) -> str:
    return ", ".join(sorted(contexts)) or "(none defined)"
