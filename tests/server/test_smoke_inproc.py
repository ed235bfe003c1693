from __future__ import annotations

from tests.server.conftest import B, T


def test_a_round_trip(client, admin) -> None:
    r = client.get(B + "/tables", headers=admin)
    assert r.status_code == 200, r.text
    assert [t["name"] for t in r.json()] == ["users"]
    assert r.headers["X-Cinch-Head"]
    r = client.post(T + "/rows/users", json={"rows": {"name": "ann", "age": 3}}, headers=admin)
    assert r.status_code == 200, r.text
    row = r.json()
    r = client.get(T + f"/rows/users/{row['id']}", headers=admin)
    assert r.json() == row
    r = client.post(T + "/query", json={"sql": "SELECT name FROM users"}, headers=admin)
    assert r.json() == [{"name": "ann"}]
