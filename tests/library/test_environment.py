"""Specification of hera_utils.environment.ExperimentEnvironment."""

from __future__ import annotations

import json

import pytest
from hera.workflows import DAG, Script, Workflow

from hera_utils.environment import ExperimentEnvironment
from hera_utils.errors import ConfigurationError, NotFoundError

FULL = ExperimentEnvironment(
    namespace="experiments",
    service_account="argo-workflow",
    registry="registry.example.org/team/",
    configmap="proxy",
    volume_claim="data",
    mount_path="/data",
)


class RecordingCluster:
    """A cluster that knows some volume claims and ConfigMaps (what assert_on asks)."""

    def __init__(self, claims: set[str], configmaps: set[str]) -> None:
        self.claims, self.configmaps = claims, configmaps
        self.asked: list[str] = []

    def assert_volume_claim(self, name: str) -> None:
        self.asked.append(f"claim:{name}")
        if name not in self.claims:
            raise NotFoundError(f"volume claim {name!r} not found", hint="create it")

    def assert_configmap(self, name: str) -> None:
        self.asked.append(f"configmap:{name}")
        if name not in self.configmaps:
            raise NotFoundError(f"ConfigMap {name!r} not found")


def test_assert_on_checks_the_claim_and_configmap() -> None:
    cluster = RecordingCluster({"data"}, {"proxy"})
    FULL.assert_on(cluster)
    assert cluster.asked == ["claim:data", "configmap:proxy"]


def test_assert_on_reports_a_missing_claim() -> None:
    with pytest.raises(NotFoundError, match="data"):
        FULL.assert_on(RecordingCluster(set(), {"proxy"}))


def test_assert_on_checks_nothing_that_is_not_used() -> None:
    cluster = RecordingCluster(set(), set())
    ExperimentEnvironment(namespace="experiments").assert_on(cluster)
    assert cluster.asked == []


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
