"""The Argo Server emulator, seen through Hera's WorkflowsService and plain requests."""

import pytest
import requests
from hera.exceptions import AlreadyExists, BadRequest, Forbidden, NotFound, Unauthorized
from hera.workflows import DAG, Container, Steps, Workflow, WorkflowTemplate, script
from hera.workflows.models import (
    WorkflowCreateRequest,
    WorkflowLintRequest,
    WorkflowTemplateCreateRequest,
    WorkflowTemplateRef,
    WorkflowTemplateUpdateRequest,
)

from hera_utils.testing import ArgoServerEmulator, EmulatedCluster


# No `from __future__ import annotations` here: Hera reads this signature's real types.
@script()
def hello(x: int = 1) -> None:
    print(x)


def _dag_workflow(name: str = "exp-") -> Workflow:
    with Workflow(generate_name=name, entrypoint="main") as workflow, DAG(name="main"):
        first = hello(name="first", arguments={"x": 1})
        second = hello(name="second", arguments={"x": 2})
        third = hello(name="third", arguments={"x": 3})
        first >> [second, third]
    return workflow


def _steps_workflow() -> Workflow:
    with Workflow(generate_name="steps-", entrypoint="main") as workflow, Steps(name="main"):
        hello(name="one")
        hello(name="two")
    return workflow


def _submit(service, workflow: Workflow):
    return service.create_workflow(WorkflowCreateRequest(workflow=workflow.build()))


