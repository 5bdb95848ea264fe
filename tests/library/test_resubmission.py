"""A submission survives a lost reply and can be re-run without a duplicate; `follow` rides
out outages as long as its deadline allows (emulated Argo Server, real HTTPS)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hera.workflows import DAG, Container, Workflow, WorkflowsService

from hera_utils.argo import ArgoServer
from hera_utils.errors import (
    AccessError,
    ForbiddenError,
    MalformedAnswerError,
    RequestTimeoutError,
    ServerError,
    UnauthorizedError,
    UnreachableError,
    WorkflowFailedError,
)
from hera_utils.settings import parse_arguments
from hera_utils.submission import (
    MAX_POLL_BACKOFF,
    SUBMISSION_LABEL,
    UNCONFIRMED_DIR,
    Submitted,
    follow,
    submit_recorded,
    submit_workflow,
)


def small_workflow(image: str = "alpine:3") -> Workflow:
    with Workflow(generate_name="again-", entrypoint="main") as workflow:
        hello = Container(name="hello", image=image, command=["echo", "hi"])
        with DAG(name="main"):
            hello(name="hello-0")
            hello(name="hello-1")
    return workflow


@pytest.fixture
def argo(emulated_env) -> ArgoServer:
    return ArgoServer.from_settings(None, parse_arguments([]))


@pytest.fixture
def service(argo: ArgoServer) -> WorkflowsService:
    return argo.workflows_service()


class Recorder:
    """Submits through `submit_recorded` into one runs directory, keeping what it said."""

    def __init__(self, argo: ArgoServer, service: WorkflowsService, runs: Path) -> None:
        self.argo, self.service, self.runs = argo, service, runs
        self.said: list[str] = []

    def submit(self, workflow: Workflow | None = None) -> Submitted:
        return submit_recorded(
            self.service,
            workflow or small_workflow(),
            self.argo.namespace,
            timeout=self.argo.timeout,
            runs_dir=self.runs,
            rendered_yaml="kind: Workflow\n",
            inputs={"n": 1},
            project_dir=self.runs.parent,
            record={"namespace": self.argo.namespace, "argo_server": self.argo.url},
            ui_url=self.argo.ui_url,
            say=self.said.append,
        )

    def unconfirmed(self) -> list[Path]:
        root = self.runs / UNCONFIRMED_DIR
        return sorted(root.iterdir()) if root.is_dir() else []


@pytest.fixture
def recorder(argo, service, tmp_path) -> Recorder:
    return Recorder(argo, service, tmp_path / "runs")


def labels_of(emulated_env) -> list[str]:
    stored = emulated_env.argo.workflows.values()
    return [workflow["metadata"]["labels"][SUBMISSION_LABEL] for workflow in stored]


# -- submitting -------------------------------------------------------------------------------


def test_a_submission_carries_a_unique_label_and_is_recorded(emulated_env, recorder) -> None:
    first, second = recorder.submit(), recorder.submit()
    assert first.name != second.name and not first.reply_lost
    labels = labels_of(emulated_env)
    assert len(set(labels)) == 2 and all(len(label) == 32 for label in labels)
    provenance = json.loads(first.provenance.read_text())
    assert provenance["workflow"] == first.name and provenance["phase"] == "Submitted"
    assert provenance["submission"] in labels
    assert "state" not in provenance and "pid" not in provenance
    assert first.provenance.parent == recorder.runs / first.name
    assert sorted(path.name for path in recorder.runs.iterdir()) == sorted(
        [first.name, second.name]
    )


@pytest.mark.parametrize("fault", ["lost-reply", "truncated", "bad-gateway"])
def test_a_created_workflow_whose_reply_was_lost_is_found_by_its_label(
    emulated_env, recorder, fault
) -> None:
    emulated_env.argo.faults.set(fault, methods="POST", times=1)
    submitted = recorder.submit()
    assert submitted.reply_lost and not submitted.resumed
    assert [name for (_, name) in emulated_env.argo.workflows] == [submitted.name]
    assert any("looking the workflow up by its label" in line for line in recorder.said)
    assert json.loads(submitted.provenance.read_text())["reply_lost"] is True
    assert recorder.unconfirmed() == []


@pytest.mark.parametrize(
    ("fault", "error"),
    [("wrong-shape", MalformedAnswerError), ("malformed", MalformedAnswerError),
     ("error500", ServerError), ("drop", UnreachableError)],
)
def test_a_workflow_that_was_not_created_is_reported_so_and_a_rerun_creates_it_once(
    emulated_env, recorder, fault, error
) -> None:
    emulated_env.argo.faults.set(fault, methods="POST", times=1)
    with pytest.raises(error, match="the workflow was not created") as caught:
        recorder.submit()
    assert caught.value.exit_code == 3
    assert emulated_env.argo.workflows == {}
    (kept,) = recorder.unconfirmed()  # the record stays, for the re-run to look first
    again = recorder.submit()
    assert len(emulated_env.argo.workflows) == 1 and not again.resumed
    assert labels_of(emulated_env) == [json.loads(again.provenance.read_text())["submission"]]
    assert kept.name.endswith(labels_of(emulated_env)[0][:12])  # the same submission
    assert recorder.unconfirmed() == []


def test_a_timed_out_create_is_looked_up(emulated_env, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("HERA_UTILS_TIMEOUT", "0.5")
    argo = ArgoServer.from_settings(None, parse_arguments([]))
    recorder = Recorder(argo, argo.workflows_service(), tmp_path / "runs")
    emulated_env.argo.faults.set("hang", methods="POST", times=1)
    with pytest.raises(RequestTimeoutError, match="was not created"):
        recorder.submit()
    assert len(recorder.unconfirmed()) == 1


def test_when_the_lookup_fails_too_a_rerun_finds_the_workflow_instead_of_resubmitting(
    emulated_env, recorder
) -> None:
    emulated_env.argo.faults.set("lost-reply", methods="POST", times=1)
    emulated_env.argo.authorizer = lambda identity, verb, **where: verb != "list"
    with pytest.raises(UnreachableError, match="may or may not have been created") as caught:
        recorder.submit()
    assert "does not submit it twice" in caught.value.one_line()
    assert len(emulated_env.argo.workflows) == 1
    emulated_env.argo.authorizer = None  # the server answers lookups again
    again = recorder.submit()
    assert again.resumed and again.reply_lost
    assert [name for (_, name) in emulated_env.argo.workflows] == [again.name]
    assert recorder.unconfirmed() == []
    assert any("not submitting it again" in line for line in recorder.said)
    # Once confirmed, a new run is a new submission, as a user re-running means it.
    recorder.submit()
    assert len(emulated_env.argo.workflows) == 2


def test_another_workflow_does_not_adopt_an_unconfirmed_submission(emulated_env, recorder):
    emulated_env.argo.faults.set("lost-reply", methods="POST", times=1)
    emulated_env.argo.authorizer = lambda identity, verb, **where: verb != "list"
    with pytest.raises(UnreachableError):
        recorder.submit()
    emulated_env.argo.authorizer = None
    other = recorder.submit(small_workflow(image="alpine:3.20"))
    assert not other.resumed and len(emulated_env.argo.workflows) == 2
    assert len(recorder.unconfirmed()) == 1


def test_a_submission_still_being_sent_by_a_live_process_is_left_alone(
    emulated_env, recorder
) -> None:
    emulated_env.argo.faults.set("wrong-shape", methods="POST", times=1)
    with pytest.raises(MalformedAnswerError):
        recorder.submit()
    (kept,) = recorder.unconfirmed()
    provenance = kept / "provenance.json"
    document = json.loads(provenance.read_text())
    document.update(state="sending", pid=os.getpid())  # as a concurrent submit leaves it
    provenance.write_text(json.dumps(document))
    recorder.submit()
    assert len(recorder.unconfirmed()) == 1 and len(emulated_env.argo.workflows) == 1
    assert labels_of(emulated_env)[0] != document["submission"]


@pytest.mark.parametrize(
    ("setup", "error"),
    [(lambda c: c.tokens.revoke(c.user_token), UnauthorizedError),
     (lambda c: setattr(c.argo, "authorizer", lambda *a, **k: False), ForbiddenError),
     (lambda c: c.argo.stop(), UnreachableError)],
    ids=["401", "403", "refused"],
)
def test_a_refused_or_unsent_create_leaves_no_record(emulated_env, recorder, setup, error):
    setup(emulated_env)
    with pytest.raises(error) as caught:
        recorder.submit()
    assert "may" not in caught.value.message and "not created" not in caught.value.message
    assert recorder.unconfirmed() == []


def test_submit_workflow_reports_a_wrongly_shaped_answer(emulated_env, argo, service) -> None:
    emulated_env.argo.faults.set("wrong-shape", methods="POST")
    with pytest.raises(MalformedAnswerError, match="JSON that is not what its API returns"):
        submit_workflow(service, small_workflow(), argo.namespace, timeout=5)


# -- following --------------------------------------------------------------------------------


class FakeTime:
    """A clock that moves only when slept on, so that outages cost no real time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def follow_fake(service, name, namespace, fake: FakeTime, notices: list[str], timeout: float):
    return follow(service, name, namespace, timeout=timeout, request_timeout=5,
                  poll_interval=1.0, notice=notices.append, clock=fake.clock, sleep=fake.sleep)


