"""Probe runs from the web app: started from a decision against a configured target (moto),
run in the background, saved with their findings, compared, filtered, linked to tickets.

Real parts: the app through TestClient on SQLite and PostgreSQL, the probe's background
worker thread, and the moto server over HTTP.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.decisions.models import utcnow
from app.decisions.service import start_draft
from app.main import create_app
from app.probe import background
from app.probe.records import ProbeRun
from app.probe.service import DEFAULT_LEASE, interrupt_stale_runs
from app.probe.target import Target
from tests.probe.conftest import REGION
from tests.support import signed_in_client

HTMX = {"HX-Request": "true"}
ANSWERS = {"audit_key_usage": True}  # recommends sse-kms-cmk with an audit trail
RUN_TIMEOUT_S = 60


@pytest.fixture
def web(settings: Settings, moto: str) -> Iterator[TestClient]:
    """The app with two configured targets: moto, and an endpoint nothing listens on."""
    targets = [
        Target(name="moto", label="Test account (moto)", endpoint_url=moto, region=REGION),
        Target(name="down", label="Unreachable", endpoint_url="http://127.0.0.1:9", region=REGION),
    ]
    app = create_app(settings.model_copy(update={"probe_targets": targets}))
    with signed_in_client(app, role="admin") as client:
        yield client
    app.state.db.dispose()


def count(client: TestClient, table: str) -> int:
    with client.app.state.db.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(text(f"select count(*) from {table}")).scalar_one())


def new_decision(client: TestClient, answers: dict[str, Any] | None = None) -> int:
    response = client.post(
        "/api/decisions",
        json={"title": "Data lake", "answers": ANSWERS if answers is None else answers},
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def wait_for(client: TestClient, decision_id: int, run_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while time.monotonic() < deadline:
        report = client.get(f"/api/decisions/{decision_id}/probes/{run_id}").json()
        if report["run"]["status"] not in ("queued", "running"):
            return dict(report)
        time.sleep(0.2)
    pytest.fail(f"run {run_id} did not finish in {RUN_TIMEOUT_S} s")


def start(client: TestClient, decision_id: int, target: str = "moto") -> int:
    response = client.post(
        f"/decisions/{decision_id}/probes", data={"target": target}, follow_redirects=False
    )
    assert response.status_code == 303, response.text
    return int(response.headers["location"].rstrip("/").rsplit("/", 1)[-1])


def default_encryption(report: dict[str, Any]) -> dict[str, str]:
    return {
        b["bucket"]: next(f["status"] for f in b["findings"] if f["check"] == "default-encryption")
        for b in report["buckets"]
    }


@pytest.fixture
def world(setup_client: Callable[..., Any]) -> Callable[..., None]:
    """Arrange buckets: name -> "sse-s3" (no configuration) or "kms" (a customer key)."""
    s3, kms = setup_client("s3"), setup_client("kms")
    key = kms.create_key(Description="data lake")["KeyMetadata"]["KeyId"]

    def arrange(**buckets: str) -> None:
        for name, kind in buckets.items():
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
            if kind == "kms":
                s3.put_bucket_encryption(
                    Bucket=name,
                    ServerSideEncryptionConfiguration={
                        "Rules": [
                            {
                                "ApplyServerSideEncryptionByDefault": {
                                    "SSEAlgorithm": "aws:kms",
                                    "KMSMasterKeyID": key,
                                },
                                "BucketKeyEnabled": True,
                            }
                        ]
                    },
                )

    return arrange


def test_a_run_started_on_the_decision_page_is_saved_with_its_findings(
    web: TestClient, world: Callable[..., None]
) -> None:
    world(**{"lake-raw": "sse-s3", "lake-curated": "kms"})
    decision = new_decision(web)
    page = web.get(f"/decisions/{decision}").text
    assert "Live probe" in page and 'value="moto"' in page
    run = start(web, decision)
    report = wait_for(web, decision, run)
    assert report["run"]["status"] == "done"
    assert report["run"]["total"] == report["run"]["done"] == 2
    assert default_encryption(report) == {"lake-curated": "pass", "lake-raw": "fail"}
    assert report["expected"]["option"] == "sse-kms-cmk"
    assert report["summary"]["buckets"] == 2
    assert count(web, "probe_buckets") == 2
    assert count(web, "probe_findings") == sum(len(b["findings"]) for b in report["buckets"])
    html = web.get(f"/decisions/{decision}/probes/{run}").text
    assert "lake-raw" in html and "lake-curated" in html
    assert "aws s3api put-bucket-encryption" in html  # a remediation snippet per finding
    assert f"/decisions/{decision}/probes/{run}" in web.get(f"/decisions/{decision}").text


def test_only_configured_targets_can_be_probed(web: TestClient) -> None:
    decision = new_decision(web)
    response = web.post(
        f"/decisions/{decision}/probes",
        data={"target": "http://evil.example:4566", "endpoint_url": "http://evil.example"},
        follow_redirects=False,
    )
    assert response.status_code == 422
    assert "is not a configured target" in response.text and "moto, down" in response.text
    assert count(web, "probe_runs") == 0
    api = web.post(f"/api/decisions/{decision}/probes", params={"target": "nope"})
    assert api.status_code == 422
    assert api.json()["detail"][0]["loc"] == ["body", "target"]
    assert api.json()["detail"][0]["input"] == "nope"


def test_a_decision_without_a_recommendation_cannot_be_probed(web: TestClient) -> None:
    with Session(web.app.state.db) as session:  # type: ignore[attr-defined]
        decision = start_draft(session=session, title="Questionnaire not finished").id
        session.commit()
    refused = web.post(f"/decisions/{decision}/probes", data={"target": "moto"})
    assert refused.status_code == 422
    assert "no recommendation" in refused.text
    assert count(web, "probe_runs") == 0


def test_an_unreachable_target_gives_a_failed_run_with_the_reason(web: TestClient) -> None:
    decision = new_decision(web)
    report = wait_for(web, decision, start(web, decision, target="down"))
    assert report["run"]["status"] == "failed"
    assert "cannot" in report["run"]["error"]
    page = web.get(f"/decisions/{decision}/probes/{report['run']['id']}").text
    assert "The probe failed." in page


def test_the_second_run_says_what_is_new_fixed_and_unchanged(
    web: TestClient, world: Callable[..., None], setup_client: Callable[..., Any]
) -> None:
    world(**{"lake-raw": "sse-s3", "lake-logs": "sse-s3"})
    decision = new_decision(web)
    first = start(web, decision)
    wait_for(web, decision, first)
    # lake-raw gets its encryption fixed; a new bucket arrives without it.
    key = setup_client("kms").create_key()["KeyMetadata"]["KeyId"]
    setup_client("s3").put_bucket_encryption(
        Bucket="lake-raw",
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key,
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    world(**{"lake-new": "sse-s3"})
    second = start(web, decision)
    wait_for(web, decision, second)
    html = web.get(f"/decisions/{decision}/probes/{second}").text
    assert f"run #{first}" in html
    assert "lake-raw</code> · default-encryption (was fail)" in html  # fixed
    new_only = web.get(f"/decisions/{decision}/probes/{second}", params={"change": "new"}).text
    assert "lake-new" in new_only and "lake-logs" not in new_only
    same = web.get(f"/decisions/{decision}/probes/{second}", params={"change": "unchanged"}).text
    assert "lake-logs" in same and "lake-new" not in same


def test_results_filter_by_status_check_and_name(
    web: TestClient, world: Callable[..., None]
) -> None:
    world(**{"alpha-raw": "sse-s3", "beta-kms": "kms", "gamma-raw": "sse-s3"})
    decision = new_decision(web)
    run = start(web, decision)
    wait_for(web, decision, run)
    url = f"/decisions/{decision}/probes/{run}"
    by_check = web.get(url, params={"check": "default-encryption"}, headers=HTMX)
    assert by_check.status_code == 200
    assert by_check.text.lstrip().startswith('<section id="probe-results"')
    assert "alpha-raw" in by_check.text and "gamma-raw" in by_check.text
    assert "beta-kms" not in by_check.text
    named = web.get(url, params={"q": "gamma"}).text
    assert "gamma-raw" in named and "alpha-raw" not in named
    nothing = web.get(url, params={"status": "pass", "q": "zzz"}).text
    assert "No bucket matches these filters." in nothing


def test_a_finding_is_linked_to_a_ticket_that_follows_it_to_the_next_run(
    web: TestClient, world: Callable[..., None]
) -> None:
    world(**{"lake-raw": "sse-s3"})
    decision = new_decision(web)
    run = start(web, decision)
    wait_for(web, decision, run)
    form = {
        "bucket": "lake-raw",
        "check": "default-encryption",
        "run_id": str(run),
        "url": "https://acme.atlassian.net/browse/SEC-77",
    }
    linked = web.post(f"/decisions/{decision}/findings/tickets", data=form, headers=HTMX)
    assert linked.status_code == 200
    assert "jira SEC-77" in linked.text
    again = web.post(f"/decisions/{decision}/findings/tickets", data=form, headers=HTMX)
    assert again.status_code == 422 and "already linked" in again.text
    bad = web.post(
        f"/decisions/{decision}/findings/tickets",
        data={**form, "url": "ftp://tickets/1"},
        follow_redirects=False,
    )
    assert bad.status_code == 422
    assert count(web, "finding_tickets") == 1
    later = start(web, decision)
    wait_for(web, decision, later)
    assert "jira SEC-77" in web.get(f"/decisions/{decision}/probes/{later}").text
    ticket_id = web.get(f"/decisions/{decision}/probes/{later}").text.split("/findings/tickets/")[1]
    removed = web.post(
        f"/decisions/{decision}/findings/tickets/{ticket_id.split('/')[0]}/delete",
        data={"run_id": str(later)},
        follow_redirects=False,
    )
    assert removed.status_code == 303
    assert count(web, "finding_tickets") == 0


def test_the_api_starts_a_run_and_returns_the_probe_json(
    web: TestClient, world: Callable[..., None]
) -> None:
    world(**{"lake-raw": "sse-s3"})
    decision = new_decision(web)
    started = web.post(f"/api/decisions/{decision}/probes", params={"target": "moto"})
    assert started.status_code == 202
    assert started.headers["location"].endswith(
        f"/api/decisions/{decision}/probes/{started.json()['id']}"
    )
    report = wait_for(web, decision, started.json()["id"])
    assert set(report) == {"run", "expected", "target", "buckets", "summary"}
    assert report["target"]["account"] == "123456789012"


def test_a_second_run_of_a_busy_target_is_refused(web: TestClient) -> None:
    decision = new_decision(web)
    with Session(web.app.state.db) as session:  # type: ignore[attr-defined]
        session.add(
            ProbeRun(
                decision_id=decision,
                decision_version=1,
                target_name="moto",
                target_title="moto",
                option="sse-kms-cmk",
                configuration={},
                status="running",
            )
        )
        session.commit()
    refused = web.post(f"/api/decisions/{decision}/probes", params={"target": "moto"})
    assert refused.status_code == 409
    assert "still running" in refused.json()["detail"]


def test_runs_left_running_by_a_stopped_app_are_marked_interrupted(web: TestClient) -> None:
    decision = new_decision(web)
    old = utcnow() - DEFAULT_LEASE - dt.timedelta(seconds=5)
    with Session(web.app.state.db) as session:  # type: ignore[attr-defined]
        for beat in (old, utcnow()):
            session.add(
                ProbeRun(
                    decision_id=decision,
                    decision_version=1,
                    target_name=f"t{beat.second}",
                    target_title="t",
                    option="sse-kms-cmk",
                    configuration={},
                    status="running",
                    heartbeat_at=beat,
                )
            )
        session.commit()
        assert interrupt_stale_runs(session=session) == 1
        session.commit()
        statuses = sorted(r.status for r in session.query(ProbeRun).all())
    assert statuses == ["interrupted", "running"]


def test_shutdown_marks_runs_still_waiting_for_a_worker_as_interrupted(
    web: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worker's bookkeeping only: the run in progress is held by a gate instead of a probe.
    gate = threading.Event()
    monkeypatch.setattr(background, "execute_run", lambda **_: "done" if gate.wait(10) else "")
    decision = new_decision(web)
    ids = []
    with Session(web.app.state.db) as session:  # type: ignore[attr-defined]
        for name in ("first", "second"):
            run = ProbeRun(
                decision_id=decision,
                decision_version=1,
                target_name=name,
                target_title=name,
                option="sse-kms-cmk",
                configuration={},
                status="queued",
            )
            session.add(run)
            session.flush()
            ids.append(run.id)
        session.commit()
    workers = background.ProbeWorkers(web.app.state.sessions, workers=1)  # type: ignore[attr-defined]
    target = Target(name="moto")
    workers.submit(ids[0], target)
    workers.submit(ids[1], target)
    threading.Timer(0.5, gate.set).start()
    workers.shutdown()
    with Session(web.app.state.db) as session:  # type: ignore[attr-defined]
        statuses = [session.get(ProbeRun, i).status for i in ids]  # type: ignore[union-attr]
    assert statuses == ["queued", "interrupted"]
