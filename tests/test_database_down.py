"""When the database cannot be reached: /healthz still answers 200 and /readyz 503, whatever
cookie or token the request carries (neither resolves the caller); every other page answers
503 with a page saying so, the API 503 with a JSON detail, never a bare 500. The app points at
a PostgreSQL port nobody listens on, or a SQLite file in a folder that does not exist; and at
a real PostgreSQL database reached through a relay that is then cut."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from app.core.config import Settings
from app.core.db import upgrade_database
from app.main import create_app
from tests.support import sign_in

if TYPE_CHECKING:
    from conftest import DatabaseFactory

SECRET = "s3cr3t-pass"
UNREACHABLE = {
    "postgresql": f"postgresql+psycopg://atrest:{SECRET}@127.0.0.1:1/atrest",
    "sqlite": "sqlite:////nonexistent-folder-atrest/atrest.db",
}
CREDENTIALS = (
    {"Cookie": "atrest_session=some-session-id"},
    {"Authorization": "Bearer atr_some-token"},
    {},
)


@pytest.fixture(params=sorted(UNREACHABLE), ids=sorted(UNREACHABLE))
def down(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    app = create_app(Settings(database_url=UNREACHABLE[request.param]))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    app.state.db.dispose()


@pytest.mark.parametrize("headers", CREDENTIALS, ids=["cookie", "token", "none"])
def test_health_probes_answer_whatever_the_request_carries(
    down: TestClient, headers: dict[str, str]
) -> None:
    health = down.get("/healthz", headers=headers)
    assert health.status_code == 200 and health.json()["status"] == "ok"
    ready = down.get("/readyz", headers=headers)
    assert ready.status_code == 503 and ready.json()["database"] == "unreachable"
    assert "set-cookie" not in health.headers and "set-cookie" not in ready.headers


def test_pages_answer_503_with_a_page_saying_the_database_is_unreachable(down: TestClient) -> None:
    page = down.get("/decisions", headers=CREDENTIALS[0])
    assert page.status_code == 503
    assert page.headers["content-type"].startswith("text/html")
    assert "database" in page.text and "try again" in page.text
    assert page.headers["retry-after"] == "5"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert SECRET not in page.text
    signin = down.post("/signin", data={"name": "ada", "password": "x"})  # anonymous
    assert signin.status_code in (403, 503)  # CSRF refuses it first, or the database
    fragment = down.get("/decisions", headers={**CREDENTIALS[0], "HX-Request": "true"})
    assert fragment.status_code == 503 and "<html" not in fragment.text


def test_the_api_answers_503_with_a_json_detail(down: TestClient) -> None:
    api = down.get("/api/decisions", headers=CREDENTIALS[1])
    assert api.status_code == 503
    assert api.json() == {
        "detail": "the database is unreachable or not answering: try again in a few seconds"
    }
    assert SECRET not in api.text


# A database that goes away while the app runs ----------------------------------------------


@contextmanager
def relay(target: tuple[str, int]) -> Iterator[tuple[int, threading.Event]]:
    """A TCP relay on a free loopback port to `target`; setting the event cuts every
    connection and refuses new ones (the database is gone)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    cut = threading.Event()
    pairs: list[socket.socket] = []

    def pump(source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for s in (source, sink):
            with suppress(OSError):
                s.close()

    def accept() -> None:
        while not cut.is_set():
            with suppress(OSError):
                client, _ = listener.accept()
                if cut.is_set():
                    client.close()
                    break
                upstream = socket.create_connection(target)
                pairs.extend((client, upstream))
                threading.Thread(target=pump, args=(client, upstream), daemon=True).start()
                threading.Thread(target=pump, args=(upstream, client), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()

    def close_all() -> None:
        cut.wait()
        listener.close()
        for s in pairs:
            with suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
                s.close()

    threading.Thread(target=close_all, daemon=True).start()
    try:
        yield listener.getsockname()[1], cut
    finally:
        cut.set()


def test_a_postgresql_database_lost_while_serving_gives_503_and_health_stays_200(
    database_factory: DatabaseFactory,
) -> None:
    url = make_url(database_factory.create("postgresql"))
    upgrade_database(Settings(database_url=url.render_as_string(hide_password=False)))
    with relay((url.host or "127.0.0.1", url.port or 5432)) as (port, cut):
        relayed = url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
        app = create_app(Settings(database_url=relayed))
        cookie, _ = sign_in(app, role="viewer")
        headers = {"Cookie": f"atrest_session={cookie}"}
        with TestClient(app, raise_server_exceptions=False) as client:
            assert client.get("/decisions", headers=headers).status_code == 200
            cut.set()
            assert client.get("/decisions", headers=headers).status_code == 503
            assert client.get("/api/decisions", headers=headers).status_code == 503
            assert client.get("/healthz", headers=headers).status_code == 200
            assert client.get("/readyz", headers=headers).status_code == 503
        app.state.db.dispose()
