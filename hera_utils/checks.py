"""The access checks behind `hera-utils doctor` and an experiment's `main.py check`.

Each check yields a `CheckResult` (ok True / False, or None when it does not apply) with
a detail and, on failure, a hint naming the setting to change. Checks that do not depend
on each other run concurrently; each network call is bounded by `request_timeout`, and a
check whose prerequisite failed is not attempted, so the whole run stays within about one
timeout even when a server hangs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import (
    EXIT_ACCESS,
    EXIT_CONFIGURATION,
    EXIT_OK,
    ConfigurationError,
    ForbiddenError,
    HeraUtilsError,
)

if TYPE_CHECKING:
    from .argo import ArgoServer
    from .cluster import KubernetesCluster
    from .settings import Settings

CHECK_NAMES = (
    "config",
    "kubeconfig",
    "cluster",
    "namespace",
    "permissions",
    "volume_claim",
    "results_access",
    "configmap",
    "service_account",
    "argo_server",
    "argo_auth",
    "argo_namespace",
)


@dataclass
class CheckResult:
    """The outcome of one check: ok is True, False, or None when it does not apply."""

    name: str
    ok: bool | None
    detail: str
    hint: str = ""
    configuration_error: bool = field(default=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The contract's JSON form: name, ok, detail, hint."""
        return {"name": self.name, "ok": self.ok, "detail": self.detail, "hint": self.hint}


