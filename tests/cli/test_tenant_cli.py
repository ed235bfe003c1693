"""``cinch check`` naming what differs for a drifted tenant, ``cinch tenant repair``, and
``cinch tenant copy``/``rename`` of encrypted tenants with ``--key``, ``--key-file`` or the
environment. Exit codes and exact messages."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

import cinchdb

KEY = "vault-passphrase-1"


def ok(result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    assert KEY not in result.output
    return result.stdout


def error(result, line: str, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    assert line in result.stderr.splitlines(), result.stderr
    assert "Traceback" not in result.output and KEY not in result.output


@pytest.fixture
def acme(cinch, project):
    """A project whose tenant ``acme`` lost column users.plan behind CinchDB's back."""
    ok(cinch("table", "create", "users", "name:TEXT"))
    ok(cinch("tenant", "create", "acme"))
    ok(cinch("data", "insert", "users", '{"name": "ann"}', "-t", "acme"))
    ok(cinch("column", "add", "users", "plan:TEXT:not_null:default=free"))
    with cinchdb.connect(project_dir=project) as db:
        path = db._files.path("main", "acme")
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE users DROP COLUMN plan")
    conn.execute("CREATE TABLE scratch (x)")
    conn.commit()
    conn.close()
    return cinch


def test_check_names_each_difference_and_the_way_out(acme):
    result = acme("check")
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == [
        "drift: tenant 'acme' on 'main': schema differs from the journal",
        "  column users.plan: journal has TEXT NOT NULL DEFAULT 'free', file has no such column",
        "  table scratch: journal has no such table, file has scratch(x)",
        "  repair it with: cinch tenant repair acme -b main",
    ]
    ci_doc = (Path(__file__).resolve().parents[2] / "docs" / "ci.md").read_text()
    assert "```text\n" + result.stdout + "```" in ci_doc  # the guide shows this very output
    report = json.loads(acme("check", "--json").stdout)
    assert report["drift"][0]["differences"] == [
        {"kind": "column", "object": "column users.plan",
         "journal": "TEXT NOT NULL DEFAULT 'free'", "file": None},
        {"kind": "table", "object": "table scratch", "journal": None, "file": "scratch(x)"},
    ]  # fmt: skip


def test_tenant_repair_rebuilds_the_schema_and_keeps_rows(acme):
    assert ok(acme("tenant", "repair", "acme")).splitlines() == [
        "Repaired tenant 'acme' on branch 'main' (1 rows kept):",
        "  column users.plan",
        "  table scratch",
    ]
    assert ok(acme("check")).splitlines() == [
        "OK: journal intact, every tenant matches the journal"
    ]
    rows = json.loads(ok(acme("query", "SELECT name, plan FROM users", "-t", "acme", "--json")))
    assert rows == [{"name": "ann", "plan": "free"}]
    assert ok(acme("tenant", "repair", "acme")).splitlines() == [
        "Tenant 'acme' on branch 'main' matches the journal: nothing to repair"
    ]
    assert json.loads(ok(acme("tenant", "repair", "acme", "--json"))) == {
        "tenant": "acme", "branch": "main", "differences": [], "rows_kept": 0,
    }  # fmt: skip


def test_tenant_repair_refuses_to_lose_values(acme, project):
    with cinchdb.connect(project_dir=project) as db:
        path = db._files.path("main", "acme")
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO scratch VALUES (1)")
    conn.commit()
    conn.close()
    error(acme("tenant", "repair", "acme"),
          "Error: Tenant 'acme' on branch 'main' was not repaired: table scratch holds 1 rows and"
          " the journal has no such table. Nothing was changed; copy those rows or values out of"
          " the file (or remove them) and repair again")  # fmt: skip
    error(acme("tenant", "repair", "nope"),
          "Error: Tenant 'nope' does not exist in database 'main'")  # fmt: skip


@pytest.fixture
def vault(cinch, tmp_path):
    key_file = tmp_path / "vault.key"
    key_file.write_text(KEY + "\n")
    ok(cinch("table", "create", "users", "name:TEXT"))
    ok(cinch("tenant", "create", "vault", "--encrypt", "--key-file", str(key_file)))
    ok(cinch("data", "insert", "users", '{"name": "ann"}', "-t", "vault", "--key-file",
             str(key_file)))  # fmt: skip
    return cinch, key_file


def names(cinch, tenant: str, key_file) -> list[str]:
    out = ok(cinch("query", "SELECT name FROM users", "-t", tenant, "--json",
                   "--key-file", str(key_file)))  # fmt: skip
    return [row["name"] for row in json.loads(out)]


def encrypted(cinch) -> dict[str, bool]:
    return {t["name"]: t["encrypted"] for t in json.loads(ok(cinch("tenant", "list", "--json")))}


def test_copy_and_rename_of_an_encrypted_tenant_take_its_key(vault, monkeypatch):
    cinch, key_file = vault
    assert ok(cinch("tenant", "copy", "vault", "v2", "--key-file", str(key_file))) == (
        "Copied tenant 'vault' to 'v2'\n"
    )
    ok(cinch("tenant", "copy", "vault", "v3", "--key", "-", input=KEY + "\n"))
    ok(cinch("tenant", "rename", "v3", "v4", "--key", KEY))
    monkeypatch.setenv("CINCHDB_ENCRYPTION_KEY", KEY)
    ok(cinch("tenant", "rename", "v2", "v5"))
    ok(cinch("tenant", "copy", "main", "plain"))  # the environment's key is for encrypted ones
    monkeypatch.delenv("CINCHDB_ENCRYPTION_KEY")
    assert encrypted(cinch) == {"main": False, "plain": False, "v4": True, "v5": True,
                                "vault": True}  # fmt: skip
    for tenant in ("vault", "v4", "v5"):
        assert names(cinch, tenant, key_file) == ["ann"]
    error(cinch("tenant", "copy", "vault", "v6", "--key", "wrong"),
          "Error: Wrong encryption key for tenant 'vault'")  # fmt: skip
    error(cinch("tenant", "copy", "plain", "other", "--key", KEY),
          "Error: Tenant 'plain' is not encrypted; it takes no key")  # fmt: skip


def test_repair_of_an_encrypted_tenant_takes_its_key(vault, project):
    cinch, key_file = vault
    with cinchdb.connect(project_dir=project, tenant="vault", encryption_key=KEY) as db:
        db._files.connection("main", "vault").execute("CREATE TABLE stray (x)")
    error(cinch("tenant", "repair", "vault"),
          "Error: Tenant 'vault' is encrypted: give its key to repair it")  # fmt: skip
    out = ok(cinch("tenant", "repair", "vault", "--key-file", str(key_file)))
    assert out.splitlines()[1:] == ["  table stray"]
    assert names(cinch, "vault", key_file) == ["ann"]
