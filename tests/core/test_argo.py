"""ArgoServer and the token sources against the emulators over HTTPS."""

from __future__ import annotations

import time

import pytest

import hera_utils
from hera_utils.argo import ArgoServer
from hera_utils.errors import (
    ConfigurationError,
    ForbiddenError,
    HeraUtilsWarning,
    NotFoundError,
    RequestTimeoutError,
    ServerError,
    TLSVerificationError,
    UnauthorizedError,
)


@pytest.fixture
def args(emulated_env):
    return hera_utils.parse_arguments([])


@pytest.fixture(autouse=True)
def fresh_hera_config():
    from hera.shared import global_config

    global_config.reset()
    yield
    global_config.reset()


def _simple_workflow(name="hello-"):
    from hera.workflows import Container, Workflow

    with Workflow(generate_name=name, entrypoint="main") as workflow:
        Container(name="main", image="alpine:3.20", command=["echo", "hi"])
    return workflow


def test_the_original_sequence_of_calls_works_as_written(emulated_env, monkeypatch):
    monkeypatch.setattr("sys.argv", ["experiment.py"])
    args = hera_utils.parse_arguments()
    cluster = hera_utils.k8s_cluster(args)
    argo_server = hera_utils.argo_server(cluster, args)
    argo_server.define_argo_server_part_of_environment()

    from hera.shared import global_config

    assert global_config.host == emulated_env.argo.url.rstrip("/") + "/"
    assert global_config.namespace == emulated_env.namespace
    assert global_config.token == emulated_env.env()["ARGO_TOKEN"]
    workflow = _simple_workflow()
    workflow.workflows_service = argo_server.workflows_service()
    created = workflow.create()
    assert (emulated_env.namespace, created.metadata.name) in emulated_env.argo.workflows


def test_hera_global_config_alone_submits_to_the_server(emulated_env, args):
    argo = hera_utils.argo_server(None, args)
    argo.define_argo_server_part_of_environment()
    workflow = _simple_workflow()
    assert workflow.workflows_service.session is argo.session  # bounded and verifying
    created = workflow.create()
    assert created.metadata.namespace == emulated_env.namespace