def _get(cluster: EmulatedCluster, path: str, token: str | None = None, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.get(
        cluster.argo.url + path,
        headers=headers,
        verify=cluster.ca.ca_bundle_path,
        timeout=5,
        **kwargs,
    )


def _post(cluster: EmulatedCluster, path: str, body: dict):
    return requests.post(
        cluster.argo.url + path,
        json=body,
        headers={"Authorization": f"Bearer {cluster.user_token}"},
        verify=cluster.ca.ca_bundle_path,
        timeout=5,
    )


# -- authentication ---------------------------------------------------------------------------


def test_version_and_info_answer_without_checking_the_token(cluster, argo_service):
    bogus = argo_service(token="Bearer bogus")
    assert bogus.get_version().version == "v4.1.2"
    assert bogus.get_info() is not None
    assert _get(cluster, "/api/v1/version").status_code == 200


def test_userinfo_checks_the_token(cluster, argo_service):
    assert argo_service().get_user_info().subject == "alice"
    with pytest.raises(Unauthorized):
        argo_service(token="Bearer bogus").get_user_info()


@pytest.mark.parametrize("authorization", [None, "Bearer bogus", "tok-without-scheme"])
def test_a_bad_token_is_a_grpc_unauthenticated_error(cluster, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    answer = requests.get(
        f"{cluster.argo.url}/api/v1/workflows/experiments",
        headers=headers,
        verify=cluster.ca.ca_bundle_path,
        timeout=5,
    )
    assert answer.status_code == 401
    assert answer.json()["code"] == 16
    assert answer.json()["message"].startswith("token not valid")


def test_a_bare_token_without_bearer_is_rejected(cluster):
    answer = requests.get(
        f"{cluster.argo.url}/api/v1/workflows/experiments",
        headers={"Authorization": cluster.user_token},
        verify=cluster.ca.ca_bundle_path,
        timeout=5,
    )
    assert answer.status_code == 401


def test_an_sso_token_is_accepted_with_its_v2_prefix(cluster, argo_service, clock):
    cluster.tokens.add("v2:sso-bob", user="bob", namespaces={"*"}, expires_at=clock.now + 60)
    assert argo_service(token="Bearer v2:sso-bob").list_workflows().items is None


def test_an_expired_sso_token_is_rejected(cluster, argo_service, clock):
    cluster.tokens.add("v2:old", user="bob", namespaces={"*"}, expires_at=clock.now - 1)
    with pytest.raises(Unauthorized):
        argo_service(token="Bearer v2:old").list_workflows()


def test_a_namespace_not_allowed_is_a_grpc_permission_denied(cluster):
    answer = _get(cluster, "/api/v1/workflows/other", token=cluster.user_token)
    assert answer.status_code == 403
    assert answer.json() == {
        "code": 7,
        "message": 'workflows.argoproj.io is forbidden: User "alice" cannot list resource '
        '"workflows" in API group "argoproj.io" in the namespace "other"',
        "details": [],
    }


def test_kubernetes_rbac_governs_the_argo_server_too(cluster, argo_service):
    cluster.k8s.allowed_verbs = {("alice", "experiments"): {"list", "get"}}
    argo_service().list_workflows()
    with pytest.raises(Forbidden, match="cannot create resource"):
        _submit(argo_service(), _dag_workflow())


def test_token_request_tokens_work_until_they_expire(cluster, k8s_api, argo_service, clock):
    from kubernetes import client

    cluster.k8s.token_ttl_seconds = 60
    answer = client.CoreV1Api(k8s_api).create_namespaced_service_account_token(
        "argo-workflow",
        "experiments",
        client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
    )
    service = argo_service(token=answer.status.token)
    assert service.list_workflows().items is None
    assert cluster.argo.requests[-1].user == "system:serviceaccount:experiments:argo-workflow"
    clock.advance(61)
    with pytest.raises(Unauthorized):
        service.list_workflows()


# -- listing ------------------------------------------------------------------------------------


def test_an_empty_list_has_null_items_as_real_argo(cluster):
    answer = _get(cluster, "/api/v1/workflows/experiments", token=cluster.user_token)
    assert answer.status_code == 200
    assert answer.json()["items"] is None
    assert "metadata" in answer.json()


def test_list_honours_the_limit_newest_first(cluster, argo_service):
    service = argo_service()
    names = [_submit(service, _dag_workflow()).metadata.name for _ in range(3)]
    page = service.list_workflows(limit="2")
    assert len(page.items) == 2
    assert page.metadata.continue_ == "2"
    everything = service.list_workflows()
    assert {wf.metadata.name for wf in everything.items} == set(names)
    assert cluster.argo.requests.queries("/api/v1/workflows/experiments")[-2] == {
        "listOptions.limit": "2"
    }


def test_list_filters_by_label(cluster, argo_service):
    service = argo_service()
    tagged = _dag_workflow()
    tagged.labels = {"project": "x"}
    name = _submit(service, tagged).metadata.name
    _submit(service, _dag_workflow())
    items = service.list_workflows(label_selector="project=x").items
    assert [wf.metadata.name for wf in items] == [name]


# -- submission and validation --------------------------------------------------------------


def test_a_hera_workflow_is_accepted_named_and_stored(cluster, argo_service):
    created = _submit(argo_service(), _dag_workflow("exp-"))
    name = created.metadata.name
    assert name.startswith("exp-") and len(name) == len("exp-") + 5
    assert created.metadata.namespace == "experiments"
    assert created.metadata.uid and created.metadata.creation_timestamp
    assert created.status.phase == "Pending"
    assert cluster.argo.workflows[("experiments", name)]["spec"]["entrypoint"] == "main"


def test_a_name_taken_is_already_exists(argo_service):
    service = argo_service()
    workflow = _dag_workflow()
    workflow.generate_name, workflow.name = None, "fixed-name"
    _submit(service, workflow)
    with pytest.raises(AlreadyExists, match="already exists"):
        _submit(service, workflow)


def test_a_schema_violation_is_invalid_argument_with_the_field(cluster):
    body = {
        "workflow": {
            "metadata": {"generateName": "bad-"},
            "spec": {
                "entrypoint": "main",
                "templates": [{"name": "main", "container": {"image": "x", "args": "not-a-list"}}],
            },
        }
    }
    answer = _post(cluster, "/api/v1/workflows/experiments", body)
    assert answer.status_code == 400
    assert answer.json()["code"] == 3
    assert "spec.templates[0].container.args" in answer.json()["message"]
    assert "is not of type 'array'" in answer.json()["message"]
    assert cluster.argo.workflows == {}


def test_an_undefined_entrypoint_is_rejected(argo_service):
    workflow = _dag_workflow()
    workflow.entrypoint = "nowhere"
    with pytest.raises(BadRequest, match=r"spec\.entrypoint template 'nowhere' undefined"):
        _submit(argo_service(), workflow)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda wf: wf["spec"].pop("entrypoint"), "spec.entrypoint is required"),
        (lambda wf: wf.update(metadata={}), "name or generateName is required"),
        (lambda wf: wf["metadata"].update(name="Upper_Case"), "RFC 1123"),
        (lambda wf: wf["metadata"].update(name="x" * 64), "must not be more than 63 characters"),
        (
            lambda wf: wf["spec"]["templates"][0]["dag"]["tasks"][0].update(template="ghost"),
            "template 'ghost' undefined",
        ),
        (
            lambda wf: wf["spec"]["templates"][0]["dag"]["tasks"][1].update(depends="ghost"),
            "dependency 'ghost' not defined",
        ),
        (lambda wf: wf["spec"]["templates"][1].pop("script"), "template type unspecified"),
        (lambda wf: wf["metadata"].update(namespace="other"), "does not match the namespace"),
    ],
)
def test_argo_semantic_checks_reject_broken_workflows(cluster, change, message):
    workflow = _dag_workflow().to_dict()
    change(workflow)
    answer = _post(cluster, "/api/v1/workflows/experiments", {"workflow": workflow})
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == 3
    assert message in answer.json()["message"]


