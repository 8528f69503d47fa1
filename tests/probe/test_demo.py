"""`atrest demo`: the seeded account, the probe's verdict on it, the sample decision, the process.

The verdicts in app/demo/world.py are not trusted: every test that names a bucket's status runs the
real probe over HTTP against the seeded moto server and compares.
"""

from __future__ import annotations

import copy
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy.orm import Session

from app.advisor.evaluate import Engine
from app.core.config import Settings
from app.core.db import make_engine, upgrade_database
from app.decisions.service import get_decision
from app.demo import (
    SAMPLE_TITLE,
    SPECS,
    DemoBucket,
    DemoUnavailable,
    check_port,
    create_sample_decision,
    dummy_credentials,
    moto_fidelity,
    moto_server,
    sample_answers,
    seed,
)
from app.probe.runner import run_probe
from app.probe.target import Target
from tests.probe.conftest import REGION

ROOT = Path(__file__).resolve().parents[2]
BAD = ("fail", "warn", "unknown", "error")


def default_configuration(engine: Engine) -> dict[str, Any]:
    """sse-kms-cmk's configuration as `atrest probe --option sse-kms-cmk` uses it."""
    return copy.deepcopy(engine.ruleset.options["sse-kms-cmk"].configuration)


def decision_configuration(engine: Engine) -> dict[str, Any]:
    """The configuration the sample decision recommends."""
    recommendation = engine.evaluate(sample_answers()).data["recommendation"]
    return dict(recommendation["configuration"])


def probe(url: str, configuration: dict[str, Any], sample_objects: int = 0) -> dict[str, Any]:
    """The probe JSON for every bucket of the moto server at `url`."""
    target = Target(endpoint_url=url, region=REGION)
    return run_probe(
        option="sse-kms-cmk",
        configuration=configuration,
        target=target,
        sample_objects=sample_objects,
    )


def verdicts(report: dict[str, Any]) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    """Bucket name -> (Region, status, checks that fail or warn)."""
    return {
        b["bucket"]: (
            b["region"],
            b["status"],
            tuple(f["check"] for f in b["findings"] if f["status"] in BAD),
        )
        for b in report["buckets"]
    }


def _stated(bucket: DemoBucket) -> tuple[str, str, tuple[str, ...]]:
    """What the demo says of a bucket."""
    return bucket.region, bucket.expected_status, bucket.flagged


def expected(buckets: list[DemoBucket]) -> dict[str, tuple[str, str, tuple[str, ...]]]:
    return {b.name: _stated(b) for b in buckets}


@pytest.fixture
def demo(moto: str) -> Iterator[tuple[str, list[DemoBucket]]]:
    """The moto server, answering like S3, seeded with the demo's account."""
    with moto_fidelity():
        yield moto, seed(moto)


# The seeded account and the probe's verdict -----------------------------------------------------


@pytest.mark.parametrize("configuration", ["option default", "sample decision"])
def test_probe_verdict_on_every_demo_bucket_is_the_one_the_demo_states(
    demo: tuple[str, list[DemoBucket]], engine: Engine, configuration: str
) -> None:
    url, buckets = demo
    conf = (
        default_configuration(engine)
        if configuration == "option default"
        else decision_configuration(engine)
    )
    assert verdicts(probe(url, conf)) == expected(buckets)


def test_sampling_objects_changes_no_bucket_status(
    demo: tuple[str, list[DemoBucket]], engine: Engine
) -> None:
    url, buckets = demo
    report = probe(url, default_configuration(engine), sample_objects=5)
    statuses = {name: status for name, (_, status, _) in verdicts(report).items()}
    assert statuses == {b.name: _stated(b)[1] for b in buckets}
    samples = {
        b["bucket"]: f["status"]
        for b in report["buckets"]
        for f in b["findings"]
        if f["check"] == "object-sample"
    }
    # Objects written with the bucket's key pass; objects of SSE-S3 buckets fail.
    assert samples["atrest-demo-payments-records"] == "pass"
    assert samples["atrest-demo-payments-archive"] == "pass"
    assert samples["atrest-demo-marketing-assets"] == "fail"
    assert "unknown" not in samples.values()


