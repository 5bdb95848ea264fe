"""Pods, their logs and exec (WebSocket), Workflow resources, and Argo's log and retry
endpoints, seen through the official clients and plain HTTPS."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import pytest
import requests
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream

NS = "experiments"
GROUP, VERSION = "argoproj.io", "v1alpha1"


def _pod_body(claim: str = "data", deadline: int | None = None) -> client.V1Pod:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(generate_name="results-", labels={"app": "results"}),
        spec=client.V1PodSpec(
            active_deadline_seconds=deadline,
            restart_policy="Never",
            containers=[
                client.V1Container(
                    name="reader",
                    image="busybox:1.36",
                    command=["sleep", "600"],
                    volume_mounts=[client.V1VolumeMount(name="claim", mount_path="/mnt/claim")],
                )
            ],
            volumes=[
                client.V1Volume(
                    name="claim",
                    persistent_volume_claim=client.V1PersistentVolumeClaimVolumeSource(
                        claim_name=claim
                    ),
                )
            ],
        ),
    )


def _running_pod(core: client.CoreV1Api, **kwargs) -> str:
    name = core.create_namespaced_pod(NS, _pod_body(**kwargs)).metadata.name
    assert core.read_namespaced_pod(name, NS).status.phase == "Running"
    return name


def _exec(core: client.CoreV1Api, pod: str, command: list[str]) -> tuple[bytes, bytes, int]:
    ws = stream(
        core.connect_get_namespaced_pod_exec,
        pod,
        NS,
        command=command,
        stdout=True,
        stderr=True,
        stdin=False,
        tty=False,
        binary=True,
        _preload_content=False,
    )
    out, err = b"", b""
    while ws.is_open():
        ws.update(timeout=5)
        out += ws.read_stdout() if ws.peek_stdout() else b""
        err += ws.read_stderr() if ws.peek_stderr() else b""
    code = ws.returncode
    ws.close()
    return out, err, code


@pytest.fixture
def core(k8s_api) -> client.CoreV1Api:
    return client.CoreV1Api(k8s_api)


@pytest.fixture
def volume(cluster, tmp_path: Path) -> Path:
    contents = tmp_path / "claim-contents"
    (contents / "sweep" / "run-1").mkdir(parents=True)
    (contents / "sweep" / "run-1" / "result.bin").write_bytes(b"\x00\xff\xfe binary\n")
    cluster.k8s.set_volume_contents(NS, "data", contents)
    return contents


# -- pods ---------------------------------------------------------------------------------------


def test_a_pod_starts_pending_runs_when_read_and_is_gone_once_deleted(cluster, core):
    created = core.create_namespaced_pod(NS, _pod_body())
    assert created.status.phase == "Pending"
    assert created.metadata.name.startswith("results-")
    name = created.metadata.name
    running = core.read_namespaced_pod(name, NS)
    assert running.status.phase == "Running"
    assert running.status.container_statuses[0].state.running is not None
    listed = core.list_namespaced_pod(NS, label_selector="app=results")
    assert [pod.metadata.name for pod in listed.items] == [name]
    deleted = core.delete_namespaced_pod(name, NS)
    assert deleted.metadata.deletion_timestamp is not None
    assert cluster.k8s.pods(NS) == []
    assert cluster.k8s.deleted_pods == [name]
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod(name, NS)
    assert caught.value.status == 404


def test_a_pod_whose_claim_is_missing_stays_pending_unschedulable(core):
    name = core.create_namespaced_pod(NS, _pod_body(claim="nope")).metadata.name
    pod = core.read_namespaced_pod(name, NS)
    assert pod.status.phase == "Pending"
    condition = pod.status.conditions[0]
    assert (condition.reason, condition.status) == ("Unschedulable", "False")
    assert 'persistentvolumeclaim "nope" not found' in condition.message


def test_a_pod_whose_image_cannot_be_pulled_waits_with_the_reason(cluster, core):
    cluster.k8s.pods_never_start = "ImagePullBackOff"
    name = core.create_namespaced_pod(NS, _pod_body()).metadata.name
    pod = core.read_namespaced_pod(name, NS)
    assert pod.status.phase == "Pending"
    assert pod.status.container_statuses[0].state.waiting.reason == "ImagePullBackOff"


def test_a_pod_past_its_active_deadline_fails(cluster, core, clock):
    cluster.k8s.clock = clock
    name = core.create_namespaced_pod(NS, _pod_body(deadline=60)).metadata.name
    assert core.read_namespaced_pod(name, NS).status.phase == "Running"
    clock.advance(61)
    pod = core.read_namespaced_pod(name, NS)
    assert (pod.status.phase, pod.status.reason) == ("Failed", "DeadlineExceeded")


def test_creating_pods_needs_the_right(cluster, core):
    cluster.k8s.allowed_verbs = {(cluster.user, NS): ["get", "list"]}
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_pod(NS, _pod_body())
    assert caught.value.status == 403
    assert 'cannot create resource "pods"' in json.loads(caught.value.body)["message"]


# -- exec -----------------------------------------------------------------------------------------


def test_exec_streams_a_real_tar_of_the_claim_contents(core, volume):
    pod = _running_pod(core)
    out, err, code = _exec(core, pod, ["tar", "cf", "-", "-C", "/mnt/claim", "sweep"])
    assert code == 0, err
    with tarfile.open(fileobj=io.BytesIO(out)) as archive:
        assert "sweep/run-1/result.bin" in archive.getnames()
        member = archive.extractfile("sweep/run-1/result.bin")
        assert member is not None and member.read() == b"\x00\xff\xfe binary\n"


def test_exec_reports_a_failing_command_with_its_exit_code_and_pod_paths(core, volume):
    pod = _running_pod(core)
    _, err, code = _exec(core, pod, ["ls", "/mnt/claim/missing"])
    assert code != 0
    assert b"/mnt/claim/missing" in err
    assert str(volume).encode() not in err  # the pod's view, not this machine's


def test_exec_of_an_unknown_executable_fails_as_the_runtime_says(core, volume):
    pod = _running_pod(core)
    _, _, code = _exec(core, pod, ["rsync", "-a"])
    assert code == 126


def test_exec_into_a_pending_pod_is_refused(cluster, core, volume):
    cluster.k8s.pod_start_reads = 99
    name = core.create_namespaced_pod(NS, _pod_body()).metadata.name
    with pytest.raises(ApiException) as caught:
        _exec(core, name, ["true"])
    assert "400" in str(caught.value.reason)


def test_exec_needs_the_pods_exec_right(cluster, core, volume):
    pod = _running_pod(core)
    cluster.k8s.allowed_verbs = {(cluster.user, NS): ["get", "list", "create:pods"]}
    with pytest.raises(ApiException) as caught:
        _exec(core, pod, ["true"])
    assert "403" in str(caught.value.reason)


def test_an_access_review_of_the_exec_subresource_is_answered_for_pods_exec(cluster, k8s_api):
    cluster.k8s.allowed_verbs = lambda user, ns, verb, resource, group: resource != "pods/exec"

    def review(subresource: str | None) -> bool:
        attributes = client.V1ResourceAttributes(
            verb="create", resource="pods", subresource=subresource, namespace=NS
        )
        body = client.V1SelfSubjectAccessReview(
            spec=client.V1SelfSubjectAccessReviewSpec(resource_attributes=attributes)
        )
        answer = client.AuthorizationV1Api(k8s_api).create_self_subject_access_review(body)
        return answer.status.allowed

    assert review(None) is True
    assert review("exec") is False


def test_exec_output_can_be_replaced_for_tests(cluster, core, volume):
    cluster.k8s.exec_override = lambda command: ([b"hand", b"made"], 0)
    pod = _running_pod(core)
    assert _exec(core, pod, ["tar", "cf", "-", "x"]) == (b"handmade", b"", 0)


# -- logs ---------------------------------------------------------------------------------------


def _submit_cr(k8s_api, tasks=("prepare", "train")) -> dict:
    dag_tasks = [{"name": tasks[0], "template": "work"}] + [
        {"name": task, "template": "work", "depends": tasks[0]} for task in tasks[1:]
    ]
    workflow = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Workflow",
        "metadata": {"generateName": "sweep-"},
        "spec": {
            "entrypoint": "main",
            "templates": [
                {"name": "main", "dag": {"tasks": dag_tasks}},
                {"name": "work", "container": {"image": "python:3.12"}},
            ],
        },
    }
    return client.CustomObjectsApi(k8s_api).create_namespaced_custom_object(
        GROUP, VERSION, NS, "workflows", workflow
    )


def _read_cr(k8s_api, name: str) -> dict:
    return client.CustomObjectsApi(k8s_api).get_namespaced_custom_object(
        GROUP, VERSION, NS, "workflows", name
    )


def test_workflow_pods_have_raw_logs_through_the_pod_log_api(cluster, core, k8s_api):
    cluster.argo.task_logs = {"train": b"epoch 1\nloss \xff\xfe\n"}
    name = _submit_cr(k8s_api)["metadata"]["name"]
    cluster.argo.finish(NS, name)
    pods = {task: pod for pod, (_, task, _) in cluster.argo.workflow_pods(NS).items()}
    response = core.read_namespaced_pod_log(
        pods["train"], NS, container="main", _preload_content=False
    )
    assert response.data == b"epoch 1\nloss \xff\xfe\n"


def test_following_a_pod_log_streams_until_the_pod_ends(cluster, k8s_api, core):
    name = _submit_cr(k8s_api, tasks=("train",))["metadata"]["name"]
    cluster.argo.advance(NS, name)
    (pod,) = cluster.argo.workflow_pods(NS)
    response = core.read_namespaced_pod_log(pod, NS, follow=True, _preload_content=False)
    assert b"".join(response.stream(64)) == b"train: started\ntrain: done\n"
    assert cluster.argo.run_of(NS, name).finished


def test_the_log_of_an_unknown_pod_is_not_found(core):
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_pod_log("nobody", NS)
    assert caught.value.status == 404


# -- Workflow custom resources ---------------------------------------------------------------------


def test_a_workflow_resource_is_validated_runs_and_is_seen_by_the_argo_server(
    cluster, k8s_api, argo_service
):
    created = _submit_cr(k8s_api)
    name = created["metadata"]["name"]
    assert name.startswith("sweep-")
    phases = [_read_cr(k8s_api, name)["status"]["phase"] for _ in range(3)]
    assert phases[-1] == "Succeeded"
    assert argo_service().get_workflow(name).status.phase == "Succeeded"
    listed = client.CustomObjectsApi(k8s_api).list_namespaced_custom_object(
        GROUP, VERSION, NS, "workflows", label_selector="workflows.argoproj.io/completed=true"
    )
    assert [item["metadata"]["name"] for item in listed["items"]] == [name]


def test_an_invalid_workflow_resource_is_refused_as_unprocessable(k8s_api):
    bad = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Workflow",
        "metadata": {"generateName": "bad-"},
        "spec": {"entrypoint": "missing", "templates": [{"name": "t", "container": {}}]},
    }
    with pytest.raises(ApiException) as caught:
        client.CustomObjectsApi(k8s_api).create_namespaced_custom_object(
            GROUP, VERSION, NS, "workflows", bad
        )
    assert caught.value.status == 422
    assert json.loads(caught.value.body)["reason"] == "Invalid"


def test_creating_workflow_resources_needs_the_right(cluster, k8s_api):
    cluster.k8s.allowed_verbs = {(cluster.user, NS): ["get", "list"]}
    with pytest.raises(ApiException) as caught:
        _submit_cr(k8s_api)
    assert caught.value.status == 403
    assert 'in API group "argoproj.io"' in json.loads(caught.value.body)["message"]


def test_replacing_a_failed_workflow_as_running_retries_only_its_failed_tasks(cluster, k8s_api):
    cluster.argo.failing_tasks = {"train": 1}
    name = _submit_cr(k8s_api, tasks=("prepare", "train", "plot"))["metadata"]["name"]
    failed = cluster.argo.finish(NS, name)
    assert failed["status"]["phase"] == "Failed"
    retried = json.loads(json.dumps(failed))
    retried["status"]["phase"] = "Running"
    del retried["metadata"]["labels"]["workflows.argoproj.io/completed"]
    client.CustomObjectsApi(k8s_api).replace_namespaced_custom_object(
        GROUP, VERSION, NS, "workflows", name, retried
    )
    cluster.argo.finish(NS, name)
    assert _read_cr(k8s_api, name)["status"]["phase"] == "Succeeded"
    assert cluster.argo.run_of(NS, name).attempts == {"prepare": 0, "train": 1, "plot": 0}


# -- the Argo Server's log and retry endpoints --------------------------------------------------


def _argo_get(cluster, path: str, **params) -> requests.Response:
    return requests.get(
        f"{cluster.argo.url}{path}",
        params=params,
        headers={"Authorization": f"Bearer {cluster.user_token}"},
        verify=cluster.ca.ca_bundle_path,
        timeout=5,
    )


def test_the_argo_log_endpoint_streams_one_json_object_per_line(cluster, k8s_api):
    cluster.argo.task_logs = {"train": b"line one\nline two\n\xff bytes\n"}
    name = _submit_cr(k8s_api, tasks=("train",))["metadata"]["name"]
    cluster.argo.finish(NS, name)
    response = _argo_get(
        cluster, f"/api/v1/workflows/{NS}/{name}/log", **{"logOptions.container": "main"}
    )
    entries = [json.loads(line)["result"] for line in response.text.splitlines()]
    assert [entry["content"] for entry in entries] == ["line one", "line two", "\ufffd bytes"]
    assert {entry["podName"] for entry in entries} == set(cluster.argo.workflow_pods(NS))


def test_the_argo_log_endpoint_follows_a_running_workflow_to_its_end(cluster, k8s_api):
    name = _submit_cr(k8s_api, tasks=("prepare", "train"))["metadata"]["name"]
    response = _argo_get(
        cluster, f"/api/v1/workflows/{NS}/{name}/log", **{"logOptions.follow": "true"}
    )
    contents = [json.loads(line)["result"]["content"] for line in response.text.splitlines()]
    assert contents[-1].startswith("train: ")
    assert "prepare: done" in contents
    assert cluster.argo.run_of(NS, name).finished


def test_the_argo_log_endpoint_answers_404_for_an_unknown_workflow(cluster):
    response = _argo_get(cluster, f"/api/v1/workflows/{NS}/nope/log")
    assert response.status_code == 404
    assert response.json()["code"] == 5


def test_the_argo_retry_endpoint_reruns_the_failed_part(cluster, k8s_api):
    cluster.argo.failing_tasks = {"train": 1}
    name = _submit_cr(k8s_api, tasks=("prepare", "train"))["metadata"]["name"]
    url = f"{cluster.argo.url}/api/v1/workflows/{NS}/{name}/retry"
    headers = {"Authorization": f"Bearer {cluster.user_token}"}
    early = requests.put(url, json={}, headers=headers, verify=cluster.ca.ca_bundle_path)
    assert early.status_code == 400  # still running
    cluster.argo.finish(NS, name)
    answer = requests.put(
        url, json={"name": name}, headers=headers, verify=cluster.ca.ca_bundle_path
    )
    assert answer.status_code == 200
    assert answer.json()["status"]["phase"] == "Running"
    assert cluster.argo.finish(NS, name)["status"]["phase"] == "Succeeded"
    assert cluster.argo.run_of(NS, name).attempts == {"prepare": 0, "train": 1}


def test_a_hanging_log_endpoint_is_cut_by_the_client_timeout(cluster, k8s_api):
    name = _submit_cr(k8s_api, tasks=("train",))["metadata"]["name"]
    cluster.argo.faults.set("hang", paths="/api/v1/workflows/experiments/" + name + "/log")
    with pytest.raises(requests.Timeout):
        requests.get(
            f"{cluster.argo.url}/api/v1/workflows/{NS}/{name}/log",
            headers={"Authorization": f"Bearer {cluster.user_token}"},
            verify=cluster.ca.ca_bundle_path,
            timeout=0.3,
        )