@pytest.mark.parametrize("fault", ["error500", "drop", "bad-gateway"])
def test_follow_rides_out_a_long_outage_with_backoff(emulated_env, argo, service, fault):
    name = submit_workflow(service, small_workflow(), argo.namespace, timeout=5)
    emulated_env.argo.faults.set(fault, methods="GET", times=12)
    fake, notices = FakeTime(), []
    final = follow_fake(service, name, argo.namespace, fake, notices, timeout=3600)
    assert final.phase == "Succeeded"
    outage = fake.sleeps[:12]
    assert outage == sorted(outage) and outage[0] == 1.0 and max(outage) == MAX_POLL_BACKOFF
    assert sum("no answer from the Argo Server" in line for line in notices) == 12, notices
    assert "answers again" in notices[12]


def test_follow_stops_at_its_deadline_during_an_outage_with_an_access_error(
    emulated_env, argo, service
) -> None:
    name = submit_workflow(service, small_workflow(), argo.namespace, timeout=5)
    emulated_env.argo.faults.set("error500", methods="GET")
    fake, notices = FakeTime(), []
    with pytest.raises(ServerError, match=r"stopped waiting for workflow .* after 100 s") as caught:
        follow_fake(service, name, argo.namespace, fake, notices, timeout=100)
    assert caught.value.exit_code == 3 and "--wait-timeout" in caught.value.hint
    assert fake.now == pytest.approx(100)


def test_a_workflow_deleted_while_followed_is_reported_as_deleted(
    emulated_env, argo, service
) -> None:
    emulated_env.argo.running_polls = 5
    emulated_env.argo.delete_after_reads = 2
    name = submit_workflow(service, small_workflow(), argo.namespace, timeout=5)
    with pytest.raises(WorkflowFailedError, match="was deleted while it was followed") as caught:
        follow_fake(service, name, argo.namespace, FakeTime(), [], timeout=3600)
    assert "ARGO_BASE_HREF" not in caught.value.one_line()
    assert "last phase: Running" in caught.value.message


@pytest.mark.parametrize("fault", ["wrong-shape", "malformed"])
def test_a_wrongly_shaped_poll_answer_is_an_access_error_at_once(
    emulated_env, argo, service, fault
) -> None:
    name = submit_workflow(service, small_workflow(), argo.namespace, timeout=5)
    emulated_env.argo.faults.set(fault, methods="GET")
    with pytest.raises(MalformedAnswerError) as caught:
        follow_fake(service, name, argo.namespace, FakeTime(), [], timeout=3600)
    assert isinstance(caught.value, AccessError) and caught.value.exit_code == 3
    assert "Error" not in caught.value.message  # no library class names
