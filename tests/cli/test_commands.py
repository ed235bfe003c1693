"""Every command through click's runner: exit codes, output, and the exact error line."""

from __future__ import annotations

import json

import pytest

from cinchdb.cli import EXIT_CONFLICT


def ok(result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def error(result, line: str, code: int = 1) -> None:
    assert result.exit_code == code, result.output
    assert line in result.stderr.splitlines(), result.stderr
    assert "Traceback" not in result.output


@pytest.fixture
def users(cinch):
    ok(cinch("table", "create", "users", "name:TEXT:not_null", "email:TEXT:unique",
             "age:INTEGER:default=0"))  # fmt: skip
    return cinch


def test_init_and_status(cinch, project, runner, tmp_path):
    status = json.loads(ok(cinch("status", "--json")))
    assert status["database"] == "main" and status["branch"] == "main"
    assert status["project"] == str(project)
    error(cinch("init", str(project)), f"Error: A CinchDB project already exists in {project}")


def test_outside_a_project_says_to_run_init(runner, tmp_path, monkeypatch):
    from cinchdb.cli import cli

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CINCHDB_PROJECT_DIR", raising=False)
    result = runner.invoke(cli, ["table", "list"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith("Error: No CinchDB project found")
    assert "cinch init" in result.stderr


def test_db_commands(cinch):
    ok(cinch("db", "create", "analytics"))
    assert [d["name"] for d in json.loads(ok(cinch("db", "list", "--json")))] == [
        "analytics", "main"]  # fmt: skip
    ok(cinch("db", "switch", "analytics"))
    assert json.loads(ok(cinch("status", "--json")))["database"] == "analytics"
    info = json.loads(ok(cinch("db", "info", "main", "--json")))
    assert info["branches"] == ["main"] and info["tenants"] == ["main"]
    ok(cinch("db", "switch", "main"))
    ok(cinch("db", "delete", "analytics", "--yes"))
    error(
        cinch("db", "switch", "ghost"), "Error: Database 'ghost' does not exist (databases: main)"
    )
    error(cinch("db", "create", "bad-name"),
          "Error: Invalid database name 'bad-name': use letters, digits and '_',"
          " starting with a letter or digit")  # fmt: skip


def test_branch_create_switches_by_default(users):
    cinch = users
    assert "switched to it" in ok(cinch("branch", "create", "feature"))
    assert json.loads(ok(cinch("status", "--json")))["branch"] == "feature"
    ok(cinch("branch", "create", "other", "--no-switch"))
    assert json.loads(ok(cinch("status", "--json")))["branch"] == "feature"
    names = [b["name"] for b in json.loads(ok(cinch("branch", "list", "--json")))]
    assert names == ["main", "feature", "other"]
    ok(cinch("branch", "switch", "main"))
    info = json.loads(ok(cinch("branch", "info", "feature", "--json")))
    assert info["branch"] == "feature" and info["tables"] == ["users"]
    ok(cinch("branch", "switch", "other"))
    ok(cinch("branch", "delete", "other", "--yes"))  # the active branch: back to main
    assert json.loads(ok(cinch("status", "--json")))["branch"] == "main"
    error(
        cinch("branch", "switch", "ghost"),
        "Error: Branch 'ghost' does not exist in database 'main'",
    )
    error(cinch("branch", "delete", "main", "--yes"), "Error: The main branch cannot be deleted")


def test_merge_commands_and_exit_codes(users):
    cinch = users
    ok(cinch("branch", "create", "feature"))
    ok(cinch("column", "add", "users", "plan:TEXT:default=free"))
    ok(cinch("branch", "switch", "main"))
    out = ok(cinch("merge", "feature", "--into", "main", "--check"))
    assert "Would merge 'feature' into 'main'" in out
    assert "fast-forward" in ok(cinch("branch", "merge-into-main", "feature"))
    ok(cinch("branch", "create", "views"))
    ok(cinch("view", "create", "adults", "SELECT name FROM users WHERE age >= 18"))
    ok(cinch("branch", "switch", "main"))
    ok(cinch("column", "drop", "users", "age", "--yes"))
    check = cinch("merge", "views", "--check")
    assert check.exit_code == EXIT_CONFLICT
    assert "dependency: View adults (ViewCreated) uses column 'users.age'" in check.stderr
    merged = cinch("branch", "merge", "views", "--into", "main")
    assert merged.exit_code == EXIT_CONFLICT
    assert merged.stderr.startswith("Error: 1 conflict(s) merging 'views' into 'main'")
    as_json = cinch("merge", "views", "--check", "--json")
    assert as_json.exit_code == EXIT_CONFLICT
    assert json.loads(as_json.stdout)["conflicts"][0]["kind"] == "dependency"


def test_log_diff_migrate_revert(users):
    cinch = users
    ok(cinch("migrate", "CREATE INDEX idx_users_age ON users (age)"))
    ok(cinch("column", "rename", "users", "email", "mail"))
    events = json.loads(ok(cinch("log", "--json")))
    assert [e["summary"] for e in events][:2] == [
        "rename column users.email to mail", "create index idx_users_age on users"]  # fmt: skip
    blame = ok(cinch("log", "users.mail"))
    assert "rename column users.email to mail" in blame and "create table users" in blame
    assert ok(cinch("log", "--graph", "-n", "1")).startswith("* ")
    diff = ok(cinch("diff", "main~2", "main")).splitlines()
    assert diff[0].startswith("# main~2..main: main~2 (")
    assert diff[1:] == ["rename column users.email to mail",
                        "create index idx_users_age on users"]  # fmt: skip
    sql = ok(cinch("diff", "main~1", "main", "--format", "sql")).splitlines()
    assert sql[0].startswith("-- main~1..main") and sql[1].startswith('ALTER TABLE "users" RENAME')
    assert json.loads(ok(cinch("diff", "main", "main", "--format", "json")))["operations"] == []
    assert cinch("diff", "main~1", "main", "--exit-code").exit_code == 1
    assert cinch("diff", "main", "main", "--exit-code").exit_code == 0
    ok(cinch("revert", events[0]["id"][:8]))
    assert "email" in ok(cinch("table", "info", "users"))
    error(
        cinch("migrate", "VACUUM"),
        "Error: Unsupported statement 'VACUUM': only CREATE/ALTER/DROP of tables, indexes,"
        " views and triggers are schema changes, and INSERT/UPDATE/DELETE data steps, found"
        " 'VACUUM' (line 1, column 1) in statement: VACUUM",
    )
    error(
        cinch("revert", "zzzz"),
        "Error: Branch 'zzzz' does not exist in database 'main'",
    )


def test_lint_and_check(users):
    cinch = users
    ok(cinch("branch", "create", "feature"))
    ok(cinch("column", "drop", "users", "age", "--yes"))
    ok(cinch("index", "create", "idx_name", "users", "name", "--unique"))
    result = cinch("lint", "main..feature", "--json")
    assert result.exit_code == 1
    judged = json.loads(result.stdout)
    assert sorted(f["kind"] for f in judged["findings"]) == ["drop_column", "unique_index"]
    assert (judged["range"], judged["kind"], len(judged["events"])) == (
        "main..feature", "introduced", 2)  # fmt: skip
    assert cinch("lint", "main..main").exit_code == 0
    error(
        cinch("lint", "main"),
        "Error: Invalid value for RANGE: expected A..B, e.g. main..feature",
        2,
    )
    assert "OK: journal intact" in ok(cinch("check"))


def test_check_finds_drift(users, project):
    import sqlite3

    cinch = users
    ok(cinch("data", "insert", "users", '{"name": "ann"}'))
    path = next(p for p in (project / ".cinchdb").rglob("main.db"))
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE sneaky (x)")
    conn.commit()
    conn.close()
    result = cinch("check")
    assert result.exit_code == 1
    assert "drift: tenant 'main' on 'main': schema differs from the journal" in result.stdout


def test_table_column_index_view_commands(users):
    cinch = users
    tables = json.loads(ok(cinch("table", "list", "--json")))
    assert tables == [{"name": "users", "columns": 6, "indexes": 0}]
    info = json.loads(ok(cinch("table", "info", "users", "--json")))
    assert [c["name"] for c in info["columns"]][1:4] == ["name", "email", "age"]
    ok(cinch("column", "alter", "users", "age", "--not-null", "--default", "1"))
    ok(cinch("index", "create", "idx_age", "users", "age"))
    assert json.loads(ok(cinch("index", "list", "users", "--json")))[0]["name"] == "idx_age"
    ok(cinch("index", "drop", "idx_age"))
    ok(cinch("view", "create", "named", "SELECT name FROM users"))
    assert json.loads(ok(cinch("view", "list", "--json")))[0]["name"] == "named"
    assert ok(cinch("view", "info", "named")).strip() == "SELECT name FROM users"
    ok(cinch("view", "update", "named", "SELECT name, age FROM users"))
    ok(cinch("view", "delete", "named"))
    ok(cinch("table", "rename", "users", "people"))
    ok(cinch("table", "delete", "people", "--yes"))
    error(cinch("table", "info", "ghost"), "Error: Table 'ghost' does not exist")
    error(cinch("table", "create", "t", "x:WEIRD"),
          "Error: Invalid value for 'COLUMNS...': 'x:WEIRD': Unknown column type 'WEIRD'; use"
          " one of TEXT, INTEGER, REAL, BLOB, NUMERIC, BOOLEAN (or an alias such as int, str,"
          " float, bool) or an SQL type such as DATETIME, DATE, BIGINT, VARCHAR(255),"
          " DECIMAL(10,2)", 2)  # fmt: skip
    error(cinch("table", "create", "sqlite_x", "a:TEXT"),
          "Error: Invalid table name 'sqlite_x': names starting with 'sqlite_' or '__' are"
          " reserved")  # fmt: skip
    error(cinch("column", "add", "ghost", "a:TEXT"), "Error: Table 'ghost' does not exist")


def test_tenant_commands(users):
    cinch = users
    ok(cinch("tenant", "create", "customer_a"))
    ok(cinch("tenant", "create", "customer_b", "--no-lazy"))
    names = [t["name"] for t in json.loads(ok(cinch("tenant", "list", "--json")))]
    assert names == ["main", "customer_a", "customer_b"]
    ok(cinch("data", "insert", "users", '{"name": "ann"}', "--tenant", "customer_a"))
    ok(cinch("tenant", "copy", "customer_a", "copy_a"))
    rows = json.loads(ok(cinch("query", "SELECT name FROM users", "-t", "copy_a", "--json")))
    assert rows == [{"name": "ann"}]
    ok(cinch("tenant", "rename", "copy_a", "renamed"))
    status = {s["name"]: s for s in json.loads(ok(cinch("tenant", "status", "--json")))}
    assert status["customer_a"]["materialized"] and not status["main"]["materialized"]
    assert json.loads(ok(cinch("tenant", "sync", "--json")))["events_applied"] == 0
    ok(cinch("tenant", "delete", "renamed", "--yes"))
    error(cinch("query", "SELECT 1", "--tenant", "ghost"),
          "Error: Tenant 'ghost' does not exist in database 'main'")  # fmt: skip
    error(cinch("tenant", "create", "../evil"),
          "Error: Invalid tenant name '../evil': use letters, digits, '_' and '-', starting"
          " with a letter or digit")  # fmt: skip
    ok(cinch("tenant", "create", "vault", "--encrypt", "--key", "k1"))
    ok(cinch("data", "insert", "users", '{"name": "secret"}', "-t", "vault", "--key", "k1"))
    error(cinch("query", "SELECT name FROM users", "-t", "vault", "--key", "nope"),
          "Error: Wrong encryption key for tenant 'vault'")  # fmt: skip
    error(cinch("query", "SELECT name FROM users", "-t", "vault"),
          "Error: Tenant 'vault' is encrypted: give its key (encryption_key=, --key or"
          " CINCHDB_ENCRYPTION_KEY)")  # fmt: skip
    error(cinch("tenant", "create", "v2", "--encrypt"),
          "Error: --encrypt needs --key (or $CINCHDB_ENCRYPTION_KEY)", 2)  # fmt: skip
    error(cinch("tenant", "create", "v3", "--key", "k"),
          "Error: --key encrypts only together with --encrypt", 2)  # fmt: skip
    status = {s["name"]: s for s in json.loads(ok(cinch("tenant", "status", "--json")))}
    assert status["vault"]["needs_key"] and status["vault"]["behind"] is None


def test_query_and_data(users):
    cinch = users
    stored = json.loads(ok(cinch("data", "insert", "users", '{"name": "ann", "age": 3}',
                                 '{"name": "bob"}', "--json")))  # fmt: skip
    assert [r["name"] for r in stored] == ["ann", "bob"]
    rows = json.loads(ok(cinch("query", "SELECT name, age FROM users ORDER BY name", "--json")))
    assert rows == [{"name": "ann", "age": 3}, {"name": "bob", "age": 0}]
    csv = ok(cinch("query", "SELECT name FROM users ORDER BY name", "--format", "csv"))
    assert csv == "name\nann\nbob\n"
    assert "ann" in ok(cinch("query", "SELECT name FROM users", "--limit", "1"))
    assert json.loads(ok(cinch("query", "SELECT name FROM users WHERE age > ?", "--param", "1",
                               "--json"))) == [{"name": "ann"}]  # fmt: skip
    ok(cinch("data", "update", "users", stored[0]["id"], '{"age": 4}'))
    assert json.loads(ok(cinch("data", "delete", "users", stored[1]["id"], "--json"))) == {
        "deleted": 1}  # fmt: skip
    error(cinch("query", "DELETE FROM users"),
          "Error: 'cinch query' only runs reads (SELECT, WITH ... SELECT, EXPLAIN, VALUES);"
          " refused DELETE: use 'cinch data delete' to change data")  # fmt: skip
    error(cinch("query", "SELECT FROM"), 'Error: near "FROM": syntax error')
    error(
        cinch("data", "update", "users", "999", '{"age": 1}'),
        "Error: Record with ID '999' not found",
    )
    error(cinch("data", "insert", "users", "{not json"),
          "Error: Invalid value for 'ROWS...': not JSON: Expecting property name enclosed in double"
          " quotes: line 1 column 2 (char 1)", 2)  # fmt: skip


def test_traceback_flag_shows_the_traceback(cinch):
    from click.testing import CliRunner

    from cinchdb.cli import cli

    result = CliRunner().invoke(cli, ["--traceback", "table", "info", "ghost"])
    assert result.exit_code == 1 and result.exception is not None


def test_targets_from_config_environment_and_options(users, monkeypatch, tmp_path):
    cinch = users
    ok(cinch("branch", "create", "feature", "--no-switch"))
    ok(cinch("column", "add", "users", "extra:TEXT", "-b", "feature"))
    assert "extra" not in ok(cinch("table", "info", "users"))
    assert "extra" in ok(cinch("table", "info", "users", "--branch", "feature"))
    monkeypatch.setenv("CINCHDB_BRANCH", "feature")
    assert "extra" in ok(cinch("table", "info", "users"))
    assert "extra" not in ok(cinch("table", "info", "users", "-b", "main"))
    monkeypatch.delenv("CINCHDB_BRANCH")
    ok(cinch("db", "create", "other"))
    monkeypatch.setenv("CINCHDB_DATABASE", "other")
    assert json.loads(ok(cinch("table", "list", "--json"))) == []
    assert json.loads(ok(cinch("table", "list", "-d", "main", "--json")))[0]["name"] == "users"
    monkeypatch.delenv("CINCHDB_DATABASE")
    sql = tmp_path / "schema.sql"
    sql.write_text("CREATE TABLE t (id TEXT PRIMARY KEY);\nCREATE INDEX t_id ON t (id);")
    assert len(ok(cinch("migrate", "-f", str(sql))).splitlines()) == 2
    error(cinch("migrate", "CREATE TABLE u (a)", "-f", str(sql)),
          "Error: give the SQL as an argument or with -f FILE, not both", 2)  # fmt: skip


def test_kv_commands(cinch):
    ok(cinch("kv", "set", "config:timeout", "30"))
    ok(cinch("kv", "set", "user:1", '{"name": "Ann"}', "--ttl", "3600"))
    ok(cinch("kv", "set", "raw", "30", "--raw"))
    assert json.loads(ok(cinch("kv", "get", "config:timeout"))) == 30
    assert json.loads(ok(cinch("kv", "get", "raw", "--json"))) == "30"
    assert json.loads(ok(cinch("kv", "get", "user:1"))) == {"name": "Ann"}
    assert json.loads(ok(cinch("kv", "keys", "user:*", "--json"))) == ["user:1"]
    assert int(ok(cinch("kv", "ttl", "user:1"))) in (3599, 3600)
    assert ok(cinch("kv", "ttl", "config:timeout")).strip() == "-1"
    assert ok(cinch("kv", "incr", "views")).strip() == "1"
    assert ok(cinch("kv", "incr", "views", "5")).strip() == "6"
    assert "Deleted 1 key(s)" in ok(cinch("kv", "delete", "views", "nope"))
    error(cinch("kv", "get", "nope"), "Error: Key 'nope' not found")
    error(cinch("kv", "set", "key@#$", "1"), "Error: Invalid characters in key")
    error(
        cinch("kv", "incr", "user:1"), "Error: Cannot increment non-numeric value of key 'user:1'"
    )
    ok(cinch("tenant", "create", "other"))
    assert json.loads(ok(cinch("kv", "keys", "--json", "--tenant", "other"))) == []


def test_codegen_commands(users, project):
    cinch = users
    assert "python" in ok(cinch("codegen", "languages"))
    assert "Generated 4 python file(s)" in ok(cinch("codegen", "generate", "python", "models"))
    ok(cinch("codegen", "generate", "typescript", "ts"))
    assert "up to date" in ok(cinch("codegen", "check", "models"))
    ok(cinch("column", "add", "users", "nick:TEXT"))
    stale = cinch("codegen", "check", "models")
    assert stale.exit_code == 1 and stale.stderr.startswith("Stale: __init__.py, models.py")
    assert cinch("codegen", "check", "ts", "--language", "typescript").exit_code == 1
    error(cinch("codegen", "generate", "cobol", "x"),
          "Error: Invalid value for '{python|typescript}': 'cobol' is not one of 'python',"
          " 'typescript'.", 2)  # fmt: skip


def test_check_and_branch_reset_recover_a_broken_branch(users, project):
    """A journal holding an event SQLite refuses (written around the SDK): `check` names it
    and exits 1; `branch reset` moves the branch back; refusals exit 1 naming why."""
    from journal import JournalStore, parse

    cinch = users
    ok(cinch("data", "insert", "users", '{"name": "ann"}'))
    ok(cinch("column", "add", "users", "plan:TEXT"))  # tenant 'main' applies it
    good = json.loads(ok(cinch("log", "--json")))[0]["id"]
    with JournalStore(project / ".cinchdb" / "metadata.db") as store:
        [bad] = store.append("main", "main", parse("CREATE INDEX i ON users (random())"),
                             expected_head=good)  # fmt: skip
    result = cinch("check")
    assert result.exit_code == 1
    assert (
        f"does not replay: branch 'main' at event {bad.id[:12]}: SQLite refuses IndexCreated:"
        " non-deterministic functions prohibited in index expressions" in result.stdout
    )
    report = json.loads(cinch("check", "--json").stdout)
    assert report["unreplayable"][0]["event"] == bad.id and report["ok"] is False
    error(
        cinch("branch", "reset", "main", "main~5"),
        "Error: Event 'main~5': the history is shorter than that",
    )
    first = json.loads(ok(cinch("log", "--json")))[-1]["id"]
    error(
        cinch("branch", "reset", "main", first[:8]),
        f"Error: Cannot reset branch 'main' to '{first[:8]}': tenant files of the branch hold"
        " events past it: main",
    )
    reset = json.loads(ok(cinch("branch", "reset", "main", "main~1", "--json")))
    assert reset == {"branch": "main", "head": good, "previous": bad.id, "events_dropped": 1}
    assert "OK: journal intact" in ok(cinch("check"))
    assert "already at" in ok(cinch("branch", "reset", "main", "main"))
    ok(cinch("index", "create", "idx_name", "users", "name"))


def test_check_shows_a_tenant_behind(users, project):
    from journal import JournalStore, parse

    cinch = users
    ok(cinch("data", "insert", "users", '{"name": "ann"}'))
    with JournalStore(project / ".cinchdb" / "metadata.db") as store:
        store.append("main", "main", parse("CREATE TABLE later (a TEXT)"),
                     expected_head=store.branch_head("main", "main"))  # fmt: skip
    assert "behind: tenant 'main' on 'main' by 1 events" in ok(cinch("check"))