def test_a_workflow_too_large_for_etcd_is_refused(cluster, argo_service):
    cluster.argo.max_object_bytes = 2000
    workflow = _dag_workflow()
    workflow.annotations = {"blob": "x" * 3000}
    with pytest.raises(Exception, match="request is too large"):
        _submit(argo_service(), workflow)


def test_server_dry_run_validates_without_storing(cluster):
    body = {"workflow": _dag_workflow().to_dict(), "serverDryRun": True}
    answer = _post(cluster, "/api/v1/workflows/experiments", body)
    assert answer.status_code == 200
    assert answer.json()["metadata"]["name"].startswith("exp-")
    assert cluster.argo.workflows == {}


def test_lint_returns_the_workflow_or_the_problem(argo_service):
    service = argo_service()
    linted = service.lint_workflow(WorkflowLintRequest(workflow=_dag_workflow().build()))
    assert linted.spec.entrypoint == "main"
    broken = _dag_workflow()
    broken.entrypoint = "nowhere"
    with pytest.raises(BadRequest):
        service.lint_workflow(WorkflowLintRequest(workflow=broken.build()))


def test_get_and_delete_of_a_missing_workflow_are_not_found(argo_service):
    service = argo_service()
    with pytest.raises(NotFound, match=r'workflows\.argoproj\.io "ghost" not found'):
        service.get_workflow("ghost")
    with pytest.raises(NotFound):
        service.delete_workflow("ghost")


def test_delete_removes_the_workflow(cluster, argo_service):
    service = argo_service()
    name = _submit(service, _dag_workflow()).metadata.name
    service.delete_workflow(name)
    assert cluster.argo.workflows == {}


# -- lifecycle ----------------------------------------------------------------------------------


def test_a_workflow_goes_pending_running_succeeded_one_read_at_a_time(argo_service):
    service = argo_service()
    name = _submit(service, _dag_workflow()).metadata.name

    running = service.get_workflow(name)
    assert running.status.phase == "Running"
    assert running.status.progress == "1/3"
    nodes = {node.display_name: node for node in running.status.nodes.values()}
    assert set(nodes) == {name, "first", "second", "third"}
    assert nodes[name].type == "DAG"
    assert nodes["first"].phase == "Succeeded"
    assert nodes["second"].phase == "Running"
    assert nodes["third"].phase == "Pending"
    assert nodes[name].children == [nodes["first"].id]
    assert set(nodes["first"].children) == {nodes["second"].id, nodes["third"].id}
    assert all(nodes[task].boundary_id == name for task in ("first", "second", "third"))
    assert nodes["first"].template_name == "hello"
    assert running.status.finished_at is None

    done = service.get_workflow(name)
    assert done.status.phase == "Succeeded"
    assert done.status.progress == "3/3"
    assert {node.phase for node in done.status.nodes.values()} == {"Succeeded"}
    assert done.status.finished_at is not None
    assert done.metadata.labels["workflows.argoproj.io/completed"] == "true"
    assert service.get_workflow(name).status.phase == "Succeeded"  # final phases stay


@pytest.mark.parametrize("outcome", ["Failed", "Error"])
def test_a_failing_outcome_fails_the_last_task_with_a_message(cluster, argo_service, outcome):
    cluster.argo.outcome = outcome
    service = argo_service()
    name = _submit(service, _dag_workflow()).metadata.name
    service.get_workflow(name)
    done = service.get_workflow(name)
    assert done.status.phase == outcome
    failed = [node for node in done.status.nodes.values() if node.phase == outcome]
    assert {node.display_name for node in failed} == {"third", name}
    task = next(node for node in failed if node.display_name == "third")
    assert task.message
    assert done.status.message == f"child '{task.id}' failed"


