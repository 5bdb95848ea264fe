"""The environment of execution of an experiment: what its workflow needs of the cluster.

`ExperimentEnvironment` holds the cluster-side facts a workflow is built from (namespace,
service account, container registry, ConfigMap, persisted volume claim and its mount path),
checks them against a cluster (`assert_on`), prints as JSON, and makes the Hera objects that
use them (volumes, volume mounts, env-from-ConfigMap, image names). It is the original
hera_utils' `num_exp_environment` base class; an experiment's `environment.py` builds one.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import posixpath
from dataclasses import dataclass
from typing import Any, Protocol

from hera.workflows import models as m

from hera_utils.errors import ConfigurationError
from hera_utils.layout import Layout
from hera_utils.validation import dns1123_label, dns1123_subdomain

VOLUME_NAME = "experiment-data"  # the name of the volume inside the workflow spec


class ClusterChecks(Protocol):
    """What `assert_on` needs of a cluster (`hera_utils.cluster.KubernetesCluster` has it)."""

    def assert_volume_claim(self, name: str) -> Any: ...

    def assert_configmap(self, name: str) -> Any: ...


@dataclass(frozen=True)
class PersistedVolume:
    """A persistent volume claim and where the workflow's tasks mount it."""

    claim_name: str
    mount_path: str


@dataclass(frozen=True)
class ExperimentEnvironment:
    """The cluster-side facts a workflow needs; empty strings mean "not used".

    `python_image` is the image of the Python script tasks (a cluster may only pull from a
    mirror); `registry` prefixes the images of container tasks.
    """

    namespace: str = ""
    service_account: str = ""
    registry: str = ""
    configmap: str = ""
    volume_claim: str = ""
    mount_path: str = ""
    python_image: str = "python:3.11"

    def __post_init__(self) -> None:
        for field, check, value in (
            ("namespace", dns1123_label, self.namespace),
            ("service_account", dns1123_subdomain, self.service_account),
            ("volume_claim", dns1123_subdomain, self.volume_claim),
            ("configmap", dns1123_subdomain, self.configmap),
        ):
            # Kubernetes would refuse these names only at submission time, far from the cause.
            try:
                check(value)
            except argparse.ArgumentTypeError as error:
                raise ConfigurationError(f"{field}: {error}", setting=field) from error
        if self.volume_claim and not posixpath.isabs(self.mount_path):
            raise ConfigurationError(
                f"the volume claim {self.volume_claim!r} needs an absolute mount path, "
                f"not {self.mount_path!r}",
                setting="mount_path",
            )

    @property
    def persisted_volume(self) -> PersistedVolume | None:
        """The volume claim and its mount path, or None when the experiment uses none."""
        if not self.volume_claim:
            return None
        return PersistedVolume(self.volume_claim, self.mount_path)

    def for_local_run(self, volume_dir: str | os.PathLike[str]) -> ExperimentEnvironment:
        """The environment of a run on this machine.

        The tasks see the volume as the local directory `volume_dir` (absolute), and no
        ConfigMap is read: the cluster's (an HTTP proxy...) is out of reach and of no use here.
        """
        return dataclasses.replace(self, mount_path=os.path.abspath(volume_dir), configmap="")

    def assert_on(self, cluster: ClusterChecks) -> None:
        """Check that the volume claim and ConfigMap this environment names exist on `cluster`.

        Raises the cluster's `AccessError` (e.g. `NotFoundError` with a hint) on the first
        missing one.
        """
        if self.volume_claim:
            cluster.assert_volume_claim(self.volume_claim)
        if self.configmap:
            cluster.assert_configmap(self.configmap)

    def to_dict(self) -> dict[str, str]:
        """The environment as a plain dictionary."""
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        """The environment as indented JSON (it holds no secret)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def __str__(self) -> str:
        return self.to_json()

    def on_volume(self, relative: str) -> str:
        """Where a path relative to the volume (from a `Layout`) is seen by the tasks."""
        if not self.volume_claim:
            raise ConfigurationError(
                "this experiment has no volume claim to write to",
                hint="set k8s_volume_claim_name (KUBEVOLUMECLAIMNAME)",
                setting="k8s_volume_claim_name",
            )
        return Layout.on_volume(self.mount_path, relative)

    def image(self, name: str) -> str:
        """The full name of a container image of the experiment, in its registry."""
        if not self.registry:
            return name
        return f"{self.registry.rstrip('/')}/{name}"

    # The three helpers below return None rather than [] when unused: Hera would render an
    # empty list into the YAML, and a workflow should show only what it uses.

    def volumes(self) -> list[m.Volume] | None:
        """The workflow-level volumes (the persisted volume claim), or None."""
        if not self.volume_claim:
            return None
        claim = m.PersistentVolumeClaimVolumeSource(claim_name=self.volume_claim)
        return [m.Volume(name=VOLUME_NAME, persistent_volume_claim=claim)]

    def volume_mounts(self) -> list[m.VolumeMount] | None:
        """The mounts a task needs to see the volume claim at `mount_path`, or None."""
        if not self.volume_claim:
            return None
        return [m.VolumeMount(name=VOLUME_NAME, mount_path=self.mount_path)]

    def env_from(self) -> list[m.EnvFromSource] | None:
        """Environment variables from the ConfigMap (e.g. an HTTP proxy), or None."""
        if not self.configmap:
            return None
        return [m.EnvFromSource(config_map_ref=m.ConfigMapEnvSource(name=self.configmap))]