def test_demo_shows_passing_warning_and_failing_buckets_in_two_regions() -> None:
    # Static: the seeded list itself (its truth is checked against the probe above).
    buckets = [s.bucket for s in SPECS]
    assert {b.expected_status for b in buckets} == {"pass", "warn", "fail"}
    assert {b.region for b in buckets} == {"eu-west-1", "us-east-1"}
    assert {b.region for b in buckets if b.expected_status == "pass"} == {
        "eu-west-1",
        "us-east-1",
    }
    assert len({b.name for b in buckets}) == len(buckets)
    assert all(b.description and b.name.startswith("atrest-demo-") for b in buckets)


def test_demo_findings_say_what_the_knowledge_says(
    demo: tuple[str, list[DemoBucket]], engine: Engine
) -> None:
    url, _ = demo
    report = probe(url, decision_configuration(engine))
    findings = {
        (b["bucket"].removeprefix("atrest-demo-"), f["check"]): f
        for b in report["buckets"]
        for f in b["findings"]
    }
    # No explicit configuration is SSE-S3 by default, never "unencrypted".
    assert findings[("marketing-assets", "default-encryption")]["actual"] == "AES256"
    # Imported key material cannot rotate automatically: not applicable, not a failure.
    assert findings[("partner-exchange", "kms-key-rotation")]["status"] == "not-applicable"
    assert findings[("partner-exchange", "kms-key-origin")]["actual"] == "EXTERNAL"
    # aws/s3 is AWS managed, whatever moto reports.
    assert findings[("crm-backups", "kms-key-manager")]["actual"] == "AWS"
    assert findings[("ledger-snapshots", "kms-key-state")]["actual"] == "Disabled"
    assert findings[("retired-reports", "kms-key-state")]["actual"] == "PendingDeletion"
    # The sample decision requires a key-use audit trail; the seeded trail satisfies it.
    assert findings[("payments-records", "audit-trail")]["status"] == "pass"
    assert findings[("payments-records", "audit-trail")]["actual"] == "atrest-demo-trail"


def test_moto_fidelity_is_undone_on_exit(moto: str) -> None:
    from moto.s3.models import FakeBucket
    from moto.s3.responses import S3Response

    before = (FakeBucket.get_permission, vars(S3Response).get("serialized"))
    with moto_fidelity():
        assert FakeBucket.get_permission is not before[0]
    assert (FakeBucket.get_permission, vars(S3Response).get("serialized")) == before


# The sample decision ----------------------------------------------------------------------------


def test_sample_answers_recommend_sse_kms_cmk_with_an_audit_trail(engine: Engine) -> None:
    result = engine.evaluate(sample_answers())
    assert result.option == "sse-kms-cmk"
    configuration = decision_configuration(engine)
    assert configuration["require_audit_trail"] is True
    # Otherwise the option's default, so both give the demo buckets the same verdicts.
    assert {**configuration, "require_audit_trail": False} == default_configuration(engine)


def test_create_sample_decision_saves_a_decision(tmp_path: Path, engine: Engine) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'demo.db'}")
    upgrade_database(settings)
    db = make_engine(settings)
    try:
        with Session(db) as session:
            decision_id = create_sample_decision(
                session=session,
                engine=engine,
                buckets=["atrest-demo-payments-records"],
                account="123456789012",
            )
            session.commit()
        with Session(db) as session:
            view = get_decision(session=session, decision_id=decision_id)
            assert view.decision.title == SAMPLE_TITLE
            assert view.decision.current_option == "sse-kms-cmk"
            assert view.decision.scope["buckets"] == ["atrest-demo-payments-records"]
            assert view.current is not None
            assert view.current.result["recommendation"]["option"] == "sse-kms-cmk"
    finally:
        db.dispose()


# The process ------------------------------------------------------------------------------------


def test_dummy_credentials_replace_the_callers_and_are_restored(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "production")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAREALKEY")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "real-token")
    with dummy_credentials():
        assert os.environ["AWS_ACCESS_KEY_ID"] == "demo"
        assert os.environ["AWS_SECRET_ACCESS_KEY"] == "demo"
        assert "AWS_PROFILE" not in os.environ
        assert "AWS_SESSION_TOKEN" not in os.environ
    assert os.environ["AWS_PROFILE"] == "production"
    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIAREALKEY"
    assert os.environ["AWS_SESSION_TOKEN"] == "real-token"


def test_a_taken_port_is_refused_with_a_clear_message() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(DemoUnavailable, match=f"cannot listen on 127.0.0.1:{port}.*--port"):
            check_port("127.0.0.1", port)


def test_missing_moto_is_refused_with_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "moto.server", None)
    with (
        pytest.raises(
            DemoUnavailable, match=re.escape("pip install -e '.[demo]' in the atrest checkout")
        ),
        moto_server(),
    ):
        pass