def test_the_outcome_may_depend_on_the_workflow(cluster, argo_service):
    cluster.argo.outcome = lambda wf: (
        "Failed" if wf["metadata"]["name"].startswith("bad") else ("Succeeded")
    )
    service = argo_service()
    good = _submit(service, _dag_workflow("good-")).metadata.name
    bad = _submit(service, _dag_workflow("bad-")).metadata.name
    for name in (good, bad):
        cluster.argo.finish("experiments", name)
    assert service.get_workflow(good).status.phase == "Succeeded"
    assert service.get_workflow(bad).status.phase == "Failed"


def test_a_running_outcome_never_finishes(cluster, argo_service):
    cluster.argo.outcome = "Running"
    service = argo_service()
    name = _submit(service, _dag_workflow()).metadata.name
    for _ in range(5):
        assert service.get_workflow(name).status.phase == "Running"


def test_running_polls_stretches_the_running_phase(cluster, argo_service):
    cluster.argo.running_polls = 3
    service = argo_service()
    name = _submit(service, _dag_workflow()).metadata.name
    progress = [service.get_workflow(name).status.progress for _ in range(4)]
    assert progress == ["0/3", "1/3", "2/3", "3/3"]


def test_steps_have_one_node_per_step(argo_service):
    service = argo_service()
    name = _submit(service, _steps_workflow()).metadata.name
    service.get_workflow(name)
    done = service.get_workflow(name)
    nodes = {node.display_name: node for node in done.status.nodes.values()}
    assert set(nodes) == {name, "one", "two"}
    assert nodes[name].type == "Steps"
    assert nodes["one"].name == f"{name}[0].one"
    assert nodes["one"].children == [nodes["two"].id]


def test_a_single_container_workflow_is_one_pod_node(argo_service):
    with Workflow(generate_name="solo-", entrypoint="main") as workflow:
        Container(name="main", image="alpine:3.20", command=["true"])
    service = argo_service()
    name = _submit(service, workflow).metadata.name
    service.get_workflow(name)
    done = service.get_workflow(name)
    (node,) = done.status.nodes.values()
    assert (node.type, node.phase) == ("Pod", "Succeeded")


def test_hera_wait_follows_the_workflow_to_its_end(cluster, argo_service):
    workflow = _dag_workflow()
    workflow.workflows_service = argo_service()
    workflow.namespace = "experiments"
    created = workflow.create()
    workflow.name = created.metadata.name
    finished = workflow.wait(poll_interval=0)
    assert finished.status.phase == "Succeeded"


# -- workflow templates ------------------------------------------------------------------------


def _template(name: str = "greeter") -> WorkflowTemplate:
    with (
        WorkflowTemplate(name=name, entrypoint="main", namespace="experiments") as template,
        DAG(name="main"),
    ):
        hello(name="only")
    return template


def test_workflow_templates_are_created_read_listed_and_deleted(cluster, argo_service):
    service = argo_service()
    created = service.create_workflow_template(
        WorkflowTemplateCreateRequest(template=_template().build())
    )
    assert created.metadata.resource_version
    assert service.get_workflow_template("greeter").spec.entrypoint == "main"
    assert [t.metadata.name for t in service.list_workflow_templates().items] == ["greeter"]
    with pytest.raises(AlreadyExists):
        service.create_workflow_template(
            WorkflowTemplateCreateRequest(template=_template().build())
        )
    service.delete_workflow_template("greeter")
    assert cluster.argo.workflow_templates == {}
    with pytest.raises(NotFound):
        service.get_workflow_template("greeter")


def test_updating_a_template_needs_its_current_resource_version(argo_service):
    service = argo_service()
    service.create_workflow_template(WorkflowTemplateCreateRequest(template=_template().build()))
    current = service.get_workflow_template("greeter")
    stale = current.metadata.resource_version
    current.spec.entrypoint = "main"
    updated = service.update_workflow_template(
        "greeter", WorkflowTemplateUpdateRequest(template=current)
    )
    assert updated.metadata.resource_version != stale
    assert updated.metadata.generation == 2
    current.metadata.resource_version = stale
    with pytest.raises(AlreadyExists, match="object has been modified"):  # HTTP 409
        service.update_workflow_template("greeter", WorkflowTemplateUpdateRequest(template=current))


def test_hera_template_update_creates_then_replaces(cluster, argo_service):
    template = _template()
    template.workflows_service = argo_service()
    template.update()  # not there yet: created
    template.update()  # there: replaced
    assert (
        cluster.argo.workflow_templates[("experiments", "greeter")]["metadata"]["generation"] == 2
    )