def test_hera_global_config_verifies_with_ssl_cert_file_too(emulated_env, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    monkeypatch.setenv("SSL_CERT_FILE", emulated_env.ca.ca_bundle_path)
    argo = hera_utils.argo_server(None, hera_utils.parse_arguments([]))
    argo.define_argo_server_part_of_environment()
    from hera.workflows import WorkflowsService

    plain_hera_service = WorkflowsService()  # Hera's own session, no timeout of ours
    assert plain_hera_service.list_workflows(namespace=emulated_env.namespace) is not None


@pytest.mark.parametrize("form", ["Bearer {t}", "{t}"])
def test_tokens_with_and_without_bearer_are_accepted(emulated_env, monkeypatch, form):
    monkeypatch.setenv("ARGO_TOKEN", form.format(t=emulated_env.user_token))
    argo = hera_utils.argo_server(None, hera_utils.parse_arguments([]))
    assert argo.tokens() == f"Bearer {emulated_env.user_token}"


def test_a_full_url_and_a_base_href_reach_a_server_behind_an_ingress(tmp_path, monkeypatch):
    from hera_utils.testing import EmulatedCluster

    with EmulatedCluster(tmp_path, base_href="/argo/") as cluster:
        for name, value in cluster.env().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("ARGO_BASE_HREF", "/argo/")
        argo = hera_utils.argo_server(None, hera_utils.parse_arguments([]))
        assert argo.url.endswith("/argo/")
        monkeypatch.delenv("ARGO_BASE_HREF")
        with pytest.raises(NotFoundError) as caught:
            hera_utils.argo_server(None, hera_utils.parse_arguments([]))
        assert "ARGO_BASE_HREF" in caught.value.hint


def test_a_rejected_token_names_argo_token_and_how_to_renew_it(emulated_env, monkeypatch):
    monkeypatch.setenv("ARGO_TOKEN", "Bearer not-a-real-token")
    with pytest.raises(UnauthorizedError) as caught:
        hera_utils.argo_server(None, hera_utils.parse_arguments([]))
    assert caught.value.setting == "argo_token"
    assert "User page" in caught.value.hint
    assert "not-a-real-token" not in caught.value.one_line()


def test_a_namespace_not_granted_is_forbidden(emulated_env, monkeypatch):
    monkeypatch.setenv("ARGO_NAMESPACE", "other-team")
    with pytest.raises(ForbiddenError) as caught:
        hera_utils.argo_server(None, hera_utils.parse_arguments([]))
    assert caught.value.setting == "argo_namespace"


def test_server_errors_and_malformed_answers_are_server_errors(emulated_env, args):
    emulated_env.argo.faults.set("error500")
    with pytest.raises(ServerError, match="HTTP 500"):
        hera_utils.argo_server(None, args)
    emulated_env.argo.faults.set("malformed")
    with pytest.raises(ServerError, match="not JSON"):
        hera_utils.argo_server(None, args)


def test_a_hanging_server_times_out(emulated_env, monkeypatch):
    monkeypatch.setenv("HERA_UTILS_TIMEOUT", "1")
    emulated_env.argo.faults.set("hang")
    start = time.monotonic()
    with pytest.raises(RequestTimeoutError):
        hera_utils.argo_server(None, hera_utils.parse_arguments([]))
    assert time.monotonic() - start < 3


def test_tls_is_verified_unless_the_user_says_otherwise(emulated_env, monkeypatch):
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(TLSVerificationError) as caught:
        hera_utils.argo_server(None, hera_utils.parse_arguments([]))
    assert "REQUESTS_CA_BUNDLE" in caught.value.hint
    monkeypatch.setenv("SSL_CERT_FILE", emulated_env.ca.ca_bundle_path)
    assert hera_utils.argo_server(None, hera_utils.parse_arguments([])).verify == (
        emulated_env.ca.ca_bundle_path)
    monkeypatch.delenv("SSL_CERT_FILE")
    monkeypatch.setenv("ARGO_INSECURE_SKIP_VERIFY", "true")
    with pytest.warns(UserWarning, match="not verified"):
        argo = hera_utils.argo_server(None, hera_utils.parse_arguments([]))
    assert argo.verify is False


def test_plain_http_to_a_tls_port_is_explained(emulated_env, monkeypatch):
    monkeypatch.setenv("ARGO_SECURE", "false")
    with pytest.raises(Exception) as caught:
        hera_utils.argo_server(None, hera_utils.parse_arguments([]))
    assert caught.type.__name__ in ("UnreachableError", "ServerError", "TLSVerificationError")


# -- token sources -----------------------------------------------------------------------------


def _service_account_args(emulated_env, monkeypatch, mode):
    monkeypatch.delenv("ARGO_TOKEN")
    monkeypatch.setenv("HERA_UTILS_ARGO_AUTH_MODE", mode)
    return hera_utils.parse_arguments([])


def test_token_request_mode_obtains_a_token_for_the_service_account(emulated_env, monkeypatch):
    args = _service_account_args(emulated_env, monkeypatch, "token-request")
    cluster = hera_utils.k8s_cluster(args)
    argo = hera_utils.argo_server(cluster, args)
    assert argo.tokens.mode == "token-request"
    assert emulated_env.k8s.issued_tokens


def test_an_expired_requested_token_is_renewed(emulated_env, monkeypatch):
    emulated_env.k8s.token_ttl_seconds = 2
    args = _service_account_args(emulated_env, monkeypatch, "token-request")
    argo = hera_utils.argo_server(hera_utils.k8s_cluster(args), args)
    first = argo.tokens()
    time.sleep(2.2)
    assert emulated_env.tokens.lookup(first.split(" ", 1)[1]) is None  # the server forgot it
    argo.list_workflows()  # works: the session asked for a fresh token
    assert argo.tokens() != first
    assert argo.tokens.renewals >= 1
    assert len(emulated_env.k8s.issued_tokens) >= 2


def test_sa_secret_mode_reads_the_legacy_token_secret(emulated_env, monkeypatch):
    emulated_env.k8s.add_service_account(emulated_env.namespace, "legacy", token_secret=True)
    monkeypatch.setenv("ARGO_SERVICE_ACCOUNT", "legacy")
    args = _service_account_args(emulated_env, monkeypatch, "sa-secret")
    argo = hera_utils.argo_server(hera_utils.k8s_cluster(args), args)
    assert argo.tokens.mode == "sa-secret"


def test_auto_prefers_the_token_then_token_request(emulated_env, monkeypatch):
    args = hera_utils.parse_arguments([])
    assert hera_utils.argo_server(None, args).tokens.mode == "token"
    args = _service_account_args(emulated_env, monkeypatch, "auto")
    assert hera_utils.argo_server(hera_utils.k8s_cluster(args), args).tokens.mode == (
        "token-request")


def test_auto_falls_back_to_the_legacy_secret_when_token_request_is_missing(emulated_env,
                                                                           monkeypatch):
    emulated_env.k8s.add_service_account(emulated_env.namespace, "legacy", token_secret=True)
    monkeypatch.setenv("ARGO_SERVICE_ACCOUNT", "legacy")
    # A cluster without the TokenRequest endpoint answers 404 there.
    token_path = "/api/v1/namespaces/experiments/serviceaccounts/legacy/token"
    emulated_env.k8s.faults.set("not-found", paths=token_path)
    args = _service_account_args(emulated_env, monkeypatch, "auto")
    argo = hera_utils.argo_server(hera_utils.k8s_cluster(args), args)
    assert argo.tokens.mode == "sa-secret"
    # The source's description (doctor's detail) says that the fallback was taken.
    assert argo.tokens.description.startswith(
        "the token Secret of service account 'legacy' (TokenRequest refused: ")


def test_none_mode_sends_no_token(emulated_env, monkeypatch):
    monkeypatch.setenv("HERA_UTILS_ARGO_AUTH_MODE", "none")
    server = ArgoServer.from_settings(None, hera_utils.parse_arguments([]))
    assert server.tokens() is None
    with pytest.raises(UnauthorizedError):
        server.list_workflows()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HERA_UTILS_ARGO_AUTH_MODE": "token", "ARGO_TOKEN": ""}, "no token is set"),
        ({"HERA_UTILS_ARGO_AUTH_MODE": "token-request", "ARGO_SERVICE_ACCOUNT": ""},
         "no service account"),
    ],
)
def test_auth_modes_missing_what_they_need_are_configuration_errors(emulated_env, monkeypatch,
                                                                    env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=message):
        ArgoServer.from_settings(None, hera_utils.parse_arguments([]))


