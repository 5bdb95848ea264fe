"""Argo's pod names for a workflow's nodes, as `workflow/util/pod_name.go` makes them."""

from __future__ import annotations

from hera_utils.logs import pod_name, task_pods


def workflow(name: str, **annotations: str) -> dict:
    return {"metadata": {"name": name, "annotations": annotations}}


def test_v2_pod_names_join_workflow_template_and_the_fnv_hash_of_the_node_name() -> None:
    node = {"id": "wf-123", "name": "wf.train", "templateName": "fit"}
    # FNV-1a 32 of b"wf.train" is 2572425624 (Go: fnv.New32a).
    assert pod_name(workflow("wf"), node) == "wf-fit-2572425624"


def test_a_long_prefix_is_cut_to_leave_room_for_the_hash() -> None:
    node = {"id": "x", "name": "n", "templateName": "t" * 300}
    name = pod_name(workflow("wf"), node)
    assert len(name) <= 253 and name.startswith("wf-ttt") and name.count("-") == 2


def test_v1_pod_names_and_nodes_without_a_template_are_the_node_id() -> None:
    node = {"id": "wf-123", "name": "wf.train", "templateName": "fit"}
    v1 = workflow("wf", **{"workflows.argoproj.io/pod-name-format": "v1"})
    assert pod_name(v1, node) == "wf-123"
    assert pod_name(workflow("wf"), {"id": "wf-9", "name": "wf.x"}) == "wf-9"


def test_task_pods_lists_pod_nodes_in_start_order() -> None:
    nodes = {
        "a": {"id": "a", "name": "wf.late", "displayName": "late", "type": "Pod",
              "templateName": "t", "startedAt": "2026-01-01T00:00:02Z", "phase": "Failed"},
        "b": {"id": "b", "name": "wf.early", "displayName": "early", "type": "Pod",
              "templateName": "t", "startedAt": "2026-01-01T00:00:01Z", "phase": "Succeeded"},
        "c": {"id": "c", "name": "wf", "displayName": "wf", "type": "DAG"},
    }
    pods = task_pods({"metadata": {"name": "wf"}, "status": {"nodes": nodes}})
    assert [(pod.task, pod.phase) for pod in pods] == [("early", "Succeeded"), ("late", "Failed")]