def test_a_workflow_may_run_a_stored_template(cluster, argo_service):
    service = argo_service()
    service.create_workflow_template(WorkflowTemplateCreateRequest(template=_template().build()))
    with Workflow(
        generate_name="from-template-", workflow_template_ref=WorkflowTemplateRef(name="greeter")
    ) as workflow:
        pass
    name = _submit(service, workflow).metadata.name
    cluster.argo.advance("experiments", name)
    nodes = service.get_workflow(name).status.nodes
    assert {node.display_name for node in nodes.values()} == {name, "only"}
    with Workflow(
        generate_name="x-", workflow_template_ref=WorkflowTemplateRef(name="ghost")
    ) as missing:
        pass
    with pytest.raises(BadRequest, match=r'workflowtemplates\.argoproj\.io "ghost" not found'):
        _submit(service, missing)


def test_template_lint_checks_the_template(cluster):
    broken = _template().to_dict()
    broken["spec"]["entrypoint"] = "nowhere"
    answer = _post(cluster, "/api/v1/workflow-templates/experiments/lint", {"template": broken})
    assert (answer.status_code, answer.json()["code"]) == (400, 3)
    good = _post(
        cluster, "/api/v1/workflow-templates/experiments/lint", {"template": _template().to_dict()}
    )
    assert good.status_code == 200


# -- base href and odd paths -------------------------------------------------------------------


def test_behind_a_base_href_only_paths_below_it_are_served(tmp_path, hera_utils_ca):
    from hera.workflows import WorkflowsService

    with EmulatedCluster(tmp_path, ca=hera_utils_ca, base_href="/argo/") as cluster:
        assert cluster.argo.url.endswith("/argo/")
        assert cluster.env()["ARGO_BASE_HREF"] == "/argo/"
        service = WorkflowsService(
            host=cluster.argo.url,
            token=cluster.user_token,
            verify_ssl=cluster.ca.ca_bundle_path,  # type: ignore[arg-type]
            namespace="experiments",
        )
        with service:
            assert service.list_workflows().items is None
        root = f"{cluster.argo.root_url}/api/v1/version"
        outside = requests.get(root, verify=cluster.ca.ca_bundle_path, timeout=5)
        assert outside.status_code == 404
        assert outside.headers["Content-Type"].startswith("text/html")
        assert cluster.argo.requests[-1].path == "/api/v1/version"
        assert ("GET", "/argo/api/v1/workflows/experiments", "alice") in cluster.argo.requests


def test_the_ui_answers_html_and_unknown_api_paths_a_grpc_not_found(cluster):
    ui = _get(cluster, "/workflows/experiments")
    assert ui.status_code == 200
    assert ui.headers["Content-Type"].startswith("text/html")
    missing = _get(cluster, "/api/v1/nothing-here", token=cluster.user_token)
    assert (missing.status_code, missing.json()["code"]) == (404, 5)


def test_the_argo_emulator_runs_on_its_own(hera_utils_ca):
    with ArgoServerEmulator(tls=hera_utils_ca) as argo:
        argo.tokens.add("tok", user="dave", namespaces={"lab"})
        answer = requests.get(
            f"{argo.url}/api/v1/workflows/lab",
            headers={"Authorization": "Bearer tok"},
            verify=hera_utils_ca.ca_bundle_path,
            timeout=5,
        )
    assert answer.status_code == 200


def test_fields_keeps_or_drops_the_paths_asked_for(cluster, argo_service):
    service = argo_service()
    name = _submit(service, _dag_workflow()).metadata.name
    base = f"/api/v1/workflows/experiments/{name}"
    kept = _get(cluster, base, cluster.user_token, params={"fields": "metadata.name,status.phase"})
    assert kept.json() == {"metadata": {"name": name}, "status": {"phase": "Running"}}
    dropped = _get(cluster, base, cluster.user_token, params={"fields": "-status.nodes"}).json()
    assert "nodes" not in dropped["status"] and dropped["spec"]["entrypoint"] == "main"
    listed = _get(
        cluster,
        "/api/v1/workflows/experiments",
        cluster.user_token,
        params={"fields": "items.metadata.name"},
    )
    assert listed.json() == {"items": [{"metadata": {"name": name}}]}


def test_an_unknown_outcome_is_refused_at_once(cluster):
    with pytest.raises(ValueError, match="unknown outcome"):
        cluster.argo.outcome = "Succeded"
    assert cluster.argo.outcome == "Succeeded"