@dataclass
class Report:
    """All checks, in the contract's order, and what they connected to.

    `cluster` and `argo` are the checked `KubernetesCluster` and `ArgoServer` (None when
    not configured or not usable), so that a command goes on with them instead of
    connecting again.
    """

    checks: list[CheckResult]
    cluster: KubernetesCluster | None = field(default=None, repr=False, compare=False)
    argo: ArgoServer | None = field(default=None, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        """True when no check failed (checks that do not apply do not count)."""
        return all(check.ok is not False for check in self.checks)

    @property
    def exit_code(self) -> int:
        """0 when all is well, 2 for a configuration error, 3 for a failed access check."""
        failed = [check for check in self.checks if check.ok is False]
        if not failed:
            return EXIT_OK
        if any(check.configuration_error for check in failed):
            return EXIT_CONFIGURATION
        return EXIT_ACCESS

    def check(self, name: str) -> CheckResult:
        """The result of the check called `name`."""
        return next(check for check in self.checks if check.name == name)

    def to_dict(self) -> dict[str, Any]:
        """`{"ok": bool, "checks": [...]}` as `doctor --json` prints it."""
        return {"ok": self.ok, "checks": [check.to_dict() for check in self.checks]}

    def render(self, color: bool = False) -> str:
        """A table for people: one line per check, the hint under each failure."""
        marks = {True: ("✓", "32"), False: ("✗", "31"), None: ("-", "2")}
        width = max(len(name) for name in CHECK_NAMES)
        lines = []
        for check in self.checks:
            mark, code = marks[check.ok]
            shown = f"\033[{code}m{mark}\033[0m" if color else mark
            lines.append(f"{shown} {check.name:<{width}}  {check.detail}")
            if check.ok is False and check.hint:
                lines.append(f"  {'':<{width}}  → {check.hint}")
        passed = sum(c.ok is True for c in self.checks)
        failed = sum(c.ok is False for c in self.checks)
        skipped = sum(c.ok is None for c in self.checks)
        lines.append(f"{passed} passed, {failed} failed, {skipped} not applicable")
        return "\n".join(lines)


def run_checks(settings: Any = None, *, argv: Sequence[str] | None = None) -> Report:
    """Run every applicable check for `settings` (parsed from `argv` if None).

    The report keeps the cluster and Argo Server it checked (`Report.cluster`, `.argo`).
    """
    from .settings import Settings, parse_arguments

    results: dict[str, CheckResult] = {}
    if settings is None:
        try:
            settings = parse_arguments(argv)
        except ConfigurationError as error:
            results["config"] = _failed("config", error)
            return _report(results, "not checked: the settings could not be read")
    args = Settings.from_namespace(settings)
    config = _check_config(args)
    results["config"] = config
    if config.ok is False:
        return _report(results, "not checked: fix the configuration first")
    _import_before_threads(args)
    with ThreadPoolExecutor(max_workers=8) as pool:
        cluster_future = pool.submit(_kubernetes_checks, args, pool, results)
        argo = _argo_checks(args, cluster_future, results)
        cluster = cluster_future.result()
    return _report(results, "not checked", cluster=cluster, argo=argo)


def _report(
    results: dict[str, CheckResult],
    reason: str,
    *,
    cluster: KubernetesCluster | None = None,
    argo: ArgoServer | None = None,
) -> Report:
    checks = [results.get(name) or CheckResult(name, None, reason) for name in CHECK_NAMES]
    return Report(checks, cluster=cluster, argo=argo)


def _failed(name: str, error: HeraUtilsError) -> CheckResult:
    return CheckResult(
        name,
        False,
        error.message,
        error.hint,
        configuration_error=isinstance(error, ConfigurationError),
    )


def _attempt(name: str, action: Callable[[], str | CheckResult]) -> CheckResult:
    try:
        outcome = action()
    except HeraUtilsError as error:
        return _failed(name, error)
    return outcome if isinstance(outcome, CheckResult) else CheckResult(name, True, outcome)


# -- config ---------------------------------------------------------------------------------


def _check_config(args: Settings) -> CheckResult:
    from .argo_endpoint import resolve_argo_endpoint

    def check() -> str:
        parts = []
        origins = args.origins
        files = sorted(
            {
                o[len("config file (") : -1]
                for o in origins.values()
                if o.startswith("config file (")
            }
        )
        parts.append("config files: " + (", ".join(files) if files else "none used"))
        if args.argo_server:
            endpoint = resolve_argo_endpoint(
                args.argo_server, secure=args.argo_secure, base_href=args.argo_base_href or ""
            )
            parts.append(f"argo_server → {endpoint.url}")
        unknown = args.unknown_config_keys
        if unknown:
            parts.append("ignored unknown keys: " + ", ".join(sorted(unknown)))
        return "; ".join(parts)

    return _attempt("config", check)


# -- Kubernetes -------------------------------------------------------------------------------


def _cluster_needed(args: Settings) -> bool:
    from .k8s_workflows import submit_path
    from .tokens import token_needs_cluster

    return bool(
        args.k8s_volume_claim_name
        or args.k8s_configmap_name
        or token_needs_cluster(args)
        or submit_path(args) == "kubernetes"
    )


def _cluster_configured(args: Settings) -> bool:
    from .kubeconfig import DEFAULT_KUBECONFIG

    return bool(args.k8s_config_file) or os.path.isfile(os.path.expanduser(DEFAULT_KUBECONFIG))


def _import_before_threads(args: Settings) -> None:
    """Import, on this thread, every library the check threads use.

    Two threads importing one package at the same moment may see it half-initialised
    (an ImportError in a few runs in a hundred); imported here first, it is only looked up.
    """
    from . import argo, tokens  # noqa: F401  (requests, urllib3)

    if _cluster_configured(args) or _cluster_needed(args):
        from .cluster import import_client

        import_client()


def _kubernetes_checks(
    args: Settings, pool: ThreadPoolExecutor, results: dict[str, CheckResult]
) -> KubernetesCluster | None:
    """Run the Kubernetes checks; return the cluster when it can be used, else None."""
    from .cluster import KubernetesCluster

    if not _cluster_configured(args) and not _cluster_needed(args):
        results["kubeconfig"] = CheckResult(
            "kubeconfig", None, "not configured (KUBECONFIG unset); nothing here needs the cluster"
        )
        return None
    try:
        cluster = KubernetesCluster.from_settings(args)
    except HeraUtilsError as error:
        results["kubeconfig"] = _failed("kubeconfig", error)
        return None
    selection = cluster.selection
    results["kubeconfig"] = CheckResult(
        "kubeconfig",
        True,
        f"context {selection.context!r} of "
        f"{', '.join(str(p) for p in selection.paths)}, namespace {cluster.namespace!r}",
    )
    results["cluster"] = _attempt(
        "cluster",
        lambda: (
            f"Kubernetes {cluster.verify_credentials()} at {cluster.server} accepts the credentials"
        ),
    )
    if not results["cluster"].ok:
        return None
    checks: dict[str, Callable[[], str | CheckResult]] = {
        "namespace": lambda: _check_namespace(cluster),
        "permissions": lambda: _check_permissions(cluster),
        "volume_claim": lambda: _check_named(
            "volume_claim",
            args.k8s_volume_claim_name,
            "k8s_volume_claim_name",
            lambda name: f"volume claim {name!r} is {cluster.assert_volume_claim(name)}",
        ),
        "results_access": lambda: _check_named(
            "results_access",
            args.k8s_volume_claim_name,
            "k8s_volume_claim_name",
            lambda name: _check_results_access(cluster),
        ),
        "configmap": lambda: _check_named(
            "configmap",
            args.k8s_configmap_name,
            "k8s_configmap_name",
            lambda name: f"ConfigMap {name!r} exists ({len(cluster.assert_configmap(name))} keys)",
        ),
        "service_account": lambda: _check_named(
            "service_account",
            args.argo_service_account,
            "argo_service_account",
            lambda name: (cluster.assert_service_account(name), f"service account {name!r} exists")[
                1
            ],
        ),
    }
    futures = {name: pool.submit(_attempt, name, check) for name, check in checks.items()}
    for name, future in futures.items():
        results[name] = future.result()
    return cluster


def _check_named(
    name: str, value: str | None, setting: str, check: Callable[[str], str]
) -> str | CheckResult:
    if not value:
        return CheckResult(name, None, f"not configured ({setting})")
    return check(value)


def _check_namespace(cluster: Any) -> str:
    try:
        cluster.read_namespace()
        return f"namespace {cluster.namespace!r} exists"
    except ForbiddenError:
        # Many clusters let users work in a namespace without reading its object.
        allowed, _ = cluster.can_i("list", "pods")
        if allowed:
            return f"namespace {cluster.namespace!r} is usable (its object is not readable)"
        raise


def _check_permissions(cluster: Any) -> str:
    from .errors import ForbiddenError as Forbidden

    allowed, reason = cluster.can_i("create", "workflows", group="argoproj.io")
    if not allowed:
        raise Forbidden(
            f"not allowed to create workflows.argoproj.io in namespace {cluster.namespace!r}"
            + (f" ({reason})" if reason else ""),
            hint=f"ask your cluster admin for a Role granting create on workflows.argoproj.io in "
            f"{cluster.namespace!r}, or set ARGO_NAMESPACE to a namespace where you have it",
            setting="argo_namespace",
        )
    return f"may create workflows in namespace {cluster.namespace!r}"


# What `main.py results` does with pods; a missing right fails only that command, not submit.
RESULTS_RIGHTS = (
    ("create", "pods", ""),
    ("get", "pods", ""),
    ("delete", "pods", ""),
    ("create", "pods", "exec"),
)
SUBMIT_IGNORES = ("results_access",)


def _check_results_access(cluster: Any) -> str:
    missing = []
    for verb, resource, subresource in RESULTS_RIGHTS:
        allowed, _ = cluster.can_i(verb, resource, subresource=subresource)
        if not allowed:
            missing.append(
                f"{verb} {resource}/{subresource}" if subresource else f"{verb} {resource}"
            )
    ns = cluster.namespace
    if missing:
        raise ForbiddenError(
            f"not allowed to {', '.join(missing)} in namespace {ns!r}: main.py results "
            "(pull, ls) reads the volume claim through a short-lived pod",
            hint=f"ask your cluster admin for a Role granting create, get and delete on pods and "
            f"create on pods/exec in {ns!r}; submitting workflows does not need it",
            setting="argo_namespace",
        )
    return f"may create pods and pods/exec in namespace {ns!r} (main.py results)"


# -- Argo -------------------------------------------------------------------------------------


def _argo_checks(
    args: Settings, cluster_future: Future[Any], results: dict[str, CheckResult]
) -> ArgoServer | None:
    """Run the Argo checks; return the server when workflows can be submitted to it."""
    from .argo import ArgoServer
    from .k8s_workflows import submit_path
    from .tokens import TokenSource, token_needs_cluster, token_source

    if submit_path(args) == "kubernetes":
        reason = (
            "not used: workflows go through the Kubernetes API (argo_submit_via="
            f"{args.argo_submit_via or 'auto'}"
            + (", argo_server unset)" if not args.argo_server else ")")
        )
        for name in ("argo_server", "argo_auth", "argo_namespace"):
            results[name] = CheckResult(name, None, reason)
        return None

    # The server's version needs no token: ask it while the cluster checks run.
    try:
        server = ArgoServer.from_settings(_kubeconfig_view(args), args, tokens=TokenSource())
    except HeraUtilsError as error:
        results["argo_server"] = _failed("argo_server", error)
        return None

    def check_server() -> str:
        version = server.version().get("version", "unknown version")
        notes = "; ".join(server.endpoint.notes)
        return f"Argo Workflows {version} at {server.url}" + (f" ({notes})" if notes else "")

    results["argo_server"] = _attempt("argo_server", check_server)
    if not results["argo_server"].ok:
        return None
    cluster = None
    if token_needs_cluster(args):
        cluster = cluster_future.result()
        if cluster is None:
            results["argo_auth"] = CheckResult(
                "argo_auth",
                False,
                "no token: it must come from the cluster, which failed",
                "fix the Kubernetes checks above, or set ARGO_TOKEN",
            )
            return None
    try:
        # Whatever goes wrong while obtaining the token is the token source's failure.
        server.use_tokens(token_source(args, cluster))
        server.tokens()
    except HeraUtilsError as error:
        results["argo_auth"] = _failed("argo_auth", error)
        return None
    try:
        server.prove_access(args, cluster=cluster_future.result)
    except ForbiddenError as error:
        if error.setting != "argo_namespace":
            results["argo_auth"] = _failed("argo_auth", error)
            return None
        results["argo_auth"] = CheckResult(
            "argo_auth", True, f"{server.tokens.description} is accepted"
        )
        results["argo_namespace"] = _failed("argo_namespace", error)
        return None
    except HeraUtilsError as error:
        results["argo_auth"] = _failed("argo_auth", error)
        return None
    results["argo_auth"] = CheckResult(
        "argo_auth",
        True,
        f"{server.tokens.description} is accepted"
        if server.tokens.mode != "none"
        else "no token needed",
    )
    results["argo_namespace"] = CheckResult(
        "argo_namespace", True, f"workflows of namespace {server.namespace!r} can be listed"
    )
    return server


def _kubeconfig_view(args: Settings) -> Any:
    """The kubeconfig's view (namespace of the context) without touching the network."""
    from .cluster import KubernetesCluster

    if args.argo_namespace:
        return None
    try:
        return KubernetesCluster.from_settings(args)
    except HeraUtilsError:
        return None
