"""hera_utils: settings, access checks, local runs and a template for Hera experiments.

The public names below are imported lazily, on first use, so that `import hera_utils`
(and `hera-utils --help`) stays cheap: Hera and the Kubernetes client load only when a
workflow or a cluster is actually used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    # settings
    "parser": "settings",
    "parse_arguments": "settings",
    "Settings": "settings",
    # Kubernetes and Argo
    "k8s_cluster": "cluster",
    "KubernetesCluster": "cluster",
    "argo_server": "argo",
    "ArgoServer": "argo",
    "run_checks": "checks",
    # experiment building blocks
    "Layout": "layout",
    "k8s_name": "layout",
    "ExperimentEnvironment": "environment",
    "run_locally": "local",
    "LocalRunResult": "local",
    "TaskResult": "local",
    # WorkflowTemplates and versions
    "create_or_update_workflow_template": "workflow_templates",
    "clear_workflow_template": "workflow_templates",
    "print_version": "versions",
    "check_version": "versions",
    "assert_version": "versions",
    # errors
    "HeraUtilsError": "errors",
    "ConfigurationError": "errors",
    "AccessError": "errors",
    "UnreachableError": "errors",
    "RequestTimeoutError": "errors",
    "TLSVerificationError": "errors",
    "UnauthorizedError": "errors",
    "ForbiddenError": "errors",
    "NotFoundError": "errors",
    "ServerError": "errors",
    "WorkflowFailedError": "errors",
}

__all__ = [*sorted(_EXPORTS), "__version__"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'hera_utils' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .argo import ArgoServer, argo_server
    from .checks import run_checks
    from .cluster import KubernetesCluster, k8s_cluster
    from .environment import ExperimentEnvironment
    from .errors import (
        AccessError,
        ConfigurationError,
        ForbiddenError,
        HeraUtilsError,
        NotFoundError,
        RequestTimeoutError,
        ServerError,
        TLSVerificationError,
        UnauthorizedError,
        UnreachableError,
        WorkflowFailedError,
    )
    from .layout import Layout, k8s_name
    from .local import LocalRunResult, TaskResult, run_locally
    from .settings import Settings, parse_arguments, parser
    from .versions import assert_version, check_version, print_version
    from .workflow_templates import clear_workflow_template, create_or_update_workflow_template
