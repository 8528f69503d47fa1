"""No lost updates: an edit carries the revision it was based on; a stale one gets 409 and
never overwrites; of two edits made at once on the same revision exactly one wins."""

from __future__ import annotations

import threading

from fastapi.testclient import TestClient

from tests.support import signed_in_client


def make(client: TestClient) -> dict[str, object]:
    response = client.post("/api/decisions", json={"title": "Lake", "answers": {}})
    return dict(response.json())


def test_a_stale_edit_gets_409_and_changes_nothing(client: TestClient) -> None:
    d = make(client)
    first = client.patch(
        f"/api/decisions/{d['id']}", json={"owner": "alice", "revision": d["revision"]}
    )
    assert first.status_code == 200 and first.json()["revision"] == d["revision"] + 1  # type: ignore[operator]
    stale = client.patch(
        f"/api/decisions/{d['id']}", json={"owner": "bob", "revision": d["revision"]}
    )
    assert stale.status_code == 409
    assert "changed by someone else" in stale.json()["detail"]
    assert client.get(f"/api/decisions/{d['id']}").json()["owner"] == "alice"


def test_the_details_form_refuses_a_stale_save(client: TestClient) -> None:
    d = make(client)
    page = client.get(f"/decisions/{d['id']}").text
    assert f'name="revision" value="{d["revision"]}"' in page
    client.patch(f"/api/decisions/{d['id']}", json={"title": "Renamed elsewhere"})
    stale = client.post(
        f"/decisions/{d['id']}/details",
        data={"title": "Mine", "status": "draft", "revision": str(d["revision"])},
    )
    assert stale.status_code == 409 and "reload it" in stale.text
    assert client.get(f"/api/decisions/{d['id']}").json()["title"] == "Renamed elsewhere"


def test_two_concurrent_edits_on_the_same_revision_exactly_one_409(client: TestClient) -> None:
    d = make(client)
    app = client.app
    writers = [signed_in_client(app, role="architect", name=f"w{i}") for i in range(2)]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def edit(i: int) -> None:
        barrier.wait()
        response = writers[i].patch(
            f"/api/decisions/{d['id']}",
            json={
                "owner": f"writer-{i}",
                "answers": {"audit_key_usage": True} if i == 0 else {"dedicated_hsm": True},
                "revision": d["revision"],
            },
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=edit, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(statuses) == [200, 409]
    after = client.get(f"/api/decisions/{d['id']}").json()
    assert after["revision"] == d["revision"] + 1  # type: ignore[operator]
    winner = after["owner"]
    assert winner in ("writer-0", "writer-1")
    versions = client.get(f"/api/decisions/{d['id']}/versions").json()
    assert len(versions) == 2  # the loser's answers made no version
    for w in writers:
        w.close()
