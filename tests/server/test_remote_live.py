"""The remote SDK against a real ``cinch serve`` on 127.0.0.1 (a smoke subset), and the
examples of docs/server.md "The remote SDK" run as written against it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import cinchdb
from cinchdb.errors import AuthenticationError, PermissionDeniedError, TableNotFoundError
from cinchdb.models import Column

DOCS = Path(__file__).resolve().parents[2] / "docs" / "server.md"


def test_a_session_over_a_real_server(live_server, keys):
    created = keys.create(name="live")
    token = created.token
    with cinchdb.connect(url=live_server.url, api_key=token, tenant="a") as db:
        assert [t.name for t in db.list_tables()] == ["users"]
        db.add_column("users", Column(name="photo", type="BLOB"))
        row = db.insert("users", {"name": "ann", "age": 3, "photo": b"\x00\xff"})
        assert db.get("users", row["id"]) == row
        assert db.update("users", row["id"], {"age": 4})["age"] == 4
        assert db.query("SELECT name, photo FROM users") == [{"name": "ann", "photo": b"\x00\xff"}]
        assert db.kv.increment("hits") == 1 and db.kv.get("hits") == 1
        assert db.delete("users", row["id"]) == 1
        with pytest.raises(TableNotFoundError, match="Table 'ghost' does not exist"):
            db.get_table("ghost")
        with db.expecting_head():
            db.add_column("users", Column(name="nick"))
        assert [t.name for t in db.list_tenants()] == ["main", "a", "b"]
    reader = keys.create(scopes=["data:read"], name="reader").token
    with cinchdb.connect_api(live_server.url, reader) as db:
        assert db.query("SELECT count(*) AS n FROM users") == [{"n": 0}]
        with pytest.raises(PermissionDeniedError, match="lacks the scope 'data:write'"):
            db.insert("users", {"name": "x"})
    keys.revoke(created.info.id)
    with cinchdb.connect_api(live_server.url, token) as db, pytest.raises(AuthenticationError):
        db.list_tables()
    output = live_server.output()
    assert token not in output and reader not in output


def test_the_docs_examples_run_against_a_real_server(live_server, keys, capsys):
    # Fenced "py" (not "python"): tests/server/test_docs_server.py runs the one "python"
    # block of the doc, the raw HTTP example.
    section = DOCS.read_text().split("## The remote SDK", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```py\n(.*?)```", section, flags=re.DOTALL)
    assert blocks
    token = keys.create(name="docs").token
    for block in blocks:
        exec(compile(block, str(DOCS), "exec"), {"URL": live_server.url, "KEY": token})
    out = capsys.readouterr().out
    assert out == "[{'title': 'Hello'}]\nTable 'ghost' does not exist\n"
