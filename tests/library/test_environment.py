"""Specification of hera_utils.environment.ExperimentEnvironment."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hera.workflows import DAG, Script, Workflow

from hera_utils.cluster import KubernetesCluster, k8s_cluster
from hera_utils.environment import ExperimentEnvironment
from hera_utils.errors import ConfigurationError, NotFoundError
from hera_utils.settings import parse_arguments

FULL = ExperimentEnvironment(
    namespace="experiments",
    service_account="argo-workflow",
    registry="registry.example.org/team/",
    configmap="proxy",
    volume_claim="data",
    mount_path="/data",
)


@pytest.fixture
def cluster(emulated_env) -> KubernetesCluster:
    """The emulated cluster: volume claim `data` and ConfigMap `proxy` in `experiments`."""
    return k8s_cluster(parse_arguments([]))


def test_assert_on_accepts_an_existing_claim_and_configmap(cluster: KubernetesCluster) -> None:
    FULL.assert_on(cluster)


def test_assert_on_reports_a_missing_claim(cluster: KubernetesCluster) -> None:
    environment = dataclasses.replace(FULL, volume_claim="no-such-claim")
    with pytest.raises(NotFoundError, match="no-such-claim"):
        environment.assert_on(cluster)


def test_assert_on_reports_a_missing_configmap(cluster: KubernetesCluster) -> None:
    environment = dataclasses.replace(FULL, configmap="no-such-map")
    with pytest.raises(NotFoundError, match="no-such-map"):
        environment.assert_on(cluster)


def test_assert_on_asks_only_about_what_is_used(emulated_env, cluster: KubernetesCluster) -> None:
    emulated_env.k8s.requests.clear()
    ExperimentEnvironment(namespace="experiments", volume_claim="data", mount_path="/d").assert_on(
        cluster
    )
    asked = emulated_env.k8s.requests.paths()
    assert any("persistentvolumeclaims/data" in path for path in asked)
    assert not any("configmaps" in path for path in asked)


def test_prints_as_json() -> None:
    data = json.loads(str(FULL))
    assert data["volume_claim"] == "data"
    assert data["mount_path"] == "/data"


def test_images_come_from_the_registry() -> None:
    assert FULL.image("report:1.0") == "registry.example.org/team/report:1.0"
    assert ExperimentEnvironment().image("report:1.0") == "report:1.0"


def test_invalid_kubernetes_names_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="volume_claim"):
        ExperimentEnvironment(volume_claim="My_Claim", mount_path="/data")


def test_a_claim_needs_an_absolute_mount_path() -> None:
    with pytest.raises(ConfigurationError, match="mount path"):
        ExperimentEnvironment(volume_claim="data", mount_path="data")


def test_paths_on_the_volume_follow_the_mount_path() -> None:
    assert FULL.on_volume("exp/compute") == "/data/exp/compute"


def test_a_local_run_sees_the_volume_in_a_local_directory(tmp_path) -> None:
    local = FULL.for_local_run(tmp_path / "volume")
    assert local.on_volume("exp/compute") == f"{tmp_path}/volume/exp/compute"
    assert local.volume_claim == "data"
    assert local.configmap == ""
    assert local.env_from() is None


def test_writing_to_a_volume_needs_a_claim() -> None:
    with pytest.raises(ConfigurationError):
        ExperimentEnvironment().on_volume("x")


def build(environment: ExperimentEnvironment) -> dict:
    def task() -> None:
        print("hi")

    with Workflow(name="w", entrypoint="main", volumes=environment.volumes()) as workflow:
        template = Script(
            name="task",
            source=task,
            volume_mounts=environment.volume_mounts(),
            env_from=environment.env_from(),
        )
        with DAG(name="main"):
            template(name="t")
    return workflow.to_dict()


def test_hera_objects_mount_the_claim_and_read_the_configmap() -> None:
    spec = build(FULL)["spec"]
    assert spec["volumes"] == [
        {"name": "experiment-data", "persistentVolumeClaim": {"claimName": "data"}}
    ]
    script = spec["templates"][0]["script"]
    assert script["volumeMounts"] == [{"name": "experiment-data", "mountPath": "/data"}]
    assert script["envFrom"] == [{"configMapRef": {"name": "proxy"}}]


def test_hera_objects_are_absent_when_unused() -> None:
    spec = build(ExperimentEnvironment())["spec"]
    assert "volumes" not in spec
    script = spec["templates"][0]["script"]
    assert "volumeMounts" not in script
    assert "envFrom" not in script