def test_workflow_templates_are_replaced_and_cleared(emulated_env, args):
    from hera.workflows import Container, WorkflowTemplate

    argo = hera_utils.argo_server(None, args)
    for message in ("first", "second"):
        with WorkflowTemplate(name="greeter", entrypoint="main") as template:
            Container(name="main", image="alpine:3.20", command=["echo", message])
        hera_utils.create_or_update_workflow_template(template, argo)
    stored = emulated_env.argo.workflow_templates[(emulated_env.namespace, "greeter")]
    assert stored["spec"]["templates"][0]["container"]["command"] == ["echo", "second"]
    assert hera_utils.clear_workflow_template("greeter", argo) is True
    assert hera_utils.clear_workflow_template("greeter", argo) is False


def test_a_rejected_sso_token_is_said_to_have_expired(emulated_env, monkeypatch):
    monkeypatch.setenv("ARGO_TOKEN", "Bearer v2:ZXhwaXJlZC1zc28tc2Vzc2lvbi10b2tlbg==")
    server = ArgoServer.from_settings(None, hera_utils.parse_arguments([]))
    with pytest.raises(UnauthorizedError) as caught:
        server.list_workflows()
    assert "rejected the SSO token of argo_token (401): it has expired" in caught.value.message
    assert "log in to the Argo UI again" in caught.value.hint
    assert "v2:ZXhw" not in caught.value.one_line()


EXPIRED_SSO = "Bearer v2:ZXhwaXJlZC1zc28tc2Vzc2lvbi10b2tlbg=="


def test_a_rejected_argo_token_gives_way_to_a_requested_one_in_auto_mode(emulated_env, monkeypatch):
    monkeypatch.setenv("ARGO_TOKEN", EXPIRED_SSO)
    args = hera_utils.parse_arguments([])
    assert args.argo_auth_mode == "auto" and args.argo_service_account
    with pytest.warns(HeraUtilsWarning, match="rejected an SSO token from argo_token"):
        argo = hera_utils.argo_server(hera_utils.k8s_cluster(args), args)
    assert argo.tokens.mode == "token-request"
    assert argo.tokens.description.endswith(
        "in place of an SSO token from argo_token that the Argo Server rejected (401)")
    last = emulated_env.argo.requests.paths()[-1]
    assert last == f"/api/v1/workflows/{emulated_env.namespace}"
    assert emulated_env.argo.requests[-1].user.startswith("system:serviceaccount:")


def test_a_rejected_argo_token_stands_when_no_other_source_is_allowed(emulated_env, monkeypatch):
    monkeypatch.setenv("ARGO_TOKEN", EXPIRED_SSO)
    monkeypatch.setenv("HERA_UTILS_ARGO_AUTH_MODE", "token")
    args = hera_utils.parse_arguments([])
    with pytest.raises(UnauthorizedError, match="it has expired"):
        hera_utils.argo_server(hera_utils.k8s_cluster(args), args)


def test_a_rejected_argo_token_stands_when_the_cluster_refuses_tokens(emulated_env, monkeypatch):
    monkeypatch.setenv("ARGO_TOKEN", EXPIRED_SSO)
    emulated_env.k8s.faults.set("not-found", paths="/api/v1/namespaces/experiments/"
                                "serviceaccounts/argo-workflow/token")
    args = hera_utils.parse_arguments([])
    with pytest.raises(UnauthorizedError, match="it has expired") as caught:
        hera_utils.argo_server(hera_utils.k8s_cluster(args), args)
    assert isinstance(caught.value.__cause__, (ForbiddenError, NotFoundError))


def test_a_rejected_token_that_is_not_sso_stands_in_auto_mode(emulated_env, monkeypatch):
    monkeypatch.setenv("ARGO_TOKEN", "Bearer forged-token")
    args = hera_utils.parse_arguments([])
    with pytest.raises(UnauthorizedError):
        hera_utils.argo_server(hera_utils.k8s_cluster(args), args)


def _causes(error: BaseException) -> list[BaseException]:
    chain = []
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__
        chain.append(error)
    return chain


def test_a_tls_failure_keeps_the_ssl_error_as_its_cause(emulated_env, monkeypatch):
    import ssl

    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(TLSVerificationError) as caught:
        hera_utils.argo_server(None, hera_utils.parse_arguments([]))
    assert caught.value.__cause__ is not None
    assert any(isinstance(cause, ssl.SSLCertVerificationError)
               for cause in _causes(caught.value))