def free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return int(probe_socket.getsockname()[1])


def signed_in_opener(base: str, name: str, password: str) -> urllib.request.OpenerDirector:
    """A urllib opener with a cookie jar, signed in through the sign-in form as a person would."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
    with opener.open(f"{base}/signin", timeout=5) as response:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', response.read().decode())
    assert csrf is not None
    form = urlencode({"name": name, "password": password, "csrf_token": csrf[1]}).encode()
    with opener.open(f"{base}/signin", data=form, timeout=5) as response:
        assert response.status == 200  # followed the redirect home
    return opener


def get(opener: urllib.request.OpenerDirector, url: str) -> tuple[int, str]:
    with opener.open(url, timeout=5) as response:
        return response.status, response.read().decode()


def wait_for(lines: queue.Queue[str], pattern: str, deadline: float) -> re.Match[str]:
    """The first line of the process's output matching `pattern`."""
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            continue
        found = re.search(pattern, line)
        if found:
            return found
    raise AssertionError(f"no line matching {pattern!r} before the deadline")


def read_output(
    process: subprocess.Popen[str],
) -> tuple[queue.Queue[str], list[str], threading.Thread]:
    """The process's output line by line as it comes (a queue to wait on, a list of all of
    it), read by a daemon thread, which is returned too."""
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            lines.put(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    return lines, output, reader


def test_run_demo_serves_the_sample_decision_and_cleans_up(engine: Engine) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATREST_")}
    process = subprocess.Popen(
        [sys.executable, "-u", "-c", f"from app.demo import run_demo; run_demo(port={port})"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines, output, reader = read_output(process)
    try:
        deadline = time.monotonic() + 30
        decision = wait_for(
            lines, rf"sample decision\s+(http://127\.0\.0\.1:{port}/decisions/\d+)", deadline
        )
        moto_url = wait_for(lines, r"moto server\s+(http://127\.0\.0\.1:\d+)", deadline)[1]
        database = wait_for(lines, r"database\s+sqlite:///(\S+)", deadline)[1]
        account = wait_for(lines, r"Sign in as (\w+) \(admin\).*password (\S+)", deadline)
        wait_for(lines, r"Uvicorn running on", deadline)  # logged once it listens
        opener = signed_in_opener(f"http://127.0.0.1:{port}", account[1], account[2])
        assert get(opener, f"http://127.0.0.1:{port}/")[0] == 200
        status, page = get(opener, decision[1])
        assert status == 200
        assert SAMPLE_TITLE in page
        assert Path(database).exists()
        # The demo's own moto answers like S3: the probe's verdicts are the announced ones.
        with dummy_credentials():
            report = probe(moto_url, default_configuration(engine))
        announced = "".join(output)
        stated = {s.bucket.name: s.bucket for s in SPECS}
        for name, (region, status_, _) in verdicts(report).items():
            said = stated[name].expected_status
            assert re.search(rf"{said}\s+{region}\s+{name}\s", announced), name
            assert _stated(stated[name])[:2] == (region, status_), name
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=5)
    assert process.returncode == 0, "".join(output)
    assert "stopped" in output[-1]
    assert not Path(database).parent.exists()


def test_atrest_demo_takes_its_ports_from_the_environment_and_options() -> None:
    """`atrest demo` binds ATREST_PORT (not 8000) and the moto port given; make passes them."""
    from tests.support import COMMAND

    port, moto_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATREST_")}
    env["ATREST_PORT"] = str(port)
    process = subprocess.Popen(
        [*COMMAND, "demo", "--moto-port", str(moto_port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines, output, _ = read_output(process)
    try:
        deadline = time.monotonic() + 30
        wait_for(lines, rf"moto server\s+http://127\.0\.0\.1:{moto_port}\b", deadline)
        wait_for(lines, r"Uvicorn running on", deadline)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert response.status == 200
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, "".join(output)
    taken = subprocess.run(
        [*COMMAND, "demo", "--port", "0"], env=env, capture_output=True, text=True, timeout=60
    )
    assert taken.returncode == 2 and "--port" in taken.stderr and "Traceback" not in taken.stderr
    plan = subprocess.run(
        ["make", "-n", "run", "demo", "PORT=9123", "MOTO_PORT=9124"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "atrest serve --port 9123" in plan
    assert "atrest demo --port 9123 --moto-port 9124" in plan
